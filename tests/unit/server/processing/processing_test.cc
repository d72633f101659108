// Processors: spec parsing, base64, de-aggregation, the Lambda response validator, jq, the
// partition prefix, and the partition buffers' atomic hand-over against a real Store.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "server/config.h"
#include "server/delivery/object_key.h"
#include "server/delivery/partitions.h"
#include "server/encoding/base64.h"
#include "server/processing/deaggregate.h"
#include "server/processing/jq_extractor.h"
#include "server/processing/lambda.h"
#include "server/processing/spec.h"
#include "storage/store.h"
#include "tests/support/temp_dir.h"

using namespace sluice;
using namespace sluice::server;

TEST_CASE("processing: base64 is strict", "[server][processing]") {
  CHECK(Base64Encode("Hello World") == "SGVsbG8gV29ybGQ=");
  CHECK(Base64Decode("SGVsbG8gV29ybGQ=") == std::optional<std::string>("Hello World"));
  CHECK(Base64Decode("") == std::optional<std::string>(""));
  CHECK(Base64Decode("IyMjIw==") == std::optional<std::string>("####"));
  for (const char* bad : {"SGVsbG8", "SGV=sbG8", "SGVsbG8g\nV29y", "SGVs*G8=", "S===", "====", "SGVsbG8gV29ybGQ=AAAA"})
    CHECK_FALSE(Base64Decode(bad).has_value());
  std::string all;
  for (int i = 0; i < 256; i++) all.push_back(static_cast<char>(i));
  CHECK(Base64Decode(Base64Encode(all)) == std::optional<std::string>(all));
}

TEST_CASE("processing: processor parameters are checked with Firehose's names", "[server][processing]") {
  auto parse = [](std::vector<ProcessorConfig> ps) {
    ProcessingSpec spec;
    base::Status st = ParseProcessors(ps, &spec);
    return std::make_pair(st, spec);
  };
  auto [ok, spec] = parse({{"Lambda", {{"LambdaArn", "http://127.0.0.1:9/f"}, {"BufferSizeInMBs", "0.2"}, {"NumberOfRetries", "0"}}},
                           {"MetadataExtraction", {{"MetadataExtractionQuery", "{c: .c}"}, {"JsonParsingEngine", "JQ-1.6"}}},
                           {"RecordDeAggregation", {{"SubRecordType", "DELIMITED"}, {"Delimiter", "IyMjIw=="}}},
                           {"AppendDelimiterToRecord", {}}});
  REQUIRE(ok.ok());
  CHECK(spec.lambda_url == "http://127.0.0.1:9/f");
  CHECK(spec.lambda_buffer_bytes == uint64_t(0.2 * (1 << 20)));
  CHECK(spec.lambda_retries == 0);
  CHECK(spec.lambda_interval_s == 60);
  CHECK(spec.delimiter == "####");
  CHECK(spec.append_delimiter);
  CHECK(spec.staged());
  auto error = [&](std::vector<ProcessorConfig> ps) { return parse(std::move(ps)).first.message(); };
  CHECK(error({{"Lambda", {{"LambdaArn", "arn:aws:lambda:x"}}}}).find("LambdaArn must be") != std::string::npos);
  CHECK(error({{"Lambda", {{"LambdaArn", "http://x"}, {"BufferSizeInMBs", "4"}}}}).find("0.2..3") != std::string::npos);
  CHECK(error({{"Lambda", {{"LambdaArn", "http://x"}, {"NumberOfRetries", "1.5"}}}}).find("integer") != std::string::npos);
  CHECK(error({{"Lambda", {{"LambdaArn", "http://x"}, {"Bogus", "1"}}}}).find("unknown parameter 'Bogus'") != std::string::npos);
  CHECK(error({{"MetadataExtraction", {{"MetadataExtractionQuery", "{c: .c}"}, {"JsonParsingEngine", "JQ-1.5"}}}})
            .find("JQ-1.6") != std::string::npos);
  CHECK(error({{"MetadataExtraction", {{"MetadataExtractionQuery", "{c: .c |}"}, {"JsonParsingEngine", "JQ-1.6"}}}})
            .find("does not compile") != std::string::npos);
  CHECK(error({{"RecordDeAggregation", {{"SubRecordType", "DELIMITED"}}}}).find("Delimiter") != std::string::npos);
  CHECK(error({{"AppendDelimiterToRecord", {}}, {"AppendDelimiterToRecord", {}}}).find("twice") != std::string::npos);
  CHECK(error({{"Decompression", {}}}).find("unknown processor type") != std::string::npos);
}

TEST_CASE("processing: config file processors and the admin keys that set them", "[server][processing][config]") {
  ServerConfig server;
  auto text = ApplyStreamSettings("", "s",
                                  {{"processors.MetadataExtraction.MetadataExtractionQuery", "{c: .c}"},
                                   {"processors.MetadataExtraction.JsonParsingEngine", "JQ-1.6"},
                                   {"processors.AppendDelimiterToRecord", "on"},
                                   {"directory.prefix", "c=!{partitionKeyFromQuery:c}/"},
                                   {"active_partition_limit", "7"}});
  REQUIRE(text.ok());
  auto cfg = ParseStreamConfig(text.value(), "t", server);
  REQUIRE(cfg.ok());
  CHECK(cfg->processing.jq_query == "{c: .c}");
  CHECK(cfg->append_delimiter);
  CHECK(cfg->partitioned());
  CHECK(cfg->active_partition_limit == 7);
  CHECK(cfg->source_interval_ms() == 0);  // no Lambda: processed as soon as sealed
  // Off again; the prefix now references a key nothing produces.
  auto off = ApplyStreamSettings(text.value(), "s", {{"processors.MetadataExtraction", "off"}});
  REQUIRE(off.ok());
  auto bad = ParseStreamConfig(off.value(), "t", server);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("no MetadataExtraction processor") != std::string::npos);
  CHECK_FALSE(ApplyStreamSettings("", "s", {{"processors.Lambda", "maybe"}}).ok());
  CHECK_FALSE(ApplyStreamSettings("", "s", {{"processors.Lambda.type", "x"}}).ok());
  // random-string cannot name a partition's object (the prefix is evaluated before buffering).
  auto random = ApplyStreamSettings(text.value(), "s", {{"directory.prefix", "!{firehose:random-string}/"}});
  REQUIRE(random.ok());
  CHECK(ParseStreamConfig(random.value(), "t", server).status().message().find("random-string") != std::string::npos);
  // Error prefixes take no partition keys.
  auto errp = ApplyStreamSettings(text.value(), "s", {{"backup.error_output_prefix", "!{firehose:error-output-type}/!{partitionKeyFromQuery:c}/"}});
  REQUIRE(errp.ok());
  CHECK(ParseStreamConfig(errp.value(), "t", server).status().message().find("not allowed in an error prefix") != std::string::npos);
}

TEST_CASE("processing: de-aggregation of concatenated JSON and delimited records", "[server][processing]") {
  using D = ProcessingSpec::DeAggregation;
  std::vector<std::string_view> out;
  REQUIRE(DeAggregate(D::kJson, "", R"({"a":"}{"} {"b":[1,{"c":2}]}
{"d":"\"}"})", &out).ok());
  REQUIRE(out.size() == 3);
  CHECK(out[0] == R"({"a":"}{"})");
  CHECK(out[1] == R"({"b":[1,{"c":2}]})");
  CHECK(out[2] == R"({"d":"\"}"})");
  out.clear();
  CHECK_FALSE(DeAggregate(D::kJson, "", R"({"a":1} [1])", &out).ok());
  CHECK_FALSE(DeAggregate(D::kJson, "", R"({"a":1}{"b":)", &out).ok());
  CHECK_FALSE(DeAggregate(D::kJson, "", R"({"a":[1}})", &out).ok());
  CHECK(out.empty());  // nothing half-appended
  REQUIRE(DeAggregate(D::kDelimited, "##", "a##b####c##", &out).ok());
  CHECK(out == std::vector<std::string_view>{"a", "b", "c"});
  out.clear();
  std::string many;
  for (int i = 0; i < 501; i++) many += "{}";
  CHECK(DeAggregate(D::kJson, "", many, &out).message().find("500") != std::string::npos);
}

TEST_CASE("processing: the Lambda response is validated in full", "[server][processing][lambda]") {
  std::vector<std::string> ids = {"s-0", "s-1", "s-2"};
  std::vector<LambdaOutput> out;
  LambdaFailure f;
  std::string good = R"({"records":[
    {"recordId":"s-2","result":"Dropped"},
    {"recordId":"s-0","result":"Ok","data":"SGk=","metadata":{"partitionKeys":{"c":"x","y":"2024"}}},
    {"recordId":"s-1","result":"ProcessingFailed","data":"SGk="}]})";
  REQUIRE(ParseLambdaResponse(good, ids, &out, &f));
  CHECK(out[0].result == LambdaOutput::Result::kOk);
  CHECK(out[0].data == "Hi");
  CHECK(out[0].keys == PartitionKeys{{"c", "x"}, {"y", "2024"}});
  CHECK(out[1].result == LambdaOutput::Result::kProcessingFailed);
  CHECK(out[2].result == LambdaOutput::Result::kDropped);
  auto code = [&](const std::string& body) {
    LambdaFailure failure;
    CHECK_FALSE(ParseLambdaResponse(body, ids, &out, &failure));
    return failure.code;
  };
  const std::string ok0 = R"({"recordId":"s-0","result":"Ok","data":"SGk="})";
  const std::string ok1 = R"({"recordId":"s-1","result":"Ok","data":"SGk="})";
  const std::string ok2 = R"({"recordId":"s-2","result":"Ok","data":"SGk="})";
  CHECK(code("nope") == "Lambda.JsonProcessingException");
  CHECK(code(R"({"records":{}})") == "Lambda.JsonProcessingException");
  CHECK(code(R"({"records":[1]})") == "Lambda.JsonProcessingException");
  CHECK(code("{\"records\":[" + ok0 + "," + ok1 + "]}") == "Lambda.MissingRecordId");
  CHECK(code("{\"records\":[" + ok0 + "," + ok1 + "," + ok2 + "," + ok0 + "]}") == "Lambda.DuplicatedRecordId");
  CHECK(code(R"({"records":[{"recordId":"zz","result":"Ok","data":""}]})") == "Lambda.UnknownRecordId");
  CHECK(code(R"({"records":[{"result":"Ok","data":""}]})") == "Lambda.MissingRecordId");
  CHECK(code(R"({"records":[{"recordId":"s-0","result":"Fine","data":""}]})") == "Lambda.InvalidResult");
  CHECK(code(R"({"records":[{"recordId":"s-0","result":"Ok","data":"%%%"}]})") == "Lambda.InvalidBase64");
  CHECK(code(R"({"records":[{"recordId":"s-0","result":"Ok"}]})") == "Lambda.InvalidBase64");
  CHECK(code(R"({"records":[{"recordId":"s-0","result":"Ok","data":"","metadata":{"partitionKeys":{"a":1}}}]})") ==
        "Lambda.InvalidPartitionKeys");
  CHECK(code("{\"records\":[" + ok0 + "," + ok1 + "," + ok2 + "]} trailing") == "Lambda.JsonProcessingException");
  // The HTTP layer around it.
  HttpResponse r;
  r.status = 0;
  r.timed_out = true;
  CHECK_FALSE(ClassifyLambdaResponse(r, ids, &out, &f));
  CHECK(f.code == "Lambda.Timeout");
  CHECK(f.unavailable);  // slows the stream to one probe at a time
  r = HttpResponse{};
  r.status = 503;
  CHECK_FALSE(ClassifyLambdaResponse(r, ids, &out, &f));
  CHECK(f.code == "Lambda.ServiceException");
  CHECK(f.unavailable);
  r.status = 200;
  r.body = "garbage";
  CHECK_FALSE(ClassifyLambdaResponse(r, ids, &out, &f));
  CHECK(f.code == "Lambda.JsonProcessingException");
  CHECK_FALSE(f.unavailable);  // it answered: up, but wrong
  r = HttpResponse{};
  r.status = 200;
  r.headers = {{"x-amz-function-error", "Unhandled"}};
  r.body = good;
  CHECK_FALSE(ClassifyLambdaResponse(r, ids, &out, &f));
  CHECK(f.code == "Lambda.FunctionError");
  // The event: Firehose's field names; data in base64.
  std::vector<LambdaInput> in = {{"Hi", 1664028820148}};
  std::string event = EncodeLambdaEvent("inv-1", "arn:x", "local", in, std::vector<std::string>{"s-0"});
  CHECK(event == R"({"invocationId":"inv-1","deliveryStreamArn":"arn:x","region":"local","records":[{"recordId":"s-0","approximateArrivalTimestamp":1664028820148,"data":"SGk="}]})");
}

TEST_CASE("processing: jq extracts scalar keys and explains what it cannot", "[server][processing][jq]") {
  JqExtractor jq("{customer: .customer.id, year: (.ts | strftime(\"%Y\")), n: .n, ok: .ok}");
  auto keys = jq.Extract(R"({"customer":{"id":"acme"},"ts":1700000000,"n":1.5,"ok":true})");
  REQUIRE(keys.ok());
  CHECK(keys.value() == PartitionKeys{{"customer", "acme"}, {"year", "2023"}, {"n", "1.5"}, {"ok", "true"}});
  CHECK(jq.Extract("{").status().message().find("not JSON") != std::string::npos);
  CHECK(jq.Extract(R"({"ts":1})").status().message().find("'customer' is null") != std::string::npos);
  CHECK(jq.Extract(R"({"customer":{"id":"a"},"ts":"x"})").status().message().find("jq error") != std::string::npos);
  JqExtractor not_object(".a");
  CHECK(not_object.Extract(R"({"a":1})").status().message().find("not an object") != std::string::npos);
  JqExtractor empty("empty");
  CHECK(empty.Extract("{}").status().message() == "no output");
  std::string query = "{";
  for (int i = 0; i < 51; i++) query += (i ? ",k" : "k") + std::to_string(i) + ": 1";
  JqExtractor wide(query + "}");
  CHECK(wide.Extract("{}").status().message().find("more than 50") != std::string::npos);
  CHECK(CheckJqQuery("{a: .a").message().find("does not compile") != std::string::npos);
  // The same extractor from several threads (a pool of compiled states).
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; t++)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; i++)
        good += jq.Extract(R"({"customer":{"id":"c"},"ts":0,"n":1,"ok":false})").ok();
    });
  for (auto& t : threads) t.join();
  CHECK(good == 800);
}

TEST_CASE("processing: partition prefixes need their keys and stay inside the destination", "[server][processing]") {
  std::string tmpl = "c=!{partitionKeyFromQuery:c}/r=!{partitionKeyFromLambda:r}/!{timestamp:yyyy}/";
  REQUIRE(ValidatePrefix(tmpl, false).ok());
  PrefixKeys keys = ReferencedKeys(tmpl);
  CHECK(keys.query == std::set<std::string>{"c"});
  CHECK(keys.lambda == std::set<std::string>{"r"});
  PartitionKeys q{{"c", "acme"}}, l{{"r", "eu"}};
  PrefixContext ctx{1565384109123, "seg", "", &q, &l};
  CHECK(EvaluatePartitionPrefix(tmpl, ctx).value() == "c=acme/r=eu/2019/");
  PartitionKeys none;
  ctx.lambda_keys = &none;
  CHECK(EvaluatePartitionPrefix(tmpl, ctx).status().message().find("'r' is missing") != std::string::npos);
  ctx.lambda_keys = &l;
  for (const char* bad : {"../x", "a/../../b", ".", "a\nb"}) {
    PartitionKeys evil{{"c", bad}};
    ctx.query_keys = &evil;
    CHECK_FALSE(EvaluatePartitionPrefix("!{partitionKeyFromQuery:c}/", ctx).ok());
  }
  CHECK_FALSE(ValidatePrefix("!{partitionKeyFromQuery:}/", false).ok());
}

TEST_CASE("processing: partitions hand records over atomically and seal by size, age and limit",
          "[server][processing][partitions]") {
  test::TempDir tmp;
  auto store = storage::Store::Open({tmp.Sub("db")});
  REQUIRE(store.ok());
  storage::Store* s = store->get();
  // A source segment with one chunk, as a shard writes it.
  auto put_source = [&](uint64_t seq) {
    storage::WriteBatch b(s);
    storage::ChunkBuilder c;
    c.Start(1000);
    c.Add(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("x"), 1));
    b.PutChunk({1, 0, seq}, c.Finish());
    storage::SegmentDescriptor d;
    d.stream_id = 1;
    d.first_seq = d.last_seq = seq;
    d.record_count = 1;
    d.oldest_arrival_ms = 1000;
    b.PutSegment(d);
    REQUIRE(s->Write(&b, true).ok());
    return d;
  };
  Partitions parts(s, 1);
  auto no_errors = [](const std::vector<size_t>& exceeded) { return base::Status::Ok(); };
  std::vector<storage::SegmentDescriptor> sealed;
  auto src = put_source(1);
  std::vector<Partitions::Record> recs = {{"a/", "1", 1000}, {"b/", "22", 1001}, {"a/", "333", 1002}};
  REQUIRE(parts.Commit(src, recs, 1, 10, 1 << 20, 2000, no_errors, &sealed).ok());
  CHECK(sealed.empty());
  CHECK(parts.active() == 2);
  // The source is gone, the partitions' descriptors cover their records (crash-safe).
  std::map<std::string, storage::SegmentDescriptor> by_prefix;
  REQUIRE(s->ForEachSegment([&](const storage::SegmentDescriptor& d) {
    by_prefix[d.partition.empty() ? "<source>" : d.partition] = d;
    return base::Status::Ok();
  }).ok());
  REQUIRE(by_prefix.size() == 2);
  CHECK(by_prefix["a/"].record_count == 2);
  CHECK(by_prefix["a/"].bytes == 4);
  CHECK(by_prefix["a/"].is_partition());
  // The limit: a third prefix is refused while two are active (limit 2), and an error from the
  // error output aborts the whole commit.
  auto src2 = put_source(2);
  std::vector<Partitions::Record> more = {{"c/", "x", 1000}, {"a/", "y", 1000}};
  std::vector<size_t> refused;
  CHECK_FALSE(parts.Commit(src2, more, 1, 2, 1 << 20, 2000,
                           [&](const std::vector<size_t>& e) { refused = e; return base::IOError("backup down"); },
                           &sealed).ok());
  CHECK(refused == std::vector<size_t>{0});
  CHECK(parts.active() == 2);
  REQUIRE(parts.Commit(src2, more, 1, 2, 1 << 20, 2000, no_errors, &sealed).ok());
  // Age: sealed once the oldest record is interval old; a new version seals the old buffer.
  parts.SealDue(2000, 5000, false, &sealed);
  CHECK(sealed.empty());
  parts.SealDue(7000, 5000, false, &sealed);
  CHECK(sealed.size() == 2);
  CHECK(parts.active() == 2);  // sealed but not delivered: still active
  for (const auto& d : sealed) parts.Done(d);
  CHECK(parts.active() == 0);
  // Size: a partition reaching the hint is sealed in the commit.
  sealed.clear();
  auto src3 = put_source(3);
  std::vector<Partitions::Record> big = {{"a/", std::string_view("0123456789"), 1000}};
  REQUIRE(parts.Commit(src3, big, 1, 2, 8, 2000, no_errors, &sealed).ok());
  REQUIRE(sealed.size() == 1);
  CHECK(sealed[0].first_seq > by_prefix["a/"].last_seq);  // the slot's sequence only grows
}
