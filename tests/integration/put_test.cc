// Integration: the real sluiced and sluice binaries, the client library, a temp data dir.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "protocol/error_codes.h"
#include "client-lib/client.h"
#include "tests/support/delivered.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::proto::WireError;
using sluice::test::TempDir;
using sluice::test::TestServer;

namespace {

std::unique_ptr<client::Client> Connect(const TestServer& server, std::string token = "") {
  client::ClientOptions o;
  o.port = server.port();
  o.auth_token = std::move(token);
  auto c = client::Client::Connect(o);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return std::move(c).value();
}

// Records of `stream` after a clean stop: delivered files plus anything still in storage.
// Sorted, since delivery order across segments is not defined.
std::vector<std::string> Records(const TestServer& server, const std::string& stream = "default") {
  auto all = test::DeliveredRecords(server.data_dir() + "/delivered/" + stream);
  auto stored = test::StoredRecords(server.data_dir(), stream);
  all.insert(all.end(), stored.begin(), stored.end());
  std::sort(all.begin(), all.end());
  return all;
}
using Lines = std::vector<std::string>;

}  // namespace

TEST_CASE("Put: acked records get unique ids and are in storage after a clean stop",
          "[integration][put]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  auto c = Connect(server);
  CHECK(c->server_limits().max_batch_records == 500);
  std::vector<std::string_view> recs = {"alpha", "beta", "", "delta"};
  auto r = c->PutRecordBatch("default", recs);
  REQUIRE(r.ok());
  CHECK(r->failed_count == 0);
  REQUIRE(r->records.size() == 4);
  std::set<uint64_t> ids;
  for (auto& rr : r->records) {
    CHECK(rr.ok());
    ids.insert(rr.record_id);
  }
  CHECK(ids.size() == 4);
  c.reset();
  CHECK(server.Stop() == 0);
  CHECK(server.log().find("stopped cleanly") != std::string::npos);
  CHECK(Records(server) == Lines{"", "alpha", "beta", "delta"});
}

TEST_CASE("Put: bad records fail alone, the rest of the batch is stored", "[integration][put]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"), {"--max-record-bytes", "100"});
  REQUIRE(server.Start());
  auto c = Connect(server);
  std::string big(101, 'x');
  std::vector<std::string_view> recs = {"ok-1", big, "ok-2"};
  auto r = c->PutRecordBatch("default", recs);
  REQUIRE(r.ok());
  CHECK(r->failed_count == 1);
  CHECK(r->records[0].ok());
  CHECK(r->records[1].error_code == static_cast<uint16_t>(WireError::kRecordTooLarge));
  CHECK(r->records[1].error_message.find("max_record_bytes 100") != std::string::npos);
  CHECK(r->records[2].ok());

  auto u = c->PutRecordBatch("no-such-stream", recs);
  REQUIRE(u.ok());
  CHECK(u->failed_count == 3);
  for (auto& rr : u->records) {
    CHECK(rr.error_code == static_cast<uint16_t>(WireError::kUnknownStream));
    CHECK(rr.error_message.find("'no-such-stream' does not exist") != std::string::npos);
  }
  c.reset();
  REQUIRE(server.Stop() == 0);
  CHECK(Records(server) == Lines{"ok-1", "ok-2"});
}

TEST_CASE("Put: an over-limit batch is refused as a whole and the connection stays usable",
          "[integration][put]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"), {"--max-batch-records", "3"});
  REQUIRE(server.Start());
  auto c = Connect(server);
  CHECK(c->server_limits().max_batch_records == 3);
  std::vector<std::string_view> four = {"a", "b", "c", "d"};
  // The client checks the announced limits before sending anything.
  CHECK(c->SendPutRecordBatch("default", four).status().code() == base::Code::kTooLarge);
  std::vector<std::string_view> three = {"a", "b", "c"};
  auto r = c->PutRecordBatch("default", three);
  REQUIRE(r.ok());
  CHECK(r->failed_count == 0);
}

TEST_CASE("Put: pipelined batches are answered in order", "[integration][put]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  auto c = Connect(server);
  std::vector<std::string> payloads;
  for (int i = 0; i < 50; i++) payloads.push_back("record-" + std::to_string(i));
  std::vector<uint32_t> ids;
  for (int i = 0; i < 50; i++) {
    std::vector<std::string_view> one = {payloads[i]};
    auto id = c->SendPutRecordBatch("default", one);
    REQUIRE(id.ok());
    ids.push_back(id.value());
  }
  CHECK(c->in_flight() == 50);
  uint64_t last_record_id = 0;
  for (int i = 0; i < 50; i++) {
    auto r = c->ReceivePutResult();
    REQUIRE(r.ok());
    CHECK(r->request_id == ids[i]);
    REQUIRE(r->records.size() == 1);
    CHECK(r->records[0].ok());
    CHECK(r->records[0].record_id != last_record_id);
    last_record_id = r->records[0].record_id;
  }
  c.reset();
  REQUIRE(server.Stop() == 0);
  std::sort(payloads.begin(), payloads.end());
  CHECK(Records(server) == payloads);
}

TEST_CASE("Put: with --auth-token only a Hello with the token may put", "[integration][auth]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"), {"--auth-token", "s3cret"});
  REQUIRE(server.Start());
  client::ClientOptions o;
  o.port = server.port();
  o.auth_token = "wrong";
  auto bad = client::Client::Connect(o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == base::Code::kUnauthenticated);
  auto c = Connect(server, "s3cret");
  std::vector<std::string_view> recs = {"x"};
  auto r = c->PutRecordBatch("default", recs);
  REQUIRE(r.ok());
  CHECK(r->failed_count == 0);
  // Without a token, the refusal says a token is needed, once (no doubled "Unauthenticated:").
  std::string out, err;
  {
    std::ofstream in(tmp.Sub("one.txt"));
    in << "x\n";
  }
  int rc = test::RunCommand({test::BinaryPath("sluice"), "put", "--addr", server.addr()}, &out, &err, tmp.Sub("one.txt"));
  INFO(err);
  CHECK(rc != 0);
  CHECK(err.find("requires an auth token") != std::string::npos);
  CHECK(err.find("Unauthenticated: Unauthenticated") == std::string::npos);
  // A put port on a non-loopback address without a token starts, with a loud warning.
  TestServer open(tmp.Sub("d2"), {"--bind", "0.0.0.0"});
  REQUIRE(open.Start());
  CHECK(open.log().find("WARNING: the put port listens on 0.0.0.0") != std::string::npos);
  CHECK(open.Stop() == 0);
}

TEST_CASE("CLI: sluice put acks every line and logs acked line numbers", "[integration][cli]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  const int kLines = 20000;
  {
    std::ofstream in(tmp.Sub("in.txt"));
    for (int i = 0; i < kLines; i++) in << "line-" << i << "\n";
  }
  std::string out, err;
  int rc = test::RunCommand({test::BinaryPath("sluice"), "put", "--addr", server.addr(), "--stream",
                             "default", "--batch", "300", "--acked-out", tmp.Sub("acked.txt")},
                            &out, &err, tmp.Sub("in.txt"));
  INFO(err);
  CHECK(rc == 0);
  CHECK(err.find("20000 acked, 0 failed") != std::string::npos);
  std::ifstream acked(tmp.Sub("acked.txt"));
  std::set<int> lines;
  int n;
  while (acked >> n) lines.insert(n);
  CHECK(lines.size() == kLines);
  CHECK(*lines.begin() == 0);
  CHECK(*lines.rbegin() == kLines - 1);

  rc = test::RunCommand({test::BinaryPath("sluice"), "put", "--addr", server.addr(), "--stream", "nope"},
                        &out, &err, tmp.Sub("in.txt"));
  CHECK(rc == 1);
  CHECK(err.find("UnknownStream") != std::string::npos);

  SECTION("inspect refuses a data dir the running server holds") {
    rc = test::RunCommand({test::BinaryPath("sluice"), "inspect", "--data-dir", server.data_dir()}, &out, &err);
    CHECK(rc == 2);
    CHECK(err.find("held by a running sluiced") != std::string::npos);
  }
}

TEST_CASE("Server: streams keep their ids and records across restarts", "[integration][restart]") {
  TempDir tmp;
  {
    std::ofstream cfg(tmp.Sub("sluice.toml"));
    cfg << "[[stream]]\nname = \"a\"\nappend_delimiter = true\n"
           "[[stream]]\nname = \"b\"\nappend_delimiter = true\n";
  }
  TestServer server(tmp.Sub("data"), {"--config", tmp.Sub("sluice.toml")});
  for (int round = 0; round < 3; round++) {
    REQUIRE(server.Start());
    auto c = Connect(server);
    std::string ra = "a-" + std::to_string(round), rb = "b-" + std::to_string(round);
    std::vector<std::string_view> va = {ra}, vb = {rb};
    REQUIRE(c->PutRecordBatch("a", va).value().failed_count == 0);
    REQUIRE(c->PutRecordBatch("b", vb).value().failed_count == 0);
    c.reset();
    REQUIRE(server.Stop() == 0);
  }
  CHECK(Records(server, "a") == Lines{"a-0", "a-1", "a-2"});
  CHECK(Records(server, "b") == Lines{"b-0", "b-1", "b-2"});
}

TEST_CASE("Server: invalid configuration is refused at start with the key named", "[integration][config]") {
  TempDir tmp;
  {
    std::ofstream cfg(tmp.Sub("bad.toml"));
    cfg << "[[stream]]\nname = \"x\"\nbufering = 3\n";
  }
  std::string out, err;
  int rc = test::RunCommand({test::BinaryPath("sluiced"), "--config", tmp.Sub("bad.toml"), "--data-dir",
                             tmp.Sub("data"), "--port", "0"},
                            &out, &err);
  CHECK(rc == 2);
  CHECK(err.find("unknown key 'bufering'") != std::string::npos);
}

TEST_CASE("Server: a taken port or a held data dir is refused with a clear message",
          "[integration][config]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  std::string out, err;
  int rc = test::RunCommand({test::BinaryPath("sluiced"), "--data-dir", tmp.Sub("other"), "--port",
                             std::to_string(server.port())},
                            &out, &err);
  CHECK(rc == 1);
  CHECK(err.find("cannot listen on 127.0.0.1:" + std::to_string(server.port())) != std::string::npos);
  rc = test::RunCommand({test::BinaryPath("sluiced"), "--data-dir", server.data_dir(), "--port", "0"}, &out, &err);
  CHECK(rc == 1);
  CHECK(err.find("held by a running sluiced") != std::string::npos);
  CHECK(server.Stop() == 0);
}

TEST_CASE("sluice bench: a small closed-loop run and an open-loop run with freshness",
          "[integration][bench]") {
  // A smoke run so the tool keeps working; the numbers it prints are not checked (benchmarks
  // live in scripts/bench).
  TempDir tmp;
  {
    std::ofstream cfg(tmp.Sub("s.toml"));
    cfg << "[[stream]]\nname = \"b\"\nappend_delimiter = true\nbuffering = { size_mib = 1, interval_s = 0 }\n";
  }
  TestServer server(tmp.Sub("data"), {"--config", tmp.Sub("s.toml")});
  REQUIRE(server.Start());
  std::string out, err;
  int rc = test::RunCommand({test::BinaryPath("sluice"), "bench", "--addr", server.addr(), "--stream", "b",
                             "--records", "5000", "--connections", "2", "--batch", "100", "--json"},
                            &out, &err);
  INFO(out << err);
  CHECK(rc == 0);
  CHECK(out.find("\"records_acked\":5000,") != std::string::npos);
  CHECK(out.find("\"records_failed\":0,") != std::string::npos);
  CHECK(out.find("send_late_ms") == std::string::npos);  // closed loop: nothing is due
  rc = test::RunCommand({test::BinaryPath("sluice"), "bench", "--addr", server.addr(), "--stream", "b",
                         "--records", "2000", "--rate", "4000", "--connections", "1", "--batch", "50",
                         "--freshness-dir", tmp.Sub("data") + "/delivered/b"},
                        &out, &err);
  CHECK(rc == 0);
  CHECK(out.find("records acked    2000 in") != std::string::npos);
  CHECK(out.find("freshness        2000 records delivered") != std::string::npos);
  CHECK(out.find("send lateness    p50 ") != std::string::npos);  // open loop only
  // A batch over the server's limits is refused before anything is sent.
  rc = test::RunCommand({test::BinaryPath("sluice"), "bench", "--addr", server.addr(), "--batch", "100000",
                         "--records", "10"},
                        &out, &err);
  CHECK(rc == 2);
  CHECK(err.find("exceeds the server's limits") != std::string::npos);
  CHECK(server.Stop() == 0);
}
