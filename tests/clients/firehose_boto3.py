#!/usr/bin/python3
"""A Firehose producer written against boto3 as any Firehose user writes one, pointed at sluiced.

    firehose_boto3.py ENDPOINT STREAM EXPECTED_OUT

Lists, describes, puts a 500-record batch (a 1,000 KiB record, an empty record and 498 small
ones) and one PutRecord, checks the error shapes boto3 turns into exceptions, and writes the
records it put (JSON list of strings) to EXPECTED_OUT for the test to compare with what was
delivered. Exit 0 and "ok" on success; anything else names what failed.
"""
import json
import sys

import boto3
import botocore.config
import botocore.exceptions

from firehose_common import expect_error

endpoint, stream, out_path = sys.argv[1:4]
client = boto3.client(
    "firehose", endpoint_url=endpoint, region_name="us-east-1",
    aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    config=botocore.config.Config(retries={"max_attempts": 1}))

names = client.list_delivery_streams(Limit=100)["DeliveryStreamNames"]
assert stream in names, names
desc = client.describe_delivery_stream(DeliveryStreamName=stream, Limit=1)["DeliveryStreamDescription"]
assert desc["DeliveryStreamName"] == stream, desc
assert desc["DeliveryStreamStatus"] == "ACTIVE", desc
assert desc["VersionId"] == "1", desc
assert len(desc["Destinations"]) == 1, desc

records = [b"big:" + b"x" * (1024000 - 4), b""] + [("boto3-%03d" % i).encode() for i in range(498)]
resp = client.put_record_batch(DeliveryStreamName=stream, Records=[{"Data": r} for r in records])
assert resp["FailedPutCount"] == 0, resp["FailedPutCount"]
assert len(resp["RequestResponses"]) == 500
assert all("RecordId" in r for r in resp["RequestResponses"])
single = client.put_record(DeliveryStreamName=stream, Record={"Data": b"boto3-single"})
assert single["RecordId"], single


expect_error("ResourceNotFoundException", client.put_record, DeliveryStreamName="no-such-stream", Record={"Data": b"x"})
expect_error("ResourceNotFoundException", client.describe_delivery_stream, DeliveryStreamName="no-such-stream")
expect_error("ValidationException", client.put_record, DeliveryStreamName=stream, Record={"Data": b"x" * 1024001})
# A stream declared in the config file is deleted there, not through the API.
expect_error("ResourceInUseException", client.delete_delivery_stream, DeliveryStreamName=stream)

with open(out_path, "w") as f:
    json.dump([r.decode() for r in records] + ["boto3-single"], f)
print("ok")
