#!/usr/bin/python3
"""SigV4 as boto3 signs it, against a sluiced with [[access_key]] entries.

    firehose_boto3_auth.py ENDPOINT PRODUCER_ID PRODUCER_SECRET ADMIN_ID ADMIN_SECRET

The producer key may put to and describe stream "api" only; the admin key may do anything.
Prints "ok" when every call got the answer AWS would give.
"""
import sys

import boto3
import botocore.config
import botocore.exceptions

from firehose_common import expect_error

endpoint, producer_id, producer_secret, admin_id, admin_secret = sys.argv[1:6]


def client(key_id, secret):
    return boto3.client("firehose", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id=key_id,
                        aws_secret_access_key=secret, config=botocore.config.Config(retries={"max_attempts": 1}))


producer = client(producer_id, producer_secret)
admin = client(admin_id, admin_secret)
r = producer.put_record_batch(DeliveryStreamName="api", Records=[{"Data": b"signed-1"}, {"Data": b"signed-2"}])
assert r["FailedPutCount"] == 0, r
assert producer.describe_delivery_stream(DeliveryStreamName="api")["DeliveryStreamDescription"]["DeliveryStreamName"] == "api"
# The producer sees only its streams; the admin key sees them all.
assert producer.list_delivery_streams()["DeliveryStreamNames"] == ["api"]
assert admin.list_delivery_streams()["DeliveryStreamNames"] == ["api", "other"]
expect_error("AccessDeniedException", producer.put_record, DeliveryStreamName="other", Record={"Data": b"x"})
expect_error("AccessDeniedException", producer.describe_delivery_stream, DeliveryStreamName="other")
expect_error("AccessDeniedException", producer.delete_delivery_stream, DeliveryStreamName="api")
expect_error("AccessDeniedException", producer.create_delivery_stream, DeliveryStreamName="new")
admin.put_record(DeliveryStreamName="other", Record={"Data": b"admin-1"})
# Wrong secret, unknown key.
expect_error("InvalidSignatureException", client(producer_id, producer_secret + "x").put_record,
             DeliveryStreamName="api", Record={"Data": b"x"})
expect_error("UnrecognizedClientException", client("AKIDUNKNOWNUNKNOWN00", "s").put_record,
             DeliveryStreamName="api", Record={"Data": b"x"})
print("ok")
