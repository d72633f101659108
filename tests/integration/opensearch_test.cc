// Integration: the opensearch destination against tests/peers/bulk_server.js, a strict `_bulk`
// endpoint written from the Bulk API's documentation (OpenSearch and Elasticsearch cannot be
// installed here): documents equal to the records with stable ids in rotated indices, refused
// documents in the backup store with the server's error, retryable ones resent alone, the
// server down or answering garbage, and Basic authentication.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "server/delivery/destinations/opensearch/opensearch_destination.h"
#include "tests/support/clients.h"
#include "tests/support/delivered.h"
#include "tests/support/http_exchange.h"
#include "tests/support/peer.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::Peer;
using sluice::test::TempDir;
using sluice::test::TestServer;
using sluice::test::WaitFor;

namespace {

struct Doc {
  std::string index, id, source;
};

struct BulkFixture {
  TempDir tmp;
  std::string out;
  std::unique_ptr<Peer> peer;
  std::unique_ptr<TestServer> server;

  explicit BulkFixture(const std::string& credentials = "") : credentials_(credentials) {
    out = tmp.Sub("bulk");
    std::filesystem::create_directories(out);
    StartPeer(0);
  }
  // `port` 0: any free port; else that one (a restart where sluiced expects it).
  void StartPeer(uint16_t port) {
    std::filesystem::remove(tmp.Sub("bulk.port"));
    peer = std::make_unique<Peer>(std::vector<std::string>{test::NodePath(), test::SourcePath("tests/peers/bulk_server.js"),
                                                           tmp.Sub("bulk.port"), out, credentials_, std::to_string(port)},
                                  tmp.Sub("bulk.port"), tmp.Sub("bulk.log"));
    REQUIRE(peer->Start());
  }
  std::string credentials_;
  void StartSluiced(const std::string& settings, const std::string& extra = "") {
    std::ofstream(tmp.Sub("s.toml")) << "[[stream]]\nname = \"docs\"\ndestination = \"opensearch\"\nretry_duration_s = 600\n"
                                        "buffering = { size_mib = 1, interval_s = 1 }\n"
                                     << extra << "[stream.opensearch]\nendpoint = \"http://127.0.0.1:" << peer->port()
                                     << "\"\n" << settings;
    server = std::make_unique<TestServer>(tmp.Sub("data"), std::vector<std::string>{"--config", tmp.Sub("s.toml")});
    REQUIRE(server->Start());
  }
  // The last version of each document the peer indexed, by index/id.
  std::map<std::string, Doc> Docs() {
    std::map<std::string, Doc> docs;
    std::ifstream in(out + "/documents.jsonl");
    std::string line;
    simdjson::dom::parser parser;
    while (std::getline(in, line)) {
      simdjson::dom::element e;
      if (parser.parse(line).get(e) != simdjson::SUCCESS) continue;
      Doc d{std::string(std::string_view(e["index"])), std::string(std::string_view(e["id"])),
            std::string(std::string_view(e["source"]))};
      docs[d.index + "/" + d.id] = d;
    }
    return docs;
  }
  std::vector<std::string> Requests() {
    std::vector<std::string> lines;
    std::ifstream in(out + "/requests.log");
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }
  double Metric(const std::string& series) { return test::ScrapeMetric(server->http_port(), series); }
};

std::vector<std::string> Json(int from, int to, const std::string& extra = "") {
  std::vector<std::string> out;
  for (int i = from; i < to; i++) out.push_back("{\"n\":" + std::to_string(i) + extra + "}");
  return out;
}

}  // namespace

TEST_CASE("OpenSearch: index names rotate on the arrival time as Firehose names them", "[integration][opensearch]") {
  const int64_t t = 1456405200000;  // 2016-02-25T13:00:00Z, Firehose's example
  CHECK(server::RotatedIndexName("myindex", server::IndexRotation::kOneHour, t) == "myindex-2016-02-25-13");
  CHECK(server::RotatedIndexName("myindex", server::IndexRotation::kOneDay, t) == "myindex-2016-02-25");
  // Thursday 2016-02-25: Sunday-first weeks from the week of January 1st (Fri) make it week 9.
  CHECK(server::RotatedIndexName("myindex", server::IndexRotation::kOneWeek, t) == "myindex-2016-w09");
  CHECK(server::RotatedIndexName("myindex", server::IndexRotation::kOneMonth, t) == "myindex-2016-02");
  CHECK(server::RotatedIndexName("myindex", server::IndexRotation::kNoRotation, t) == "myindex");
  // US weeks: Sunday first; the week holding January 1st is week 1 of its year, even in December.
  CHECK(server::RotatedIndexName("i", server::IndexRotation::kOneWeek, 1546128000000) == "i-2019-w01");  // Sun 2018-12-30
  CHECK(server::RotatedIndexName("i", server::IndexRotation::kOneWeek, 1546041600000) == "i-2018-w52");  // Sat 2018-12-29
  CHECK(server::RotatedIndexName("i", server::IndexRotation::kOneWeek, 1514764800000) == "i-2018-w01");  // Mon 2018-01-01
  CHECK(server::RotatedIndexName("i", server::IndexRotation::kOneWeek, 1483142400000) == "i-2016-w53");  // Sat 2016-12-31
  // A bulk answer that does not match the request is not believed.
  std::vector<int> outcome;
  std::vector<std::string> messages;
  std::string error;
  CHECK_FALSE(server::ParseBulkResponse("{\"items\":[{\"index\":{\"status\":201}}]}", 2, &outcome, &messages, &error));
  CHECK(error == "the bulk answer has 1 items for 2 documents");
  CHECK_FALSE(server::ParseBulkResponse("{\"items\":[{\"index\":{}}]}", 1, &outcome, &messages, &error));
  CHECK_FALSE(server::ParseBulkResponse("<html>", 1, &outcome, &messages, &error));
  REQUIRE(server::ParseBulkResponse("{\"items\":[{\"index\":{\"status\":201}},{\"index\":{\"status\":429}},"
                                    "{\"create\":{\"status\":400,\"error\":{\"type\":\"t\",\"reason\":\"r\"}}}]}",
                                    3, &outcome, &messages, &error));
  CHECK(outcome == std::vector<int>{0, 1, 2});
  CHECK(messages[2] == "400 t: r");
}

TEST_CASE("OpenSearch: records become documents with stable ids, refused ones go to the backup store with the server's error",
          "[integration][opensearch]") {
  if (test::NodePath().empty()) SLUICE_SKIP("Node.js is not installed (scripts/setup installs it)");
  BulkFixture f;
  f.StartSluiced("index = \"logs\"\nindex_rotation = \"OneDay\"\n");
  REQUIRE(test::SetPeerMode(f.peer->port(), "fail-doc=poison"));
  auto records = Json(0, 1500);
  records[10] = "{\"n\":10,\"poison\":true}";
  records[20] = "{\"n\":20,\n\"two lines\":true}";  // cannot be a bulk source line
  REQUIRE(test::PutRecords(f.server->port(), "docs", records) == 0);
  REQUIRE(WaitFor([&] { return f.Docs().size() == 1498; }));
  const std::string backup = f.server->data_dir() + "/backup/docs";
  REQUIRE(WaitFor([&] { return test::ReadErrors(backup).size() == 2; }));
  std::map<std::string, test::ErrorRecord> by_raw;
  for (const auto& e : test::ReadErrors(backup)) by_raw[e.raw] = e;
  CHECK(by_raw.at(records[10]).code == "OpenSearch.DocumentFailed");
  CHECK(by_raw.at(records[10]).message == "400 mapper_parsing_exception: failed to parse field [value] of type [long]");
  CHECK(by_raw.at(records[10]).type == "opensearch-failed");
  CHECK(by_raw.at(records[20]).code == "OpenSearch.InvalidDocument");
  // Each document once, in today's index, with the id <segment id>.<n>.
  std::set<std::string> sources;
  for (const auto& [key, d] : f.Docs()) {
    CHECK(d.index.rfind("logs-20", 0) == 0);
    CHECK(d.index.size() == 15);  // logs-yyyy-mm-dd
    CHECK(d.id.find('.') == 28);  // the 28 hex digits of the segment id
    sources.insert(d.source);
  }
  CHECK(sources.size() == 1498);
  CHECK(sources.count("{\"n\":1499}") == 1);
  REQUIRE(WaitFor([&] {
    return f.Metric("sluice_delivery_records_total{stream=\"docs\",destination=\"AmazonOpenSearchService\"}") == 1498;
  }));
  CHECK(f.Metric("sluice_delivery_rejected_records_total{stream=\"docs\",destination=\"AmazonOpenSearchService\"}") == 2);
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("OpenSearch: documents answered 429 are resent alone, and a server down, answering 503, garbage or too few items loses nothing",
          "[integration][opensearch]") {
  if (test::NodePath().empty()) SLUICE_SKIP("Node.js is not installed (scripts/setup installs it)");
  BulkFixture f;
  f.StartSluiced("index = \"logs\"\nindex_rotation = \"NoRotation\"\n");
  // The first request: documents with "busy" get 429; the others are indexed once, and only the
  // busy ones go again.
  REQUIRE(test::SetPeerMode(f.peer->port(), "retry-doc=busy", 1));
  auto records = Json(0, 100);
  for (int i : {3, 30, 60}) records[i] = "{\"n\":" + std::to_string(i) + ",\"busy\":1}";
  REQUIRE(test::PutRecords(f.server->port(), "docs", records) == 0);
  REQUIRE(WaitFor([&] { return f.Docs().size() == 100; }));
  // The peer writes a request's documents before its log line: wait for the line too.
  REQUIRE(WaitFor([&] { return f.Requests().size() >= 2; }));
  auto requests = f.Requests();
  CHECK(requests[0] == "200 100 retry-doc=busy");
  CHECK(requests[1] == "200 3 ok");  // the three busy documents, alone
  // Whole-request failures, each then healed: every document arrives.
  for (const char* mode : {"503", "429", "garbage", "short"}) {
    INFO(mode);
    REQUIRE(test::SetPeerMode(f.peer->port(), mode, 1));
    const size_t before = f.Docs().size();
    REQUIRE(test::PutRecords(f.server->port(), "docs", Json(static_cast<int>(before), static_cast<int>(before) + 50)) == 0);
    REQUIRE(WaitFor([&] { return f.Docs().size() == before + 50; }));
  }
  CHECK(f.Metric("sluice_delivery_retries_total{stream=\"docs\",destination=\"AmazonOpenSearchService\"}") >= 5);
  CHECK(f.server->log().find("the bulk answer has 49 items for 50 documents") != std::string::npos);
  // The server gone (connections refused), then back on its port.
  const uint16_t port = f.peer->port();
  const size_t before = f.Docs().size();
  f.peer->Stop();
  REQUIRE(test::PutRecords(f.server->port(), "docs", Json(1000, 1100)) == 0);
  REQUIRE(WaitFor([&] { return f.server->log().find("OpenSearch.ConnectionFailed") != std::string::npos; }));
  f.StartPeer(port);
  REQUIRE(WaitFor([&] { return f.Docs().size() == before + 100; }, std::chrono::seconds(60)));
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("OpenSearch: Basic authentication, and a wrong password is retried, not lost", "[integration][opensearch]") {
  if (test::NodePath().empty()) SLUICE_SKIP("Node.js is not installed (scripts/setup installs it)");
  BulkFixture f("elastic:changeme");
  f.StartSluiced("index = \"auth\"\nusername = \"elastic\"\npassword = \"wrong\"\n");
  REQUIRE(test::PutRecords(f.server->port(), "docs", Json(0, 10)) == 0);
  REQUIRE(WaitFor([&] { return f.server->log().find("OpenSearch answered 401") != std::string::npos; }));
  CHECK(f.Docs().empty());
  const std::string describe = test::AdminAsk(f.server->admin_port(), "STREAM DESCRIBE docs\r\n");
  CHECK(describe.find("wrong") == std::string::npos);
  // The fix, at run time: the waiting segment goes with the next attempt.
  REQUIRE(test::AdminAsk(f.server->admin_port(), "STREAM UPDATE docs opensearch.password changeme\r\n").find("-ERR") ==
          std::string::npos);
  REQUIRE(WaitFor([&] { return f.Docs().size() == 10; }, std::chrono::seconds(60)));
  CHECK(test::AdminAsk(f.server->admin_port(), "STREAM CREATE x destination opensearch opensearch.endpoint http://h "
                                               "opensearch.index Upper\r\n")
            .find("must be lower case") != std::string::npos);
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("OpenSearch: kill -9 of sluiced during delivery loses nothing, and REPLAY indexes refused documents after a fix",
          "[integration][opensearch][crash]") {
  if (test::NodePath().empty()) SLUICE_SKIP("Node.js is not installed (scripts/setup installs it)");
  BulkFixture f;
  f.StartSluiced("index = \"crash\"\nindex_rotation = \"NoRotation\"\n");
  std::set<std::string> acked;
  for (int round = 0; round < 3; round++) {
    auto records = Json(round * 3000, round * 3000 + 3000);
    if (test::PutRecords(f.server->port(), "docs", records) == 0) acked.insert(records.begin(), records.end());
    std::this_thread::sleep_for(std::chrono::milliseconds(700 + 400 * round));  // mid-delivery
    f.server->Kill();
    REQUIRE(f.server->Start());
  }
  // At least once, and with stable ids each document is there once.
  REQUIRE(WaitFor([&] {
    std::set<std::string> sources;
    for (const auto& [key, d] : f.Docs()) sources.insert(d.source);
    for (const auto& a : acked)
      if (!sources.count(a)) return false;
    return true;
  }, std::chrono::seconds(60)));
  CHECK(f.Docs().size() == acked.size());

  // A document the server refuses until its mapping is fixed: backed up, then replayed.
  REQUIRE(test::SetPeerMode(f.peer->port(), "fail-doc=strict"));
  REQUIRE(test::PutRecords(f.server->port(), "docs", {"{\"strict\":1}"}) == 0);
  const std::string backup = f.server->data_dir() + "/backup/docs";
  REQUIRE(WaitFor([&] { return test::ReadErrors(backup).size() == 1; }));
  REQUIRE(test::SetPeerMode(f.peer->port(), "ok"));
  REQUIRE(test::AdminAsk(f.server->admin_port(), "REPLAY docs\r\n").rfind("+OK replaying", 0) == 0);
  REQUIRE(WaitFor([&] {
    for (const auto& [key, d] : f.Docs())
      if (d.source == "{\"strict\":1}") return true;
    return false;
  }));
  CHECK(f.server->Stop() == 0);
}
