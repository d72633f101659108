// The Firehose API's bodies: operation names, PutRecord/PutRecordBatch parsing and limits,
// ListDeliveryStreams pagination, DescribeDeliveryStream's shape.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include "server/config.h"
#include "server/encoding/base64.h"
#include "server/http/firehose_api.h"
#include "server/http/sigv4.h"

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
  CHECK(ParseOperation("Firehose_20150804.CreateDeliveryStream") == Operation::kCreateDeliveryStream);
  CHECK(ParseOperation("Firehose_20150804.TagDeliveryStream") == Operation::kTagDeliveryStream);
  CHECK(ParseOperation("Firehose_20150804.StartDeliveryStreamEncryption") == Operation::kNotServed);
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

TEST_CASE("Firehose API: access keys name their streams and operations", "[server][firehose_api]") {
  AccessKey k;
  k.id = "AKIDEXAMPLE000000001";
  k.secret = "s";
  k.streams = {"logs-*", "clicks"};
  CHECK(k.Allows("PutRecordBatch"));
  CHECK(k.Allows("DescribeDeliveryStream"));
  CHECK_FALSE(k.Allows("DeleteDeliveryStream"));
  CHECK_FALSE(k.Allows("NotAnOperation"));
  CHECK(k.MayUse("logs-eu"));
  CHECK(k.MayUse("clicks"));
  CHECK_FALSE(k.MayUse("clicks2"));
  k.operations = {"manage"};
  CHECK(k.Allows("CreateDeliveryStream"));
  CHECK_FALSE(k.Allows("PutRecord"));

  ServerConfig cfg;
  REQUIRE(LoadConfigText("[[access_key]]\nid = \"short\"\nsecret = \"s\"\n", "t.toml", &cfg).ok());
  CHECK(cfg.Validate().message() == "t.toml:1: access_key id 'short' must be 16..128 characters of [A-Za-z0-9_-]");
  cfg = ServerConfig();
  REQUIRE(LoadConfigText("[[access_key]]\nid = \"AKIDEXAMPLE000000001\"\nsecret = \"s\"\noperations = [\"putt\"]\n",
                         "t.toml", &cfg).ok());
  CHECK(cfg.Validate().message().find("unknown operation 'putt'") != std::string::npos);
  cfg = ServerConfig();
  REQUIRE(LoadConfigText("http_bind = \"0.0.0.0\"\n", "t.toml", &cfg).ok());
  CHECK(cfg.Validate().message().find("configure [[access_key]] entries") != std::string::npos);
  cfg = ServerConfig();
  REQUIRE(LoadConfigText("http_bind = \"0.0.0.0\"\n[[access_key]]\nid = \"AKIDEXAMPLE000000001\"\nsecret = \"s\"\n",
                         "t.toml", &cfg).ok());
  CHECK(cfg.Validate().ok());
}

TEST_CASE("Firehose API: SigV4 signatures verify, and each failure is named as AWS names it", "[server][firehose_api]") {
  AccessKey key;
  key.id = "AKIDEXAMPLE000000001";
  key.secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  std::vector<AccessKey> keys = {key};
  const int64_t now = 1796046000000;  // 20261130T134000Z, the request's x-amz-date
  std::vector<std::pair<std::string, std::string>> headers = {{"host", "h:7412"}, {"x-amz-date", "20261130T134000Z"},
                                                              {"x-amz-target", "Firehose_20150804.PutRecord"}};
  std::string body = "{\"DeliveryStreamName\":\"s\",\"Record\":{\"Data\":\"\"}}";
  http::SignedRequest r{"POST", "/", &headers, body};
  std::string auth = sluice::proto::SignFirehoseRequest(key.id, key.secret, "us-east-1", r);
  headers.emplace_back("authorization", auth);
  http::ApiError e;
  CHECK(http::VerifySigV4(r, keys, now, &e) == &keys[0]);
  CHECK(http::VerifySigV4(r, keys, now + 6 * 60 * 1000, &e) == nullptr);
  CHECK(e.message == "Signature expired: 20261130T134000Z is now earlier than 20261130T134100Z (20261130T134600Z - 5 min.)");
  std::string other = body + " ";
  http::SignedRequest changed{"POST", "/", &headers, other};
  CHECK(http::VerifySigV4(changed, keys, now, &e) == nullptr);
  CHECK(e.type == "InvalidSignatureException");
  headers.back().second = auth.substr(0, auth.size() - 1) + (auth.back() == '0' ? "1" : "0");
  CHECK(http::VerifySigV4(r, keys, now, &e) == nullptr);
  CHECK(e.type == "InvalidSignatureException");
  headers.back().second = "AWS4-HMAC-SHA256 Credential=AKIDNOPE/20261130/us-east-1/firehose/aws4_request, "
                          "SignedHeaders=host;x-amz-date, Signature=00";
  CHECK(http::VerifySigV4(r, keys, now, &e) == nullptr);
  CHECK(e.type == "UnrecognizedClientException");
  headers.back().second = "AWS4-HMAC-SHA256 Credential=" + key.id + "/20261130/us-east-1/firehose/aws4_request, "
                          "SignedHeaders=x-amz-date, Signature=00";
  CHECK(http::VerifySigV4(r, keys, now, &e) == nullptr);
  CHECK(e.message == "SignedHeaders must include host and x-amz-date");
  headers.back().second = "Basic dXNlcjpwYXNz";
  CHECK(http::VerifySigV4(r, keys, now, &e) == nullptr);
  CHECK(e.type == "IncompleteSignatureException");
  headers.pop_back();
  CHECK(http::VerifySigV4(r, keys, now, &e) == nullptr);
  CHECK(e.type == "MissingAuthenticationTokenException");
}

TEST_CASE("Firehose API: DataFormatConversionConfiguration maps to the conversion settings and back", "[server][firehose_api]") {
  const std::string body =
      R"({"DeliveryStreamName":"p","ExtendedS3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::bucket",)"
      R"("RoleARN":"arn:aws:iam::1:role/r","BufferingHints":{"SizeInMBs":64,"IntervalInSeconds":60},)"
      R"("DataFormatConversionConfiguration":{"Enabled":true,"SchemaConfiguration":{"Columns":"id bigint, Tags array<string>"},)"
      R"("InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{"CaseInsensitive":true,)"
      R"("ColumnToJsonKeyMappings":{"id":"ID"}}}},"OutputFormatConfiguration":{"Serializer":{"ParquetSerDe":)"
      R"({"Compression":"GZIP","PageSizeBytes":131072,"WriterVersion":"V2"}}}}}})";
  ControlInput in;
  REQUIRE_FALSE(ParseCreateInput(body, &in));
  auto text = ApplyStreamSettings("", "p", in.settings);
  REQUIRE(text.ok());
  ServerConfig server;
  server.data_dir = "/tmp/d";
  auto cfg = ParseStreamConfig(text.value(), "", server);
  INFO(text.value() << cfg.status().ToString());
  REQUIRE(cfg.ok());
  const ConversionConfig& c = cfg.value().conversion;
  CHECK(c.on());
  CHECK(c.compression == "gzip");
  CHECK(c.page_size_bytes == 131072);
  CHECK(c.writer_version == "v2");
  CHECK(c.column_to_json_key_mappings.at("id") == "ID");

  StreamInfo s;
  s.name = "p";
  s.id = 1;
  s.version = 1;
  s.cfg = std::make_shared<StreamConfig>(std::move(cfg).value());
  StreamRegistry registry;
  registry.Put(s);
  std::string out;
  REQUIRE_FALSE(DescribeDeliveryStream("{\"DeliveryStreamName\":\"p\"}", *registry.Current(), &out));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(out).get(doc) == simdjson::SUCCESS);
  auto dfc = doc["DeliveryStreamDescription"]["Destinations"].at(0)["ExtendedS3DestinationDescription"]
                ["DataFormatConversionConfiguration"];
  CHECK(bool(dfc["Enabled"].get_bool()));
  CHECK(std::string_view(dfc["SchemaConfiguration"]["Columns"].get_string()) == "id bigint, tags array<string>");
  CHECK(std::string_view(dfc["OutputFormatConfiguration"]["Serializer"]["ParquetSerDe"]["Compression"].get_string()) == "GZIP");
  CHECK(std::string_view(dfc["InputFormatConfiguration"]["Deserializer"]["OpenXJsonSerDe"]["ColumnToJsonKeyMappings"]["id"]
                             .get_string()) == "ID");

  // A Glue table cannot be resolved; ORC is not written.
  ControlInput bad;
  std::string glue = body;
  glue.replace(glue.find(R"("Columns":"id bigint, Tags array<string>")"), 41, R"("TableName":"t","DatabaseName":"d")");
  auto e = ParseCreateInput(glue, &bad);
  REQUIRE(e);
  CHECK(e->message.find("Glue") != std::string::npos);
  std::string orc = body;
  orc.replace(orc.find(R"("ParquetSerDe")"), 14, R"("OrcSerDe")");
  e = ParseCreateInput(orc, &bad);
  REQUIRE(e);
  CHECK(e->message.find("ORC") != std::string::npos);
}
