#!/usr/bin/python3
"""The control plane as boto3 drives it: create, describe, update (with the version check),
list, put and delete a delivery stream through the Firehose API.

    firehose_boto3_control.py ENDPOINT

Prints "ok" when every call got the answer AWS would give.
"""
import sys

import boto3
import botocore.config
import botocore.exceptions

from firehose_common import expect_error

client = boto3.client("firehose", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
                      aws_secret_access_key="secret", config=botocore.config.Config(retries={"max_attempts": 1}))


s3_config = {"RoleARN": "arn:aws:iam::000000000000:role/firehose", "BucketARN": "arn:aws:s3:::made-bucket",
             "Prefix": "made/", "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
             "BufferingHints": {"SizeInMBs": 16, "IntervalInSeconds": 120}, "CompressionFormat": "GZIP"}
arn = client.create_delivery_stream(DeliveryStreamName="made", DeliveryStreamType="DirectPut",
                                    ExtendedS3DestinationConfiguration=s3_config,
                                    Tags=[{"Key": "created", "Value": "yes"}])["DeliveryStreamARN"]
assert arn.endswith("deliverystream/made"), arn
expect_error("ResourceInUseException", client.create_delivery_stream, DeliveryStreamName="made",
             ExtendedS3DestinationConfiguration=s3_config)
expect_error("InvalidArgumentException", client.create_delivery_stream, DeliveryStreamName="bad",
             ExtendedS3DestinationConfiguration=dict(s3_config, CompressionFormat="ZIP"))

d = client.describe_delivery_stream(DeliveryStreamName="made")["DeliveryStreamDescription"]
assert d["VersionId"] == "1", d
dest = d["Destinations"][0]
assert dest["DestinationId"] == "destinationId-000000000001", dest
s3 = dest["ExtendedS3DestinationDescription"]
assert s3["BucketARN"] == "arn:aws:s3:::made-bucket", s3
assert s3["Prefix"] == "made/", s3
assert s3["CompressionFormat"] == "GZIP", s3
assert s3["BufferingHints"] == {"SizeInMBs": 16, "IntervalInSeconds": 120}, s3
assert "made" in client.list_delivery_streams()["DeliveryStreamNames"]

expect_error("ConcurrentModificationException", client.update_destination, DeliveryStreamName="made",
             CurrentDeliveryStreamVersionId="7", DestinationId="destinationId-000000000001",
             ExtendedS3DestinationUpdate={"Prefix": "other/"})
client.update_destination(DeliveryStreamName="made", CurrentDeliveryStreamVersionId="1",
                          DestinationId="destinationId-000000000001", ExtendedS3DestinationUpdate={"Prefix": "other/"})
d = client.describe_delivery_stream(DeliveryStreamName="made")["DeliveryStreamDescription"]
assert d["VersionId"] == "2", d
s3 = d["Destinations"][0]["ExtendedS3DestinationDescription"]
assert s3["Prefix"] == "other/" and s3["BucketARN"] == "arn:aws:s3:::made-bucket", s3  # merged, as Firehose

# Tags: set, listed in key order with paging, removed; the version does not change.
client.tag_delivery_stream(DeliveryStreamName="made", Tags=[{"Key": "team", "Value": "data"}, {"Key": "empty", "Value": ""}])
t = client.list_tags_for_delivery_stream(DeliveryStreamName="made")
assert t["Tags"] == [{"Key": "created", "Value": "yes"}, {"Key": "empty", "Value": ""}, {"Key": "team", "Value": "data"}], t
assert t["HasMoreTags"] is False, t
t = client.list_tags_for_delivery_stream(DeliveryStreamName="made", Limit=1, ExclusiveStartTagKey="created")
assert t["Tags"] == [{"Key": "empty", "Value": ""}] and t["HasMoreTags"] is True, t
client.untag_delivery_stream(DeliveryStreamName="made", TagKeys=["empty", "not-there"])
assert [x["Key"] for x in client.list_tags_for_delivery_stream(DeliveryStreamName="made")["Tags"]] == ["created", "team"]
expect_error("InvalidArgumentException", client.tag_delivery_stream, DeliveryStreamName="made",
             Tags=[{"Key": "aws:reserved", "Value": "x"}])
client.tag_delivery_stream(DeliveryStreamName="made", Tags=[{"Key": "k%02d" % i, "Value": "v"} for i in range(48)])
expect_error("LimitExceededException", client.tag_delivery_stream, DeliveryStreamName="made",
             Tags=[{"Key": "one-too-many", "Value": "v"}])
assert client.describe_delivery_stream(DeliveryStreamName="made")["DeliveryStreamDescription"]["VersionId"] == "2"

assert client.put_record(DeliveryStreamName="made", Record={"Data": b"kept"})["RecordId"]
# Undelivered records: deleting is refused (Sluice never drops them) unless forced to the backup store.
expect_error("ResourceInUseException", client.delete_delivery_stream, DeliveryStreamName="made")
client.delete_delivery_stream(DeliveryStreamName="made", AllowForceDelete=True)
expect_error("ResourceNotFoundException", client.delete_delivery_stream, DeliveryStreamName="no-such-stream")
print("ok")
