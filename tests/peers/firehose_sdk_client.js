// A Firehose producer written against the AWS SDK for JavaScript v3, as any Firehose user
// writes one, pointed at sluiced's Firehose API port.
//
//   node firehose_sdk_client.js ENDPOINT KEY_ID SECRET STREAM EXPECTED_OUT
//
// Lists, describes (Limit 1, as Vector's health check), puts 500 records (a 1,000 KiB one, an
// empty one) and one more, creates and force-deletes a stream, checks the errors the SDK raises
// (unknown stream, wrong secret), and writes the records it put (JSON list of strings) to
// EXPECTED_OUT. Prints "ok" and exits 0 on success.
"use strict";
const fs = require("fs");
const {
  FirehoseClient, ListDeliveryStreamsCommand, DescribeDeliveryStreamCommand, PutRecordBatchCommand,
  PutRecordCommand, CreateDeliveryStreamCommand, DeleteDeliveryStreamCommand,
} = require("@aws-sdk/client-firehose");

const [endpoint, keyId, secret, stream, out] = process.argv.slice(2);
const client = (s) => new FirehoseClient({
  endpoint, region: "us-east-1", maxAttempts: 1, credentials: { accessKeyId: keyId, secretAccessKey: s },
});
const firehose = client(secret);
const enc = new TextEncoder();

async function expectError(name, promise) {
  try {
    await promise;
  } catch (e) {
    if (e.name !== name) throw new Error(`expected ${name}, got ${e.name}: ${e.message}`);
    return;
  }
  throw new Error(`expected ${name}`);
}

(async () => {
  const names = (await firehose.send(new ListDeliveryStreamsCommand({ Limit: 100 }))).DeliveryStreamNames;
  if (!names.includes(stream)) throw new Error(`list: ${names}`);
  const d = (await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: stream, Limit: 1 })))
    .DeliveryStreamDescription;
  if (d.DeliveryStreamName !== stream || d.DeliveryStreamStatus !== "ACTIVE") throw new Error(JSON.stringify(d));
  if (!(d.CreateTimestamp instanceof Date)) throw new Error("CreateTimestamp is not a date");

  const records = ["big:" + "x".repeat(1024000 - 4), ""];
  for (let i = 0; i < 498; i++) records.push(`js-${i}`);
  const r = await firehose.send(new PutRecordBatchCommand({
    DeliveryStreamName: stream, Records: records.map((s) => ({ Data: enc.encode(s) })),
  }));
  if (r.FailedPutCount !== 0 || r.RequestResponses.length !== 500) throw new Error(JSON.stringify(r).slice(0, 300));
  const one = await firehose.send(new PutRecordCommand({ DeliveryStreamName: stream, Record: { Data: enc.encode("js-single") } }));
  if (!one.RecordId) throw new Error("no RecordId");
  records.push("js-single");

  await expectError("ResourceNotFoundException",
    firehose.send(new PutRecordCommand({ DeliveryStreamName: "no-such-stream", Record: { Data: enc.encode("x") } })));
  await expectError("InvalidSignatureException",
    client(secret + "x").send(new PutRecordCommand({ DeliveryStreamName: stream, Record: { Data: enc.encode("x") } })));

  const made = await firehose.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: "js-made", DeliveryStreamType: "DirectPut",
    ExtendedS3DestinationConfiguration: { RoleARN: "arn:aws:iam::0:role/x", BucketARN: "arn:aws:s3:::js-bucket" },
  }));
  if (!made.DeliveryStreamARN.endsWith("/js-made")) throw new Error(made.DeliveryStreamARN);
  await firehose.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: "js-made", AllowForceDelete: true }));

  fs.writeFileSync(out, JSON.stringify(records));
  console.log("ok");
})().catch((e) => {
  console.error(e.stack || e);
  process.exit(1);
});
