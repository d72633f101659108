// Integration: the splunk destination against tests/peers/hec_server.js, a strict HTTP Event
// Collector written from Splunk's documentation (Splunk cannot be installed here): events equal
// to the records on the raw and event endpoints, each request's ack id confirmed through
// /services/collector/ack, an event HEC refuses in the backup store with HEC's text, an ack never
// confirmed sent again, a busy or hanging collector and a wrong token retried, not lost.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>
#include <sstream>

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

constexpr const char* kToken = "11111111-2222-3333-4444-555555555555";

struct HecFixture {
  TempDir tmp;
  std::string out;
  std::unique_ptr<Peer> peer;
  std::unique_ptr<TestServer> server;

  HecFixture() {
    out = tmp.Sub("hec");
    std::filesystem::create_directories(out);
    peer = std::make_unique<Peer>(std::vector<std::string>{test::NodePath(), test::SourcePath("tests/peers/hec_server.js"),
                                                           tmp.Sub("hec.port"), out, kToken},
                                  tmp.Sub("hec.port"), tmp.Sub("hec.log"));
    REQUIRE(peer->Start());
  }
  void StartSluiced(const std::string& settings) {
    std::ofstream(tmp.Sub("s.toml")) << "[[stream]]\nname = \"ev\"\ndestination = \"splunk\"\nretry_duration_s = 600\n"
                                        "buffering = { size_mib = 1, interval_s = 1 }\n[stream.splunk]\nendpoint = \"http://127.0.0.1:"
                                     << peer->port() << "\"\n" << settings;
    server = std::make_unique<TestServer>(tmp.Sub("data"), std::vector<std::string>{"--config", tmp.Sub("s.toml")});
    REQUIRE(server->Start());
  }
  // Every indexed event, as the collector's JSON text of it ("\"a line\"" or "{...}").
  std::multiset<std::string> Events() {
    std::multiset<std::string> events;
    std::ifstream in(out + "/events.jsonl");
    simdjson::dom::parser parser;
    for (std::string line; std::getline(in, line);) {
      simdjson::dom::element e;
      if (parser.parse(line).get(e) != simdjson::SUCCESS) continue;
      std::string_view s;
      if (e["event"].get_string().get(s) == simdjson::SUCCESS) events.insert(std::string(s));
      else events.insert(simdjson::minify(e["event"]));
    }
    return events;
  }
  std::string Requests() {
    std::ifstream in(out + "/requests.log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  double Metric(const std::string& series) { return test::ScrapeMetric(server->http_port(), series); }
};

std::vector<std::string> Lines(int from, int to, const std::string& prefix = "line ") {
  std::vector<std::string> out;
  for (int i = from; i < to; i++) out.push_back(prefix + std::to_string(i));
  return out;
}

}  // namespace

TEST_CASE("Splunk HEC: raw and event records are indexed once each, after their acks are confirmed", "[integration][splunk]") {
  if (test::NodePath().empty()) SLUICE_SKIP("Node.js is not installed (scripts/setup installs it)");
  HecFixture f;
  // The collector appends the events before its request log line: wait for the line too.
  SECTION("raw") {
    f.StartSluiced(std::string("token = \"") + kToken + "\"\nendpoint_type = \"Raw\"\n");
    const auto records = Lines(0, 2000);
    REQUIRE(test::PutRecords(f.server->port(), "ev", records) == 0);
    REQUIRE(WaitFor([&] { return f.Events().size() == 2000; }));
    CHECK(f.Events() == std::multiset<std::string>(records.begin(), records.end()));
    CHECK(WaitFor([&] { return f.Requests().find("/services/collector/raw 200") != std::string::npos; }));
  }
  SECTION("event") {
    f.StartSluiced(std::string("token = \"") + kToken + "\"\nendpoint_type = \"Event\"\n");
    std::vector<std::string> records = {"{\"event\":{\"user\":\"ada\",\"n\":1},\"sourcetype\":\"app\"}", "plain text \"quoted\"",
                                        "{\"no_event_member\":true}"};
    REQUIRE(test::PutRecords(f.server->port(), "ev", records) == 0);
    REQUIRE(WaitFor([&] { return f.Events().size() == 3; }));
    CHECK(f.Events() == std::multiset<std::string>{"{\"user\":\"ada\",\"n\":1}", "plain text \"quoted\"",
                                                   "{\"no_event_member\":true}"});
    CHECK(WaitFor([&] { return f.Requests().find("/services/collector/event 200") != std::string::npos; }));
  }
  // Delivered only once the ack query confirmed the request's ack id.
  REQUIRE(WaitFor([&] { return f.Metric("sluice_delivery_objects_total{stream=\"ev\",destination=\"Splunk\"}") >= 1; }));
  CHECK(f.Requests().find(" ack query") != std::string::npos);
  CHECK(test::AdminAsk(f.server->admin_port(), "STATS ev\r\n").find("DeliveryToSplunk.Records") != std::string::npos);
  CHECK(test::AdminAsk(f.server->admin_port(), "STREAM DESCRIBE ev\r\n").find(kToken) == std::string::npos);
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("Splunk HEC: a refused event goes to the backup store with HEC's text, an unconfirmed ack is sent again, busy and hanging collectors lose nothing",
          "[integration][splunk]") {
  if (test::NodePath().empty()) SLUICE_SKIP("Node.js is not installed (scripts/setup installs it)");
  HecFixture f;
  f.StartSluiced(std::string("token = \"") + kToken + "\"\nendpoint_type = \"Event\"\nack_timeout_s = 2\nrequest_timeout_s = 2\n");
  // One event HEC refuses: it is backed up, the rest are indexed (the ones before it may be twice:
  // HEC indexed them before refusing, and the request goes again without the refused one).
  REQUIRE(test::SetPeerMode(f.peer->port(), "fail-event=poison", 1));
  auto records = Lines(0, 100, "ev ");
  records[40] = "poison pill";
  REQUIRE(test::PutRecords(f.server->port(), "ev", records) == 0);
  const std::string backup = f.server->data_dir() + "/backup/ev";
  REQUIRE(WaitFor([&] { return test::ReadErrors(backup).size() == 1; }));
  const auto errors = test::ReadErrors(backup);
  CHECK(errors[0].raw == "poison pill");
  CHECK(errors[0].code == "Splunk.InvalidDataFormat");
  CHECK(errors[0].message.find("Invalid data format (code 6)") != std::string::npos);
  CHECK(errors[0].type == "splunk-failed");
  REQUIRE(WaitFor([&] {
    auto e = f.Events();
    for (int i = 0; i < 100; i++)
      if (i != 40 && e.count("ev " + std::to_string(i)) == 0) return false;
    return e.count("poison pill") == 0;
  }));
  // An ack never confirmed (the indexer lost the events): after ack_timeout_s they go again.
  REQUIRE(test::SetPeerMode(f.peer->port(), "drop-ack", 1));
  REQUIRE(test::PutRecords(f.server->port(), "ev", Lines(0, 50, "lost ")) == 0);
  REQUIRE(WaitFor([&] {
    auto e = f.Events();
    for (int i = 0; i < 50; i++)
      if (e.count("lost " + std::to_string(i)) != 1) return false;
    return true;
  }));
  CHECK(f.server->log().find("Splunk.AckTimeout") != std::string::npos);
  // Busy, then hanging past the request timeout: retried until it answers.
  for (const char* mode : {"503", "hang"}) {
    INFO(mode);
    REQUIRE(test::SetPeerMode(f.peer->port(), mode, 1));
    const std::string prefix = std::string(mode) + " ";
    REQUIRE(test::PutRecords(f.server->port(), "ev", Lines(0, 20, prefix)) == 0);
    REQUIRE(WaitFor([&] {
      auto e = f.Events();
      for (int i = 0; i < 20; i++)
        if (e.count(prefix + std::to_string(i)) == 0) return false;
      return true;
    }));
  }
  // A token without indexer acknowledgement: retried with the reason (Firehose requires acks).
  REQUIRE(test::SetPeerMode(f.peer->port(), "no-ack", 1));
  REQUIRE(test::PutRecords(f.server->port(), "ev", Lines(0, 5, "noack ")) == 0);
  REQUIRE(WaitFor([&] { return f.server->log().find("Splunk.DisabledAck") != std::string::npos; }));
  CHECK(f.Metric("sluice_delivery_rejected_records_total{stream=\"ev\",destination=\"Splunk\"}") == 1);
  CHECK(f.Metric("sluice_delivery_retries_total{stream=\"ev\",destination=\"Splunk\"}") >= 3);
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("Splunk HEC: a wrong token is retried, not lost, until it is fixed", "[integration][splunk]") {
  if (test::NodePath().empty()) SLUICE_SKIP("Node.js is not installed (scripts/setup installs it)");
  HecFixture f;
  f.StartSluiced("token = \"wrong-token\"\n");
  REQUIRE(test::PutRecords(f.server->port(), "ev", Lines(0, 10)) == 0);
  REQUIRE(WaitFor([&] { return f.server->log().find("Splunk answered 403: Invalid token (code 4)") != std::string::npos; }));
  CHECK(f.Events().empty());
  REQUIRE(test::AdminAsk(f.server->admin_port(), std::string("STREAM UPDATE ev splunk.token ") + kToken + "\r\n").find("-ERR") ==
          std::string::npos);
  REQUIRE(WaitFor([&] { return f.Events().size() == 10; }, std::chrono::seconds(60)));
  CHECK(test::AdminAsk(f.server->admin_port(), "STREAM CREATE x destination splunk splunk.endpoint http://h splunk.token t "
                                               "splunk.channel not-a-guid!\r\n")
            .find("must be a GUID") != std::string::npos);
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("Splunk HEC: kill -9 of sluiced during delivery loses nothing (at least once)", "[integration][splunk][crash]") {
  if (test::NodePath().empty()) SLUICE_SKIP("Node.js is not installed (scripts/setup installs it)");
  HecFixture f;
  f.StartSluiced(std::string("token = \"") + kToken + "\"\n");
  std::set<std::string> acked;
  for (int round = 0; round < 3; round++) {
    auto records = Lines(round * 3000, round * 3000 + 3000);
    if (test::PutRecords(f.server->port(), "ev", records) == 0) acked.insert(records.begin(), records.end());
    std::this_thread::sleep_for(std::chrono::milliseconds(700 + 400 * round));
    f.server->Kill();
    REQUIRE(f.server->Start());
  }
  REQUIRE(WaitFor([&] {
    auto events = f.Events();
    for (const auto& a : acked)
      if (!events.count(a)) return false;
    return true;
  }, std::chrono::seconds(60)));
  CHECK(f.server->Stop() == 0);
}
