// Integration: what the server shows of itself on the HTTP port (GET /metrics, /health, /ready,
// /api/status, the status page) and the admin port (STATUS). Real peers where an operator has
// them: Debian's promtool checks the exposition format, a real Prometheus server scrapes a
// sluiced fed by several producers, and headless Chromium opens the status page.
#include <catch2/catch.hpp>


#include <simdjson.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "server/encoding/base64.h"
#include "tests/support/clients.h"
#include "tests/support/delivered.h"
#include "tests/support/http_exchange.h"
#include "tests/support/peer.h"
#include "tests/support/raw_socket.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::Body;
using sluice::test::Header;
using sluice::test::HttpGet;
using sluice::test::RawSocket;
using sluice::test::ReadResponses;
using sluice::test::Status;
using sluice::test::TempDir;
using sluice::test::TestServer;
using sluice::test::WaitFor;

namespace {

struct MonitorServer {
  TempDir tmp;
  std::unique_ptr<TestServer> server;
  explicit MonitorServer(std::vector<std::string> args = {}) {
    server = std::make_unique<TestServer>(tmp.Sub("data"), std::move(args));
    REQUIRE(server->Start());
  }
  void CreateStreams(const std::vector<std::string>& names) {
    std::string cmds;
    for (const auto& n : names) cmds += "STREAM CREATE " + n + "\r\n";
    const std::string out = test::AdminAsk(server->admin_port(), cmds);
    REQUIRE(out.find("-ERR") == std::string::npos);
  }
  std::string Metrics() { return Body(HttpGet(server->http_port(), "/metrics")); }
};

std::vector<std::string> Records(size_t n, const std::string& prefix) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; i++) out.push_back(prefix + "-" + std::to_string(i));
  return out;
}

double Sample(const std::string& metrics, const std::string& series) { return test::MetricSample(metrics, series); }

// Puts batches into `streams` round-robin until stopped (bounded: at most `max_records`).
struct Producer {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> acked{0};
  std::thread thread;
  Producer(uint16_t port, std::vector<std::string> streams, size_t max_records = 2'000'000) {
    thread = std::thread([this, port, streams = std::move(streams), max_records] {
      size_t sent = 0;
      for (size_t round = 0; !stop && sent < max_records; round++) {
        const std::string& s = streams[round % streams.size()];
        const size_t n = 200 * (1 + round % streams.size());  // streams at different rates
        const auto recs = Records(n, s + std::to_string(round));
        acked += n - test::PutRecords(port, s, recs);
        sent += n;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  ~Producer() { Stop(); }
  void Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

}  // namespace

TEST_CASE("Monitoring: /metrics counts what was acknowledged, per stream, in Prometheus' text format", "[integration][monitor]") {
  MonitorServer f;
  f.CreateStreams({"alpha", "beta"});
  REQUIRE(test::PutRecords(f.server->port(), "alpha", Records(1500, "a")) == 0);
  REQUIRE(test::PutRecords(f.server->port(), "beta", Records(700, "b")) == 0);

  const std::string r = HttpGet(f.server->http_port(), "/metrics");
  REQUIRE(Status(r) == 200);
  CHECK(Header(r, "Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  const std::string m = Body(r);
  CHECK(Sample(m, "sluice_incoming_records_total{stream=\"alpha\",destination=\"Directory\"}") == 1500);
  CHECK(Sample(m, "sluice_incoming_records_total{stream=\"beta\",destination=\"Directory\"}") == 700);
  CHECK(Sample(m, "sluice_incoming_put_requests_total{stream=\"alpha\",destination=\"Directory\"}") == 3);
  CHECK(Sample(m, "sluice_incoming_bytes_total{stream=\"beta\",destination=\"Directory\"}") > 0);
  CHECK(Sample(m, "sluice_stream_info{stream=\"alpha\",destination=\"Directory\",status=\"ACTIVE\",version=\"1\"}") == 1);
  CHECK(Sample(m, "sluice_shard_records_stored_total{shard=\"0\"}") + Sample(m, "sluice_shard_records_stored_total{shard=\"1\"}") >=
        2200);
  CHECK(Sample(m, "sluice_put_ack_latency_seconds_count{shard=\"0\"}") + Sample(m, "sluice_put_ack_latency_seconds_count{shard=\"1\"}") >= 5);
  CHECK(Sample(m, "sluice_rocksdb_wal_syncs_total") > 0);
  CHECK(Sample(m, "sluice_rocksdb_memtable_bytes") > 0);
  CHECK(Sample(m, "process_resident_memory_bytes") > 1e6);
  CHECK(Sample(m, "process_open_fds") > 5);
  CHECK(Sample(m, "sluice_ready") == 1);
  CHECK(m.find("sluice_build_info{version=\"") != std::string::npos);
  // A stream's histograms appear with its first observation (nothing delivered yet).
  CHECK(m.find("sluice_delivery_duration_seconds") == std::string::npos);
  const double inf = Sample(m, "sluice_put_ack_latency_seconds_bucket{shard=\"0\",le=\"+Inf\"}");
  CHECK(inf == Sample(m, "sluice_put_ack_latency_seconds_count{shard=\"0\"}"));

  // Delivered: FLUSH, then the delivery counters and histograms catch up.
  test::AdminAsk(f.server->admin_port(), "FLUSH\r\n");
  REQUIRE(WaitFor([&] {
    return Sample(f.Metrics(), "sluice_delivery_records_total{stream=\"alpha\",destination=\"Directory\"}") == 1500;
  }));
  const std::string after = f.Metrics();
  CHECK(Sample(after, "sluice_delivery_duration_seconds_count{stream=\"alpha\",destination=\"Directory\"}") >= 1);
  CHECK(Sample(after, "sluice_delivered_data_age_seconds_count{stream=\"alpha\",destination=\"Directory\"}") >= 1);
  CHECK(Sample(after, "sluice_backlog_records{stream=\"alpha\",destination=\"Directory\"}") == 0);
  // Every family has HELP and TYPE.
  for (const char* family : {"sluice_delivery_duration_seconds", "sluice_put_ack_latency_seconds", "sluice_data_freshness_seconds",
                             "sluice_backlog_records", "sluice_delivery_records_total", "sluice_rocksdb_stall_seconds_total"}) {
    INFO(family);
    CHECK(after.find(std::string("# HELP ") + family + " ") != std::string::npos);
    CHECK(after.find(std::string("# TYPE ") + family + " ") != std::string::npos);
  }

  if (!std::filesystem::exists("/usr/bin/promtool")) SLUICE_SKIP("Debian's prometheus (promtool) is not installed (scripts/setup installs it)");
  const std::string file = f.tmp.Sub("metrics.txt");
  std::ofstream(file) << after;
  std::string out, err;
  const int rc = test::RunCommand({"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + file}, &out, &err);
  INFO(out << err);
  CHECK(rc == 0);
  CHECK(out + err == "");  // promtool prints lint findings (names, units, HELP) even when it exits 0
}

TEST_CASE("Monitoring: /health and /ready, and the reason when not ready", "[integration][monitor]") {
  MonitorServer f;
  std::string r = HttpGet(f.server->http_port(), "/health");
  CHECK(Status(r) == 200);
  CHECK(Body(r) == "ok\n");
  r = HttpGet(f.server->http_port(), "/ready");
  CHECK(Status(r) == 200);
  CHECK(Body(r) == "ready\n");
  // HEAD: the headers of GET, no body.
  {
    RawSocket s(f.server->http_port());
    REQUIRE(s.Send("HEAD /ready HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
    bool closed = false;
    auto rs = ReadResponses(s, 1, &closed, true);
    REQUIRE(rs.size() == 1);
    CHECK(Header(rs[0], "Content-Length") == "6");
    CHECK(Body(rs[0]) == "");
  }
  f.server->Stop();

  // Puts refused for disk space: not ready, and the body says why. (1 TiB of headroom asked.)
  TestServer full(f.tmp.Sub("data"), {"--min-free-mib", "1048576"});
  REQUIRE(full.Start());
  if (std::filesystem::space(f.tmp.Sub("data")).available >= (1ull << 40)) SLUICE_SKIP("this disk has over 1 TiB free");
  r = HttpGet(full.http_port(), "/ready");
  CHECK(Status(r) == 503);
  CHECK(Body(r).find("not ready: puts refused:") == 0);
  CHECK(Body(r).find("below min_free_mib 1048576") != std::string::npos);
  CHECK(Status(HttpGet(full.http_port(), "/health")) == 200);  // alive all the same
  CHECK(Sample(Body(HttpGet(full.http_port(), "/metrics")), "sluice_ready") == 0);
}

TEST_CASE("Monitoring: with an admin password the page, status and metrics need it, probes stay open", "[integration][monitor]") {
  MonitorServer f({"--admin-password", "s3cret"});
  const uint16_t port = f.server->http_port();
  for (const char* path : {"/", "/api/status", "/metrics"}) {
    INFO(path);
    std::string r = HttpGet(port, path);
    CHECK(Status(r) == 401);
    CHECK(Header(r, "WWW-Authenticate") == "Basic realm=\"sluice\", charset=\"UTF-8\"");
    r = HttpGet(port, path, "Authorization: Basic " + server::Base64Encode("ops:wrong") + "\r\n");
    CHECK(Status(r) == 401);
    r = HttpGet(port, path, "Authorization: Basic !!notbase64\r\n");
    CHECK(Status(r) == 401);
    r = HttpGet(port, path, "Authorization: Basic " + server::Base64Encode("ops:s3cret") + "\r\n");
    CHECK(Status(r) == 200);
  }
  CHECK(Status(HttpGet(port, "/health")) == 200);
  CHECK(Status(HttpGet(port, "/ready")) == 200);
}

TEST_CASE("Monitoring: unknown paths, other methods, huge queries and many concurrent scrapes", "[integration][monitor]") {
  MonitorServer f;
  f.CreateStreams({"s1", "s2", "s3"});
  const uint16_t port = f.server->http_port();
  std::string r = HttpGet(port, "/nope?x=1");
  CHECK(Status(r) == 404);
  CHECK(Body(r).find("not found: /nope\nserved here: GET / (status page)") == 0);
  {
    RawSocket s(port);
    REQUIRE(s.Send("DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    bool closed = false;
    auto rs = ReadResponses(s, 1, &closed);
    REQUIRE(rs.size() == 1);
    CHECK(Status(rs[0]) == 405);
    CHECK(Header(rs[0], "Allow") == "GET, HEAD");
  }
  CHECK(Status(HttpGet(port, "/api/status?stream=%zz")) == 400);
  CHECK(Status(HttpGet(port, "/api/status?stream=" + std::string(65, 'a'))) == 400);
  CHECK(Status(HttpGet(port, "/api/status?stream=unknown")) == 200);  // no history for it, the rest as usual
  // A query string past the URL limit: refused by the parser, connection closed.
  {
    RawSocket s(port);
    REQUIRE(s.Send("GET /metrics?" + std::string(20000, 'q') + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    bool closed = false;
    auto rs = ReadResponses(s, 1, &closed);
    REQUIRE(rs.size() == 1);
    CHECK(Status(rs[0]) == 414);
  }
  // 40 connections, each pipelining 3 scrapes and a status request: every answer complete and in order.
  std::vector<std::unique_ptr<RawSocket>> conns;
  const std::string get = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 40; i++) {
    conns.push_back(std::make_unique<RawSocket>(port));
    REQUIRE(conns.back()->Send(get + get + get + "GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  for (auto& c : conns) {
    bool closed = false;
    auto rs = ReadResponses(*c, 4, &closed);
    REQUIRE(rs.size() == 4);
    for (int i = 0; i < 3; i++) {
      CHECK(Status(rs[i]) == 200);
      CHECK(Body(rs[i]).find("sluice_incoming_records_total{stream=\"s3\"") != std::string::npos);
    }
    CHECK(Header(rs[3], "Content-Type") == "application/json");
  }
  // The server is unharmed: puts still work and are counted.
  REQUIRE(test::PutRecords(f.server->port(), "s1", Records(10, "x")) == 0);
  CHECK(Sample(f.Metrics(), "sluice_incoming_records_total{stream=\"s1\",destination=\"Directory\"}") == 10);
}

TEST_CASE("Monitoring: /api/status and admin STATUS show rates that move, backlog and history", "[integration][monitor]") {
  MonitorServer f;
  f.CreateStreams({"fast", "slow"});
  Producer producer(f.server->port(), {"fast", "slow"});
  simdjson::dom::parser parser;
  double fast_rate = 0;
  REQUIRE(WaitFor([&] {
    const std::string body = Body(HttpGet(f.server->http_port(), "/api/status?stream=fast"));
    simdjson::dom::element doc;
    if (parser.parse(body).get(doc) != simdjson::SUCCESS) return false;
    for (auto s : doc["streams"].get_array())
      if (std::string_view(s["name"].get_string()) == "fast") fast_rate = double(s["incoming_records_per_s"]);
    return fast_rate > 0 && doc["stream_history"]["incoming_records_per_s"].get_array().size() >= 2;
  }));
  producer.Stop();
  const std::string body = Body(HttpGet(f.server->http_port(), "/api/status"));
  simdjson::dom::element doc;
  REQUIRE(parser.parse(body).get(doc) == simdjson::SUCCESS);
  CHECK(bool(doc["ready"]));
  CHECK(doc["streams"].get_array().size() == 3);  // fast, slow and the default stream
  CHECK(doc["shards"].get_array().size() == 2);
  CHECK(doc["history"]["t_ms"].get_array().size() >= 2);
  CHECK(double(doc["totals"]["streams"]) == 3);
  for (auto s : doc["streams"].get_array()) {
    INFO(std::string_view(s["name"].get_string()));
    CHECK(double(s["success_ratio"]) == 1);
    CHECK(double(s["data_freshness_s"]) >= 0);
    CHECK(std::string_view(s["last_error"].get_string()).empty());
  }
  // The admin port answers the same document.
  const std::string admin = test::AdminAsk(f.server->admin_port(), "STATUS fast\r\n");
  REQUIRE(admin.rfind("$", 0) == 0);
  const std::string json = admin.substr(admin.find("\r\n") + 2);
  REQUIRE(parser.parse(json.substr(0, json.size() - 2)).get(doc) == simdjson::SUCCESS);
  CHECK(std::string_view(doc["stream_history"]["name"].get_string()) == "fast");
  CHECK(test::AdminAsk(f.server->admin_port(), "STATUS nosuch\r\n").rfind("-ERR", 0) == 0);
}

TEST_CASE("Monitoring: a failing destination shows its retries, last error and success ratio", "[integration][monitor]") {
  MonitorServer f;
  // A directory destination under a file: every attempt fails (retryable), and says why.
  const std::string blocker = f.tmp.Sub("blocker");
  std::ofstream(blocker) << "x";
  const std::string out = test::AdminAsk(f.server->admin_port(),
                                         "STREAM CREATE broken destination directory directory.path " + blocker +
                                             "/sub buffering.interval_s 0\r\n");
  REQUIRE(out.rfind("+OK", 0) == 0);
  REQUIRE(test::PutRecords(f.server->port(), "broken", Records(5, "r")) == 0);
  test::AdminAsk(f.server->admin_port(), "FLUSH broken\r\n");
  simdjson::dom::parser parser;
  REQUIRE(WaitFor([&] {
    const std::string m = f.Metrics();
    return Sample(m, "sluice_delivery_retries_total{stream=\"broken\",destination=\"Directory\"}") >= 1 &&
           Sample(m, "sluice_delivery_last_error_timestamp_seconds{stream=\"broken\",destination=\"Directory\"}") > 1e9;
  }));
  REQUIRE(WaitFor([&] {
    simdjson::dom::element doc;
    if (parser.parse(Body(HttpGet(f.server->http_port(), "/api/status"))).get(doc) != simdjson::SUCCESS) return false;
    for (auto s : doc["streams"].get_array())
      if (std::string_view(s["name"].get_string()) == "broken")
        return !std::string_view(s["last_error"].get_string()).empty() && double(s["success_ratio"]) < 1 &&
               double(s["backlog_records"]) == 5 && double(s["retrying_segments"]) == 1;
    return false;
  }));
  const std::string m = f.Metrics();
  CHECK(Sample(m, "sluice_delivery_success_ratio{stream=\"broken\",destination=\"Directory\"}") < 1);
  CHECK(Sample(m, "sluice_data_freshness_seconds{stream=\"broken\",destination=\"Directory\"}") >= 0);
}

TEST_CASE("Monitoring: a real Prometheus server scrapes sluiced and its counter equals the records acknowledged", "[integration][monitor][prometheus]") {
  if (!std::filesystem::exists("/usr/bin/prometheus")) SLUICE_SKIP("Debian's prometheus is not installed (scripts/setup installs it)");
  MonitorServer f;
  f.CreateStreams({"orders", "clicks"});
  const uint16_t prom_port = test::FreePort();
  const std::string cfg = f.tmp.Sub("prometheus.yml");
  std::ofstream(cfg) << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: sluice\n"
                        "    static_configs:\n      - targets: ['127.0.0.1:"
                     << f.server->http_port() << "']\n";
  const std::string port_file = f.tmp.Sub("prometheus.port");
  test::Peer prometheus({"/bin/sh", "-c",
                         "echo " + std::to_string(prom_port) + " > " + port_file +
                             "; exec /usr/bin/prometheus --config.file=" + cfg + " --storage.tsdb.path=" + f.tmp.Sub("tsdb") +
                             " --web.listen-address=127.0.0.1:" + std::to_string(prom_port) + " --log.level=warn"},
                        port_file, f.tmp.Sub("prometheus.log"));
  REQUIRE(prometheus.Start());
  INFO(prometheus.log());
  REQUIRE(WaitFor([&] { return Status(HttpGet(prom_port, "/-/ready")) == 200; }));

  // Several producers, on both ports' worth of connections, into two streams.
  std::vector<std::unique_ptr<Producer>> producers;
  for (int i = 0; i < 3; i++) producers.push_back(std::make_unique<Producer>(f.server->port(), std::vector<std::string>{"orders", "clicks"}, 20000));
  for (auto& p : producers) p->thread.join();
  uint64_t acked = 0;
  for (auto& p : producers) acked += p->acked;
  REQUIRE(acked == 60000);

  simdjson::dom::parser parser;
  double seen = -1;
  const bool equal = WaitFor([&] {
    const std::string r = HttpGet(prom_port, "/api/v1/query?query=sum(sluice_incoming_records_total%7Bstream%3D~%22orders%7Cclicks%22%7D)");
    simdjson::dom::element doc;
    if (Status(r) != 200 || parser.parse(Body(r)).get(doc) != simdjson::SUCCESS) return false;
    simdjson::dom::array result;
    if (doc["data"]["result"].get_array().get(result) != simdjson::SUCCESS || result.size() != 1) return false;
    seen = std::stod(std::string(std::string_view(result.at(0)["value"].at(1).get_string())));
    return seen == double(acked);
  });
  INFO("Prometheus saw " << seen << ", acknowledged " << acked);
  CHECK(equal);
  // The scrape itself was healthy: up == 1.
  const std::string up = Body(HttpGet(prom_port, "/api/v1/query?query=up%7Bjob%3D%22sluice%22%7D"));
  CHECK(up.find("\"value\":[") != std::string::npos);
  CHECK(up.find(",\"1\"]") != std::string::npos);
}

TEST_CASE("Monitoring: the status page in headless Chromium shows every stream with moving rates", "[integration][monitor][browser]") {
  const std::string node = test::NodePath();
  if (node.empty()) SLUICE_SKIP("Node.js is not installed (scripts/setup installs it)");
  if (!std::filesystem::exists("/usr/bin/chromium")) SLUICE_SKIP("Debian's chromium is not installed (scripts/setup installs it)");
  if (!std::filesystem::exists(test::SourcePath("tests/peers/node_modules/puppeteer-core")))
    SLUICE_SKIP("puppeteer-core is not installed in tests/peers (scripts/setup installs it)");
  MonitorServer f;
  f.CreateStreams({"orders buffering.interval_s 2", "clicks buffering.interval_s 5", "audit-log"});
  Producer producer(f.server->port(), {"orders", "clicks", "audit-log"});
  std::this_thread::sleep_for(std::chrono::seconds(6));  // a few seconds of history and deliveries to show
  // SLUICE_SCREENSHOT=<path>: keep the screenshot (docs/status-page.png is taken this way).
  const char* keep = std::getenv("SLUICE_SCREENSHOT");
  const std::string shot = keep && *keep ? keep : f.tmp.Sub("status.png");
  std::string out, err;
  const int rc = test::RunCommand({node, test::SourcePath("tests/peers/status_page_check.js"),
                                   "http://127.0.0.1:" + std::to_string(f.server->http_port()) + "/", "/usr/bin/chromium",
                                   shot, "orders", "clicks", "audit-log"},
                                  &out, &err);
  producer.Stop();
  INFO(out << err);
  CHECK(rc == 0);
  CHECK(std::filesystem::exists(shot));
}

TEST_CASE("sluice top: plain lines when piped, a full-screen view on a terminal that quits on q", "[integration][monitor][top]") {
  MonitorServer f({"--admin-password", "pw"});
  const std::string admin = "127.0.0.1:" + std::to_string(f.server->admin_port());
  REQUIRE(test::AdminAsk(f.server->admin_port(), "AUTH pw\r\nSTREAM CREATE orders\r\n").find("-ERR") == std::string::npos);
  REQUIRE(test::PutRecords(f.server->port(), "orders", Records(100, "o")) == 0);
  std::string out, err;
  int rc = test::RunCommand({test::BinaryPath("sluice"), "top", "--addr", admin, "--password", "pw", "--count", "2",
                             "--interval", "0.3"},
                            &out, &err);
  INFO(out << err);
  CHECK(rc == 0);
  CHECK(std::count(out.begin(), out.end(), '\n') == 4);  // two refreshes of two streams
  CHECK(std::regex_search(out, std::regex("(^|\n)\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ stream=orders destination=Directory "
                                          "state=running in_records_per_s=[0-9.]+ in_bytes_per_s=[0-9]+ .* backlog_records=0 "
                                          "freshness_s=[0-9.]+ success=1.000 retries=0 backed_up=0\n")));
  // A wrong password, or nobody listening: exit 2 with the reason.
  rc = test::RunCommand({test::BinaryPath("sluice"), "top", "--addr", admin, "--password", "nope", "--count", "1"}, &out, &err);
  CHECK(rc == 2);
  CHECK(err.find("sluice top: AUTH:") != std::string::npos);
  rc = test::RunCommand({test::BinaryPath("sluice"), "top", "--addr", admin, "--count", "1"}, &out, &err);
  CHECK(rc == 2);
  CHECK(err.find("NOAUTH") != std::string::npos);

  if (!std::filesystem::exists("/usr/bin/python3")) SLUICE_SKIP("python3 is not installed (scripts/setup installs it)");
  // On a terminal, logged in by the admin port's own rule (no password: a second server).
  MonitorServer open;
  open.CreateStreams({"clicks"});
  rc = test::RunCommand({"/usr/bin/python3", test::SourcePath("tests/clients/top_tty.py"), test::BinaryPath("sluice"),
                         "127.0.0.1:" + std::to_string(open.server->admin_port()), "clicks", "default"},
                        &out, &err);
  INFO(out << err);
  CHECK(rc == 0);
}

TEST_CASE("Logs: --log-format json writes one JSON object a line, with the stream and segment of delivery events", "[integration][monitor][logs]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"), {"--log-format", "json"});
  REQUIRE(server.Start());
  // A destination that cannot be written: its retries are logged with their context.
  const std::string blocker = tmp.Sub("blocker");
  std::ofstream(blocker) << "x";
  REQUIRE(test::AdminAsk(server.admin_port(), "STREAM CREATE broken destination directory directory.path " + blocker + "/sub\r\n")
              .rfind("+OK", 0) == 0);
  REQUIRE(test::PutRecords(server.port(), "broken", Records(3, "r")) == 0);
  test::AdminAsk(server.admin_port(), "FLUSH broken\r\n");
  REQUIRE(WaitFor([&] { return server.log().find("attempt 1 failed") != std::string::npos; }));
  REQUIRE(server.Stop() == 0);
  simdjson::dom::parser parser;
  std::istringstream in(server.log());
  std::string line;
  size_t lines = 0, with_context = 0;
  while (std::getline(in, line)) {
    INFO(line);
    simdjson::dom::element doc;
    REQUIRE(parser.parse(line).get(doc) == simdjson::SUCCESS);
    lines++;
    CHECK(std::string_view(doc["time"].get_string()).size() == 24);
    CHECK(!std::string_view(doc["level"].get_string()).empty());
    CHECK(!std::string_view(doc["message"].get_string()).empty());
    std::string_view stream;
    if (doc["stream"].get_string().get(stream) == simdjson::SUCCESS) {
      with_context++;
      CHECK(stream == "broken");
      CHECK(std::string_view(doc["destination"].get_string()) == "Directory");
      CHECK(!std::string_view(doc["segment"].get_string()).empty());
    }
  }
  CHECK(lines >= 3);  // start, the failed attempt, shutdown
  CHECK(with_context >= 1);

  std::string out, err;
  CHECK(test::RunCommand({test::BinaryPath("sluiced"), "--log-format", "xml"}, &out, &err) != 0);
  const std::string cfg = tmp.Sub("bad.toml");
  std::ofstream(cfg) << "log_format = \"xml\"\n";
  CHECK(test::RunCommand({test::BinaryPath("sluiced"), "--config", cfg, "--data-dir", tmp.Sub("d2")}, &out, &err) == 2);
  CHECK(err.find("log_format must be text or json; got 'xml'") != std::string::npos);
}
