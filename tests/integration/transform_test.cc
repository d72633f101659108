// Integration: processors (reference §5-§7) against a real transformation function
// (tests/peers/transform_function.js, a Lambda handler behind a tiny HTTP runtime that misbehaves
// on demand) and jq 1.6: every record ends where Firehose would put it: a partition's object,
// dropped, or the error output with Firehose's error record fields.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "server/encoding/base64.h"
#include "tests/support/clients.h"
#include "tests/support/delivered.h"
#include "tests/support/peer.h"
#include "tests/support/raw_socket.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::ErrorRecord;
using sluice::test::Peer;
using sluice::test::ReadErrors;
using sluice::test::TempDir;
using sluice::test::TestServer;
using sluice::test::WaitFor;
namespace fs = std::filesystem;

namespace {

// Delivered records by the first directory of their object's path ("customer=C1").
std::map<std::string, std::vector<std::string>> ByPartition(const std::string& root) {
  std::map<std::string, std::vector<std::string>> out;
  for (const std::string& file : test::DeliveredFiles(root)) {
    std::ifstream in(root + "/" + file);
    std::string line;
    while (std::getline(in, line)) out[file.substr(0, file.find('/'))].push_back(line);
  }
  return out;
}

size_t Count(const std::map<std::string, std::vector<std::string>>& m) {
  size_t n = 0;
  for (const auto& [k, v] : m) n += v.size();
  return n;
}

std::string Json(int seq, const std::string& customer, const std::string& extra = "") {
  return "{\"seq\":" + std::to_string(seq) + ",\"customer\":\"" + customer + "\"" + extra + "}";
}

struct Fixture {
  TempDir tmp;
  std::string fn_out = tmp.Sub("fn");
  std::unique_ptr<Peer> function;
  std::unique_ptr<TestServer> server;
  std::string delivered = tmp.Sub("data") + "/delivered/t";
  std::string backup = tmp.Sub("data") + "/backup/t";

  // `stream` is the [[stream]] table's body; "@FN@" is replaced by the function's URL.
  explicit Fixture(std::string stream, bool with_function = true) {
    if (with_function) {
      REQUIRE_FALSE(test::NodePath().empty());  // scripts/setup installs nodejs
      fs::create_directories(fn_out);
      function = std::make_unique<Peer>(
          std::vector<std::string>{test::NodePath(), test::SourcePath("tests/peers/transform_function.js"),
                                   tmp.Sub("fn.port"), fn_out},
          tmp.Sub("fn.port"), tmp.Sub("fn.log"));
      REQUIRE(function->Start());
      for (size_t at; (at = stream.find("@FN@")) != std::string::npos;)
        stream.replace(at, 4, "http://127.0.0.1:" + std::to_string(function->port()) + "/invoke");
    }
    std::ofstream cfg(tmp.Sub("s.toml"));
    cfg << "[[stream]]\nname = \"t\"\n" << stream;
    cfg.close();
    server = std::make_unique<TestServer>(tmp.Sub("data"), std::vector<std::string>{"--config", tmp.Sub("s.toml")});
    REQUIRE(server->Start());
  }
  void Put(const std::vector<std::string>& records) { REQUIRE(test::PutRecords(server->port(), "t", records) == 0); }
  std::string Admin(const std::string& line) { return test::AdminAsk(server->admin_port(), line + "\r\n"); }
  // A STATS value as text ("" when absent).
  std::string Stat(const std::string& name) {
    std::string r = Admin("STATS t");
    size_t at = r.find(name + "\r\n");
    if (at == std::string::npos) return "";
    at = r.find("\r\n", at + name.size() + 2);  // skip the value's $len line
    size_t end = r.find("\r\n", at + 2);
    return r.substr(at + 2, end - at - 2);
  }
  int Invocations() {
    std::ifstream in(fn_out + "/invocations.log");
    int n = 0;
    std::string line;
    while (std::getline(in, line)) n++;
    return n;
  }
};

constexpr const char* kLambda =
    "[[stream.processors]]\ntype = \"Lambda\"\nLambdaArn = \"@FN@\"\nBufferIntervalInSeconds = 1\n";
constexpr const char* kJqCustomer =
    "[[stream.processors]]\ntype = \"MetadataExtraction\"\nJsonParsingEngine = \"JQ-1.6\"\n"
    "MetadataExtractionQuery = \"{customer: .CUSTOMER}\"\n";
constexpr const char* kDelimiter = "[[stream.processors]]\ntype = \"AppendDelimiterToRecord\"\n";

}  // namespace

TEST_CASE("processors: uppercase, drop every tenth, partition by customer with jq and failures in the error output",
          "[integration][processing]") {
  Fixture f(std::string("buffering = { size_mib = 1, interval_s = 1 }\n"
                        "directory = { prefix = \"customer=!{partitionKeyFromQuery:customer}/\" }\n") +
            kLambda + "NumberOfRetries = 1\n" + kJqCustomer + kDelimiter);
  std::vector<std::string> records;
  for (int i = 1; i <= 300; i++) records.push_back(Json(i, "c" + std::to_string(i % 4)));
  records.push_back(Json(1001, "c1", ",\"fail\":true"));   // the function says ProcessingFailed
  records.push_back("not json at all");                   // jq cannot parse it
  records.push_back("{\"seq\":1003}");                     // no customer: a missing partition key
  f.Put(records);
  // 300 - 30 dropped = 270 delivered, each in its customer's partition.
  REQUIRE(WaitFor([&] { return Count(ByPartition(f.delivered)) == 270; }));
  auto parts = ByPartition(f.delivered);
  REQUIRE(parts.size() == 4);
  std::multiset<std::string> want;
  for (int i = 1; i <= 300; i++)
    if (i % 10 != 0) want.insert("{\"SEQ\":" + std::to_string(i) + ",\"CUSTOMER\":\"C" + std::to_string(i % 4) + "\"}");
  std::multiset<std::string> got;
  for (const auto& [dir, lines] : parts) {
    for (const auto& line : lines) {
      CHECK(dir == "customer=" + line.substr(line.find("\"CUSTOMER\":\"") + 12, 2));
      got.insert(line);
    }
  }
  CHECK(got == want);
  // Errors: one processing-failed (with the function's URL), two partitioning-failed.
  REQUIRE(WaitFor([&] { return ReadErrors(f.backup).size() == 3; }));
  auto errors = ReadErrors(f.backup);
  std::map<std::string, ErrorRecord> by_raw;
  for (const auto& e : errors) by_raw[e.raw] = e;
  const ErrorRecord& pf = by_raw.at(Json(1001, "c1", ",\"fail\":true"));
  CHECK(pf.type == "processing-failed");
  CHECK(pf.code == "Lambda.ProcessingFailed");
  CHECK(pf.lambda_arn.find("/invoke") != std::string::npos);
  CHECK(pf.attempts == 1);
  CHECK(pf.arrival > 1'600'000'000'000);
  CHECK(pf.ending >= pf.arrival);
  const ErrorRecord& nj = by_raw.at("not json at all");
  CHECK(nj.type == "partitioning-failed");
  CHECK(nj.code == "DynamicPartitioning.MetadataExtractionFailed");
  CHECK(nj.message.find("not JSON") != std::string::npos);
  CHECK(nj.lambda_arn.empty());
  const ErrorRecord& mk = by_raw.at("{\"seq\":1003}");
  CHECK(mk.type == "partitioning-failed");
  CHECK(mk.message.find("'customer' is null") != std::string::npos);
  // Metrics.
  CHECK(WaitFor([&] { return f.Stat("SucceedProcessing.Records") == "270"; }));  // through every processor
  CHECK(f.Stat("DroppedProcessing.Records") == "30");
  CHECK(f.Stat("FailedProcessing.Records") == "1");
  CHECK(f.Stat("FailedPartitioning.Records") == "2");
  CHECK(f.Stat("ExecuteProcessing.Success") == "1.0000");
  CHECK(f.Stat("DeliveryToDirectory.Records") == "270");
  CHECK(WaitFor([&] { return f.Stat("PartitionCount") == "0"; }));  // all delivered: none active
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("processors: every malformed or failed answer of the function is retried, then backed up with its code",
          "[integration][processing]") {
  Fixture f(std::string("buffering = { size_mib = 1, interval_s = 0 }\n") + kLambda +
            "NumberOfRetries = 1\nTimeoutInSeconds = 1\n" + kDelimiter);
  const std::vector<std::pair<std::string, std::string>> modes = {
      {"garbage", "Lambda.JsonProcessingException"}, {"omit", "Lambda.MissingRecordId"},
      {"duplicate", "Lambda.DuplicatedRecordId"},    {"unknown", "Lambda.UnknownRecordId"},
      {"badbase64", "Lambda.InvalidBase64"},         {"status500", "Lambda.ServiceException"},
      {"throttle", "Lambda.InvokeLimitExceeded"},    {"function-error", "Lambda.FunctionError"},
      {"huge", "Lambda.ResponseTooLarge"},           {"late", "Lambda.Timeout"}};
  size_t delivered = 0;
  SECTION("once: the retry succeeds") {
    for (const auto& [mode, code] : modes) {
      INFO(mode);
      REQUIRE(test::SetPeerMode(f.function->port(), mode, 1));
      f.Put({"{\"seq\":1,\"m\":\"" + mode + "\"}", "{\"seq\":2,\"m\":\"" + mode + "\"}"});
      delivered += 2;
      REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == delivered; }));
      CHECK(f.server->log().find(code) != std::string::npos);
    }
    CHECK(ReadErrors(f.backup).empty());
  }
  SECTION("always: the records go to processing-failed with the code") {
    for (const auto& [mode, code] : modes) {
      if (mode == "late" || mode == "huge") continue;  // slow ones: covered by the section above
      INFO(mode);
      REQUIRE(test::SetPeerMode(f.function->port(), mode));
      size_t before = ReadErrors(f.backup).size();
      f.Put({"{\"seq\":3,\"m\":\"" + mode + "\"}"});
      REQUIRE(WaitFor([&] { return ReadErrors(f.backup).size() == before + 1; }));
      auto errors = ReadErrors(f.backup);
      auto it = std::find_if(errors.begin(), errors.end(), [&](const ErrorRecord& e) { return e.raw.find(mode) != std::string::npos; });
      REQUIRE(it != errors.end());
      CHECK(it->type == "processing-failed");
      CHECK(it->code == code);
      CHECK(it->attempts == 2);  // NumberOfRetries = 1
    }
    CHECK(test::DeliveredRecords(f.delivered).empty());
    CHECK(f.Stat("ExecuteProcessing.Success") == "0.0000");
  }
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("processors: jq on nested JSON, missing keys, deep JSON, a failing program and bad queries are refused",
          "[integration][processing][jq]") {
  Fixture f("buffering = { size_mib = 1, interval_s = 0 }\nappend_delimiter = true\n"
            "directory = { prefix = \"k=!{partitionKeyFromQuery:k}/n=!{partitionKeyFromQuery:n}/\" }\n"
            "[[stream.processors]]\ntype = \"MetadataExtraction\"\nJsonParsingEngine = \"JQ-1.6\"\n"
            "MetadataExtractionQuery = \"{k: .a.b.c, n: (.n | tonumber)}\"\n",
            false);
  std::string deep = std::string(300, '[') + std::string(300, ']');
  f.Put({"{\"a\":{\"b\":{\"c\":\"x\"}},\"n\":\"1\"}", "{\"a\":{\"b\":{\"c\":\"y\"}},\"n\":2}",
         "{\"a\":{\"b\":{}},\"n\":1}",                              // k missing
         "{\"a\":{\"b\":{\"c\":\"x\"}},\"n\":\"not a number\"}",   // tonumber fails: a jq error
         deep,                                                      // deeper than jq's 256
         "{\"a\":{\"b\":{\"c\":\"x/../../..\"}},\"n\":1}",         // would escape the directory
         "{\"a\":{\"b\":{\"c\":[1]}},\"n\":1}"});                   // not a scalar
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == 2 && ReadErrors(f.backup).size() == 5; }));
  auto files = test::DeliveredFiles(f.delivered);
  REQUIRE(files.size() == 2);
  CHECK(files[0].rfind("k=x/n=1/t-1-", 0) == 0);
  CHECK(files[1].rfind("k=y/n=2/t-1-", 0) == 0);
  std::map<std::string, std::string> why;
  for (const auto& e : ReadErrors(f.backup)) {
    CHECK(e.type == "partitioning-failed");
    why[e.raw.substr(0, 40)] = e.message;
  }
  CHECK(why["{\"a\":{\"b\":{}},\"n\":1}"].find("'k' is null") != std::string::npos);
  CHECK(why["{\"a\":{\"b\":{\"c\":\"x\"}},\"n\":\"not a number\"}"].find("jq error") != std::string::npos);
  CHECK(why[deep.substr(0, 40)].find("depth") != std::string::npos);
  CHECK(why["{\"a\":{\"b\":{\"c\":\"x/../../..\"}},\"n\":1}"].find("'..' segment") != std::string::npos);
  CHECK(why["{\"a\":{\"b\":{\"c\":[1]}},\"n\":1}"].find("not a string") != std::string::npos);
  CHECK(f.Stat("JQProcessing.Duration") != "");

  // Configuration time: a query that does not compile is refused with jq's message.
  std::string r = f.Admin("STREAM CREATE bad processors.MetadataExtraction.JsonParsingEngine JQ-1.6 "
                          "processors.MetadataExtraction.MetadataExtractionQuery \"{k: .a | }\"");
  CHECK(r.rfind("-ERR", 0) == 0);
  CHECK(r.find("does not compile") != std::string::npos);
  CHECK(r.find("syntax error") != std::string::npos);
  r = f.Admin("STREAM CREATE bad2 directory.prefix \"x=!{partitionKeyFromQuery:x}/\"");
  CHECK(r.find("no MetadataExtraction processor") != std::string::npos);
  r = f.Admin("STREAM CREATE bad3 processors.Lambda.LambdaArn ftp://x");
  CHECK(r.find("LambdaArn must be") != std::string::npos);
  r = f.Admin("STREAM CREATE bad4 processors.Nope on");
  CHECK(r.find("unknown processor type 'Nope'") != std::string::npos);
  // A good one through the admin port, de-aggregating concatenated JSON.
  r = f.Admin("STREAM CREATE good processors.RecordDeAggregation.SubRecordType JSON processors.AppendDelimiterToRecord on "
              "buffering.interval_s 0");
  CHECK(r.rfind("+OK", 0) == 0);
  REQUIRE(test::PutRecords(f.server->port(), "good", {"{\"a\":1}{\"a\":2} {\"a\":3}", "{\"a\":4}"}) == 0);
  std::string good = f.tmp.Sub("data") + "/delivered/good";
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(good).size() == 4; }));
  auto recs = test::DeliveredRecords(good);
  std::sort(recs.begin(), recs.end());
  CHECK(recs == std::vector<std::string>{"{\"a\":1}", "{\"a\":2}", "{\"a\":3}", "{\"a\":4}"});
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("processors: partitions beyond the active-partition limit go to activePartitionExceeded",
          "[integration][processing]") {
  Fixture f("buffering = { size_mib = 1, interval_s = 900 }\nactive_partition_limit = 3\nappend_delimiter = true\n"
            "directory = { prefix = \"c=!{partitionKeyFromQuery:c}/\" }\n"
            "[[stream.processors]]\ntype = \"MetadataExtraction\"\nJsonParsingEngine = \"JQ-1.6\"\n"
            "MetadataExtractionQuery = \"{c: .c}\"\n",
            false);
  std::vector<std::string> records;
  for (int i = 0; i < 50; i++) records.push_back("{\"c\":\"p" + std::to_string(i % 5) + "\",\"i\":" + std::to_string(i) + "}");
  f.Put(records);
  // The 900 s interval keeps the partitions open (active) while the records arrive.
  REQUIRE(WaitFor([&] { return ReadErrors(f.backup).size() == 20; }));
  CHECK(f.Stat("PartitionCount") == "3");
  CHECK(f.Stat("PartitionCountExceeded") == "1");
  std::set<std::string> refused;
  for (const auto& e : ReadErrors(f.backup)) {
    CHECK(e.type == "activePartitionExceeded");
    CHECK(e.code == "DynamicPartitioning.ActivePartitionExceeded");
    refused.insert(e.raw.substr(0, 10));
  }
  CHECK(refused.size() == 2);  // two whole partitions
  // FLUSH delivers the three open ones; afterwards none is active and new ones may start.
  CHECK(f.Admin("FLUSH t").rfind("+OK", 0) == 0);
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == 30; }));
  CHECK(WaitFor([&] { return f.Stat("PartitionCount") == "0"; }));
  f.Put({"{\"c\":\"late\"}"});
  CHECK(f.Admin("FLUSH t").rfind("+OK", 0) == 0);
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == 31; }));
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("processors: keys from the function's metadata and open partitions survive kill -9",
          "[integration][processing]") {
  Fixture f(std::string("buffering = { size_mib = 1, interval_s = 900 }\n"
                        "directory = { prefix = \"region=!{partitionKeyFromLambda:region}/\" }\n") +
            kLambda + kDelimiter);
  std::vector<std::string> records;
  for (int i = 1; i <= 40; i++)
    records.push_back("{\"seq\":" + std::to_string(i) + ",\"region\":\"" + (i % 2 ? "eu" : "us") + "\"}");
  f.Put(records);
  // Processed into two open partitions (900 s interval), then the server dies.
  REQUIRE(WaitFor([&] { return f.Stat("PartitionCount") == "2" && f.Stat("SucceedProcessing.Records") == "36"; }));
  f.server->Kill();
  int invocations = f.Invocations();
  REQUIRE(f.server->Start());
  // The open partitions of the previous run are delivered at start, without a second invocation.
  REQUIRE(WaitFor([&] { return Count(ByPartition(f.delivered)) == 36; }));
  auto parts = ByPartition(f.delivered);
  CHECK(parts["region=eu"].size() == 20);  // the odd seqs
  CHECK(parts["region=us"].size() == 16);  // the even ones but 10, 20, 30 and 40 (dropped)
  CHECK(f.Invocations() == invocations);
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("processors: a transformed stream delivers to an HTTP endpoint", "[integration][processing][http]") {
  TempDir peer_tmp;
  std::string received = peer_tmp.Sub("received");
  fs::create_directories(received);
  Peer receiver({test::NodePath(), test::SourcePath("tests/peers/http_endpoint_receiver.js"), peer_tmp.Sub("r.port"), received},
                peer_tmp.Sub("r.port"), peer_tmp.Sub("r.log"));
  REQUIRE(receiver.Start());
  Fixture f(std::string("destination = \"http\"\nbuffering = { size_mib = 1, interval_s = 0 }\n") + kLambda +
            "[stream.http]\nurl = \"http://127.0.0.1:" + std::to_string(receiver.port()) + "/\"\n");
  f.Put({"{\"seq\":1}", "{\"seq\":10}", "{\"seq\":2}"});
  auto lines = [&] {
    std::ifstream in(received + "/received.jsonl");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all;
  };
  REQUIRE(WaitFor([&] { return lines().find("SEQ\\\":2") != std::string::npos && lines().find("SEQ\\\":1}") != std::string::npos; }));
  CHECK(lines().find("SEQ\\\":10") == std::string::npos);  // dropped by the function
  CHECK(WaitFor([&] { return f.Stat("DeliveryToHttpEndpoint.Records") == "2"; }));  // moves just after the 200
  CHECK(f.server->Stop() == 0);
}
