// Integration: put -> segments -> delivered files, retry, backup and replay, with the real binaries.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <thread>
#include <unordered_set>

#include "client-lib/client.h"
#include "tests/support/delivered.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::TempDir;
using sluice::test::TestServer;

namespace {

void WriteConfig(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

std::vector<std::string> PutAll(const TestServer& server, const std::string& stream, int n, const std::string& tag,
                                size_t size = 0) {
  client::ClientOptions o;
  o.port = server.port();
  auto c = client::Client::Connect(o);
  REQUIRE(c.ok());
  std::vector<std::string> recs;
  for (int i = 0; i < n; i++) {
    std::string r = tag + "-" + std::to_string(i);
    if (size) r.resize(size, '.');
    recs.push_back(r);
  }
  for (size_t i = 0; i < recs.size(); i += 500) {
    std::vector<std::string_view> batch(recs.begin() + i, recs.begin() + std::min(recs.size(), i + 500));
    auto r = c.value()->PutRecordBatch(stream, batch);
    REQUIRE(r.ok());
    REQUIRE(r->failed_count == 0);
  }
  return recs;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("Delivery: records arrive in files under every compression, named like Firehose's S3 keys",
          "[integration][delivery]") {
  TempDir tmp;
  WriteConfig(tmp.Sub("s.toml"), R"(
[[stream]]
name = "plain"
append_delimiter = true
buffering = { size_mib = 1, interval_s = 0 }
[[stream]]
name = "gz"
compression = "gzip"
append_delimiter = true
buffering = { size_mib = 1, interval_s = 0 }
[[stream]]
name = "zs"
compression = "zstd"
append_delimiter = true
buffering = { size_mib = 1, interval_s = 0 }
[[stream]]
name = "sn"
compression = "snappy"
append_delimiter = true
buffering = { size_mib = 1, interval_s = 0 }
[[stream]]
name = "raw"
buffering = { size_mib = 1, interval_s = 0 }
[stream.directory]
prefix = "p/!{timestamp:yyyy}/"
file_extension = ".bin"
)");
  TestServer server(tmp.Sub("data"), {"--config", tmp.Sub("s.toml")});
  REQUIRE(server.Start());
  for (std::string s : {"plain", "gz", "zs", "sn"}) {
    INFO(s);
    auto recs = PutAll(server, s, 3000, s);
    std::string root = server.data_dir() + "/delivered/" + s;
    REQUIRE(test::WaitFor([&] { return test::DeliveredRecords(root).size() >= recs.size(); }));
    CHECK(Sorted(test::DeliveredRecords(root)) == Sorted(recs));
    std::string ext = s == "gz" ? "\\.gz" : s == "zs" ? "\\.zst" : s == "sn" ? "\\.snappy" : "";
    std::regex name("\\d{4}/\\d{2}/\\d{2}/\\d{2}/" + s + "-1-\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-[0-9a-f]{28}" + ext);
    for (auto& f : test::DeliveredFiles(root)) CHECK(std::regex_match(f, name));
  }
  // Without a delimiter the records are concatenated as they are; fixed-size records split back.
  auto recs = PutAll(server, "raw", 1000, "r", 16);
  std::string root = server.data_dir() + "/delivered/raw";
  auto raw_bytes = [&] {
    std::string all;
    for (auto& f : test::DeliveredFiles(root)) all += test::ReadFile(root + "/" + f);
    return all;
  };
  REQUIRE(test::WaitFor([&] { return raw_bytes().size() >= 16000; }));
  std::string all = raw_bytes();
  std::vector<std::string> got;
  for (size_t i = 0; i + 16 <= all.size(); i += 16) got.push_back(all.substr(i, 16));
  CHECK(Sorted(got) == Sorted(recs));
  for (auto& f : test::DeliveredFiles(root)) {
    CHECK(f.rfind("p/20", 0) == 0);
    CHECK(f.ends_with(".bin"));
  }
  CHECK(server.Stop() == 0);
}

TEST_CASE("Delivery: the size hint seals long before the interval", "[integration][delivery]") {
  TempDir tmp;
  WriteConfig(tmp.Sub("s.toml"), R"(
[[stream]]
name = "big"
append_delimiter = true
buffering = { size_mib = 1, interval_s = 900 }
)");
  TestServer server(tmp.Sub("data"), {"--config", tmp.Sub("s.toml"), "--shards", "1"});
  REQUIRE(server.Start());
  PutAll(server, "big", 5000, "x", 1000);  // ~5 MB
  std::string root = server.data_dir() + "/delivered/big";
  // 5 MB in 500 KB client batches: sealed every 3 batches (~1.5 MB), the last ~0.5 MB waits.
  REQUIRE(test::WaitFor([&] { return test::DeliveredFiles(root).size() >= 3; }));
  for (auto& f : test::DeliveredFiles(root)) {
    auto size = std::filesystem::file_size(root + "/" + f);
    CHECK(size >= (1u << 20));
    CHECK(size <= (1u << 20) + 501000);  // one client batch past the hint at most
  }
  CHECK(server.Stop() == 0);
}

TEST_CASE("Delivery: the interval hint delivers a small segment without more traffic", "[integration][delivery]") {
  TempDir tmp;
  WriteConfig(tmp.Sub("s.toml"), R"(
[[stream]]
name = "slow"
append_delimiter = true
buffering = { size_mib = 64, interval_s = 1 }
)");
  TestServer server(tmp.Sub("data"), {"--config", tmp.Sub("s.toml")});
  REQUIRE(server.Start());
  auto recs = PutAll(server, "slow", 3, "tick");
  std::string root = server.data_dir() + "/delivered/slow";
  REQUIRE(test::WaitFor([&] { return test::DeliveredRecords(root).size() == 3; }, std::chrono::seconds(10)));
  CHECK(Sorted(test::DeliveredRecords(root)) == Sorted(recs));
  CHECK(server.Stop() == 0);
}

TEST_CASE("Delivery: SIGUSR1 flushes open segments long before their hints", "[integration][delivery]") {
  TempDir tmp;
  WriteConfig(tmp.Sub("s.toml"), R"(
[[stream]]
name = "lazy"
append_delimiter = true
buffering = { size_mib = 128, interval_s = 900 }
)");
  TestServer server(tmp.Sub("data"), {"--config", tmp.Sub("s.toml")});
  REQUIRE(server.Start());
  auto recs = PutAll(server, "lazy", 10, "now");
  std::string root = server.data_dir() + "/delivered/lazy";
  CHECK(test::DeliveredFiles(root).empty());
  server.Signal(SIGUSR1);
  REQUIRE(test::WaitFor([&] { return test::DeliveredRecords(root).size() == 10; }, std::chrono::seconds(10)));
  CHECK(Sorted(test::DeliveredRecords(root)) == Sorted(recs));
  CHECK(server.Stop() == 0);
}

TEST_CASE("Delivery: a failing destination retries, then backs up and replay delivers the backup",
          "[integration][delivery][backup]") {
  TempDir tmp;
  WriteConfig(tmp.Sub("s.toml"), R"(
[[stream]]
name = "flaky"
append_delimiter = true
buffering = { size_mib = 1, interval_s = 0 }
retry_duration_s = 60
[stream.fault]
fail_attempts = 2

[[stream]]
name = "doomed"
append_delimiter = true
buffering = { size_mib = 1, interval_s = 0 }
[stream.fault]
permanent = true

[[stream]]
name = "target"
append_delimiter = true
buffering = { size_mib = 1, interval_s = 0 }
)");
  TestServer server(tmp.Sub("data"), {"--config", tmp.Sub("s.toml"), "--enable-fault-injection", "--shards", "1"});
  REQUIRE(server.Start());
  auto flaky = PutAll(server, "flaky", 100, "f");
  auto doomed = PutAll(server, "doomed", 100, "d");
  // flaky: two failed attempts (~1 s and ~2 s apart), then delivered.
  std::string flaky_root = server.data_dir() + "/delivered/flaky";
  REQUIRE(test::WaitFor([&] { return test::DeliveredRecords(flaky_root).size() == 100; }));
  CHECK(Sorted(test::DeliveredRecords(flaky_root)) == Sorted(flaky));
  CHECK(server.log().find("attempt 1 failed, retrying in") != std::string::npos);
  // doomed: straight to the backup store.
  std::string backup = server.data_dir() + "/backup/doomed";
  REQUIRE(test::WaitFor([&] { return test::DeliveredFiles(backup).size() >= 2; }));
  CHECK(test::DeliveredFiles(server.data_dir() + "/delivered/doomed").empty());
  std::string sseg;
  for (auto& f : test::DeliveredFiles(backup)) {
    CHECK(f.rfind("directory-failed/", 0) == 0);
    if (f.ends_with(".sseg")) sseg = backup + "/" + f;
    if (f.ends_with(".json"))
      CHECK(test::ReadFile(backup + "/" + f).find("\"errorCode\":\"Directory.PermanentFailure\"") != std::string::npos);
  }
  REQUIRE_FALSE(sseg.empty());
  std::string out, err;
  CHECK(test::RunCommand({test::BinaryPath("sluice"), "inspect", "--segment-file", sseg}, &out, &err) == 0);
  CHECK(out.find("stream:     doomed") != std::string::npos);
  CHECK(out.find("records:    100") != std::string::npos);
  // Replay the whole backup directory into another stream.
  int rc = test::RunCommand({test::BinaryPath("sluice"), "replay", "--addr", server.addr(), "--stream", "target", backup},
                            &out, &err);
  INFO(err);
  CHECK(rc == 0);
  CHECK(err.find("100 records acked, 0 failed") != std::string::npos);
  std::string target_root = server.data_dir() + "/delivered/target";
  REQUIRE(test::WaitFor([&] { return test::DeliveredRecords(target_root).size() == 100; }));
  CHECK(Sorted(test::DeliveredRecords(target_root)) == Sorted(doomed));
  CHECK(server.Stop() == 0);
}

TEST_CASE("Delivery: a failing backup store keeps the segment in storage until it works",
          "[integration][delivery][backup]") {
  TempDir tmp;
  { std::ofstream(tmp.Sub("blocker")) << "not a directory"; }
  auto config = [&](const std::string& backup) {
    WriteConfig(tmp.Sub("s.toml"), "[[stream]]\nname = \"doomed\"\nappend_delimiter = true\n"
                                   "buffering = { size_mib = 1, interval_s = 0 }\n[stream.fault]\npermanent = true\n"
                                   "[stream.backup]\npath = \"" + backup + "\"\n");
  };
  config(tmp.Sub("blocker") + "/backup");
  TestServer server(tmp.Sub("data"), {"--config", tmp.Sub("s.toml"), "--enable-fault-injection"});
  REQUIRE(server.Start());
  auto recs = PutAll(server, "doomed", 50, "keep");
  REQUIRE(test::WaitFor([&] { return server.log().find("pausing the stream") != std::string::npos; }));
  CHECK(server.Stop() == 0);
  CHECK(Sorted(test::StoredRecords(server.data_dir(), "doomed")) == Sorted(recs));
  // With a working backup store the segments move there on the next run.
  config(tmp.Sub("backup-ok"));
  REQUIRE(server.Start());
  REQUIRE(test::WaitFor([&] { return test::DeliveredFiles(tmp.Sub("backup-ok")).size() >= 2; }));
  CHECK(server.Stop() == 0);
  CHECK(test::StoredRecords(server.data_dir(), "doomed").empty());
}

TEST_CASE("Delivery: every acked record is delivered after SIGKILLs during delivery", "[integration][delivery][crash]") {
  TempDir tmp;
  WriteConfig(tmp.Sub("s.toml"), R"(
[[stream]]
name = "default"
append_delimiter = true
compression = "gzip"
buffering = { size_mib = 1, interval_s = 0 }
)");
  TestServer server(tmp.Sub("data"), {"--config", tmp.Sub("s.toml")});
  const int kLines = 200000;
  {
    std::ofstream in(tmp.Sub("in.txt"));
    for (int i = 0; i < kLines; i++) in << "line-" << i << "-" << std::string(80, 'z') << "\n";
  }
  std::mt19937 rng(std::random_device{}());
  std::unordered_set<int> acked;
  for (int cycle = 0; cycle < 3; cycle++) {
    REQUIRE(server.Start());
    std::string acked_path = tmp.Sub("acked-" + std::to_string(cycle));
    pid_t put = test::SpawnCommand({test::BinaryPath("sluice"), "put", "--addr", server.addr(), "--acked-out",
                                    acked_path, "--batch", "250"},
                                   tmp.Sub("put.out"), tmp.Sub("put.err"), tmp.Sub("in.txt"));
    // Kill at a random moment after the first ack: a fixed sleep raced the client's start on a
    // loaded CI host and killed before any ack in all three cycles, which proved nothing.
    REQUIRE(test::WaitFor([&] {
      std::error_code ec;
      return std::filesystem::file_size(acked_path, ec) > 0 && !ec;
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
    server.Kill();
    test::WaitCommand(put);
    std::ifstream a(acked_path);
    int n;
    while (a >> n) acked.insert(n);
  }
  // A last clean run delivers what the crashes left behind.
  REQUIRE(server.Start());
  std::string root = server.data_dir() + "/delivered/default";
  auto delivered_set = [&] {
    std::unordered_set<std::string> s;
    for (auto& r : test::DeliveredRecords(root)) s.insert(r);
    return s;
  };
  auto all_delivered = [&] {
    auto s = delivered_set();
    for (int n : acked)
      if (!s.count("line-" + std::to_string(n) + "-" + std::string(80, 'z'))) return false;
    return true;
  };
  CHECK(test::WaitFor(all_delivered, std::chrono::seconds(60)));
  auto records = test::DeliveredRecords(root);
  auto unique = delivered_set();
  INFO("acked " << acked.size() << ", delivered " << records.size() << " (" << unique.size() << " unique)");
  CHECK(acked.size() > 0);
  CHECK(server.Stop() == 0);
}
