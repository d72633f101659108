// The Firehose API's bodies: operation names, PutRecord/PutRecordBatch parsing and limits,
// ListDeliveryStreams pagination, DescribeDeliveryStream's shape.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include "server/config.h"
#include "server/encoding/base64.h"
#include "server/http/firehose_api.h"

using namespace sluice::server;
using namespace sluice::server::http;

namespace {
std::string Batch(const std::vector<std::string>& records, std::string_view stream = "s") {
  std::string b = "{\"DeliveryStreamName\":\"" + std::string(stream) + "\",\"Records\":[";
  for (size_t i = 0; i < records.size(); i++)
    b += std::string(i ? "," : "") + "{\"Data\":\"" + Base64Encode(records[i]) + "\"}";
  return b + "]}";
}
StreamSetPtr Streams(const std::vector<std::string>& names) {
  StreamRegistry registry;
  uint32_t id = 1;
  for (const std::string& n : names) {
    StreamInfo s;
    s.name = n;
    s.id = id++;
    auto cfg = std::make_shared<StreamConfig>();
    cfg->name = n;
    s.cfg = cfg;
    registry.Put(std::move(s));
  }
  return registry.Current();
}
}  // namespace

TEST_CASE("Firehose API: operations are read from X-Amz-Target", "[server][firehose_api]") {
  CHECK(ParseOperation("Firehose_20150804.PutRecordBatch") == Operation::kPutRecordBatch);
  CHECK(ParseOperation("Firehose_20150804.PutRecord") == Operation::kPutRecord);
  CHECK(ParseOperation("Firehose_20150804.ListDeliveryStreams") == Operation::kListDeliveryStreams);
  CHECK(ParseOperation("Firehose_20150804.CreateDeliveryStream") == Operation::kNotServed);
  CHECK(ParseOperation("Firehose_20150804.putrecord") == Operation::kUnknown);
  CHECK(ParseOperation("Kinesis_20131202.PutRecord") == Operation::kUnknown);
  CHECK(ParseOperation("") == Operation::kUnknown);
}

TEST_CASE("Firehose API: PutRecordBatch bodies are decoded and held to Firehose's limits", "[server][firehose_api]") {
  PutInput in;
  REQUIRE_FALSE(ParsePutInput(Batch({"a", "", std::string(1024000, 'x')}), true, &in));
  CHECK(in.stream == "s");
  REQUIRE(in.count() == 3);
  CHECK(in.record(0) == "a");
  CHECK(in.record(1).empty());
  CHECK(in.record(2).size() == 1024000);

  auto err = ParsePutInput(Batch({std::string(1024001, 'x')}), true, &in);
  REQUIRE(err);
  CHECK(err->type == "ValidationException");
  CHECK(err->message == "1 validation error detected: Value '<1024001 bytes>' at 'records.1.member.data' failed to "
                        "satisfy constraint: Member must have length less than or equal to 1024000");
  std::vector<std::string> many(501, "r");
  CHECK(ParsePutInput(Batch(many), true, &in)->message.find("'<501 records>' at 'records'") != std::string::npos);
  std::vector<std::string> big(5, std::string(1000000, 'y'));
  err = ParsePutInput(Batch(big), true, &in);
  REQUIRE(err);
  CHECK(err->type == "InvalidArgumentException");
  CHECK(ParsePutInput("{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"YQ\"}]}", true, &in)->type ==
        "SerializationException");
  CHECK(ParsePutInput("{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":1}]}", true, &in)->type ==
        "SerializationException");
  CHECK(ParsePutInput("{\"DeliveryStreamName\":\"s\",\"Records\":[{}]}", true, &in)->message ==
        "1 validation error detected: Value 'null' at 'records.1.member.data' failed to satisfy constraint: Member "
        "must not be null");
  CHECK(ParsePutInput("{\"Records\":[]}", true, &in)->message.find("at 'DeliveryStreamName'") != std::string::npos);
  CHECK(ParsePutInput(Batch({"a"}, std::string(65, 'n')), true, &in)->type == "ValidationException");
  CHECK(ParsePutInput("{\"DeliveryStreamName\":\"s\",\"Records\":{}}", true, &in)->type == "SerializationException");
  CHECK(ParsePutInput("not json", true, &in)->type == "SerializationException");
  CHECK(ParsePutInput("", true, &in)->type == "ValidationException");  // "{}": no name

  REQUIRE_FALSE(ParsePutInput("{\"DeliveryStreamName\":\"s\",\"Record\":{\"Data\":\"aGk=\"}}", false, &in));
  REQUIRE(in.count() == 1);
  CHECK(in.record(0) == "hi");
  CHECK(ParsePutInput("{\"DeliveryStreamName\":\"s\"}", false, &in)->message.find("at 'record'") != std::string::npos);
}

TEST_CASE("Firehose API: ListDeliveryStreams pages by name", "[server][firehose_api]") {
  StreamSetPtr streams = Streams({"c", "a", "b"});
  const StreamSet& set = *streams;
  std::string out;
  REQUIRE_FALSE(ListDeliveryStreams("{\"Limit\":2}", set, &out));
  CHECK(out == "{\"DeliveryStreamNames\":[\"a\",\"b\"],\"HasMoreDeliveryStreams\":true}");
  REQUIRE_FALSE(ListDeliveryStreams("{\"Limit\":2,\"ExclusiveStartDeliveryStreamName\":\"b\"}", set, &out));
  CHECK(out == "{\"DeliveryStreamNames\":[\"c\"],\"HasMoreDeliveryStreams\":false}");
  REQUIRE_FALSE(ListDeliveryStreams("{\"DeliveryStreamType\":\"KinesisStreamAsSource\"}", set, &out));
  CHECK(out == "{\"DeliveryStreamNames\":[],\"HasMoreDeliveryStreams\":false}");
  CHECK(ListDeliveryStreams("{\"Limit\":0}", set, &out)->type == "ValidationException");
  CHECK(ListDeliveryStreams("{\"DeliveryStreamType\":\"Other\"}", set, &out)->type == "ValidationException");
}

TEST_CASE("Firehose API: DescribeDeliveryStream has the shape the SDKs parse", "[server][firehose_api]") {
  ServerConfig server;
  server.data_dir = "/tmp/d";
  auto cfg = ParseStreamConfig("name = \"h\"\ndestination = \"http\"\n[http]\nurl = \"https://e/x\"\naccess_key = \"k\"\n"
                               "common_attributes = { team = \"data\" }\n", "t", server);
  REQUIRE(cfg.ok());
  StreamInfo s;
  s.name = "h";
  s.id = 1;
  s.version = 3;
  s.created_ms = 1700000000123;
  s.updated_ms = 1700000001000;
  s.cfg = std::make_shared<StreamConfig>(std::move(cfg).value());
  StreamRegistry registry;
  registry.Put(s);
  const StreamSet& set = *registry.Current();
  std::string out;
  REQUIRE_FALSE(DescribeDeliveryStream("{\"DeliveryStreamName\":\"h\",\"Limit\":1}", set, &out));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(out).get(doc) == simdjson::SUCCESS);
  auto d = doc["DeliveryStreamDescription"];
  CHECK(std::string_view(d["DeliveryStreamName"].get_string()) == "h");
  CHECK(std::string_view(d["VersionId"].get_string()) == "3");
  CHECK(double(d["CreateTimestamp"].get_double()) == Approx(1700000000.123));
  auto dest = d["Destinations"].at(0)["HttpEndpointDestinationDescription"];
  CHECK(std::string_view(dest["EndpointConfiguration"]["Url"].get_string()) == "https://e/x");
  CHECK(dest["EndpointConfiguration"]["AccessKey"].error() == simdjson::NO_SUCH_FIELD);  // secrets never
  CHECK(std::string_view(dest["RequestConfiguration"]["ContentEncoding"].get_string()) == "none");
  CHECK(std::string_view(dest["RequestConfiguration"]["CommonAttributes"].at(0)["AttributeName"].get_string()) == "team");
  CHECK(int64_t(dest["RetryOptions"]["DurationInSeconds"].get_int64()) == 300);
  auto missing = DescribeDeliveryStream("{\"DeliveryStreamName\":\"x\"}", set, &out);
  REQUIRE(missing);
  CHECK(missing->type == "ResourceNotFoundException");
}
