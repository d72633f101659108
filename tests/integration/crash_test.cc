// Integration: kill -9 the server while `sluice put` streams records; every acked line must be
// in storage after the restart.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "protocol/segment_file.h"
#include "tests/support/delivered.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::TempDir;
using sluice::test::TestServer;

namespace {

std::string Line(int cycle, int i) {
  // 100-byte records, unique per cycle and line.
  char head[32];
  std::snprintf(head, sizeof(head), "c%02d-%09d-", cycle, i);
  std::string s(head);
  s.resize(100, 'p');
  return s;
}

}  // namespace

TEST_CASE("Crash: every acked record survives SIGKILL at a random moment", "[integration][crash]") {
  // Plain, and with the write-ahead log (zstd) and the records' files (lz4) compressed: recovery
  // must read either back whole.
  const bool compressed = GENERATE(false, true);
  INFO("compressed " << compressed);
  TempDir tmp;
  TestServer server(tmp.Sub("data"), compressed ? std::vector<std::string>{"--wal-compression", "zstd",
                                                                            "--records-compression", "lz4"}
                                                : std::vector<std::string>{});
  const int kCycles = 3;
  const int kLines = 300000;
  // The seed is printed so a failure can be repeated: SLUICE_TEST_SEED=<seed> ctest -R Crash.
  const char* seed_env = std::getenv("SLUICE_TEST_SEED");
  const uint32_t seed = seed_env ? static_cast<uint32_t>(std::strtoul(seed_env, nullptr, 10)) : std::random_device{}();
  std::printf("crash test seed %u (repeat with SLUICE_TEST_SEED=%u)\n", seed, seed);
  std::fflush(stdout);
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::unordered_set<std::string> acked_lines;
  uint64_t total_acked = 0;
  for (int cycle = 0; cycle < kCycles; cycle++) {
    {
      std::ofstream in(tmp.Sub("in.txt"), std::ios::trunc);
      for (int i = 0; i < kLines; i++) in << Line(cycle, i) << "\n";
    }
    std::string acked_path = tmp.Sub("acked-" + std::to_string(cycle) + ".txt");
    REQUIRE(server.Start());
    pid_t put = test::SpawnCommand({test::BinaryPath("sluice"), "put", "--addr", server.addr(),
                                    "--acked-out", acked_path, "--batch", "200", "--in-flight", "16"},
                                   tmp.Sub("put.out"), tmp.Sub("put.err"), tmp.Sub("in.txt"));
    // Kill at a random moment after the first ack (a kill before any ack would prove nothing).
    REQUIRE(test::WaitFor([&] {
      std::error_code ec;
      return std::filesystem::file_size(acked_path, ec) > 0 && !ec;
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    server.Kill();
    int rc = test::WaitCommand(put);
    INFO("put exit " << rc << ": " << test::ReadFile(tmp.Sub("put.err")));
    // 0: it finished before the kill; 1: the server died under it.
    CHECK((rc == 0 || rc == 1));
    std::ifstream acked(acked_path);
    int n;
    while (acked >> n) {
      acked_lines.insert(Line(cycle, n));
      total_acked++;
    }
  }
  // Every acked line is either delivered or still in storage (inspect reads the data dir of
  // the killed server: the lock died with it).
  std::unordered_set<std::string> stored;
  for (auto& r : test::StoredRecords(server.data_dir(), "default")) stored.insert(r);
  uint64_t delivered_copies = 0;
  for (auto& r : test::DeliveredRecords(server.data_dir() + "/delivered/default")) {
    stored.insert(r);
    delivered_copies++;
  }
  uint64_t missing = 0;
  for (const auto& l : acked_lines) missing += stored.count(l) == 0;
  INFO("acked " << total_acked << ", stored or delivered " << stored.size() << ", delivered copies "
                << delivered_copies);
  CHECK(total_acked == acked_lines.size());
  CHECK(missing == 0);
  CHECK(stored.size() >= acked_lines.size());
  // After the crashes the server starts again on the same data and serves.
  REQUIRE(server.Start());
  CHECK(server.Stop() == 0);
}

namespace {

// Records of every backed-up segment file under `root`.
std::vector<std::string> BackedUpRecords(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!std::filesystem::exists(root, ec)) return out;
  for (auto& e : std::filesystem::recursive_directory_iterator(root, ec)) {
    if (e.path().extension() != ".sseg") continue;
    std::string bytes = test::ReadFile(e.path().string());
    auto seg = proto::ParseSegmentFile(bytes);
    if (!seg.ok()) continue;
    seg->ForEach([&](std::string_view r) { out.emplace_back(r); });
  }
  return out;
}

}  // namespace

TEST_CASE("Crash: SIGKILL exactly at each fault point loses nothing acked", "[integration][crash]") {
  // (point, stream): "good" delivers to a directory; "doomed" always fails, so its segments go
  // to the backup store; "staged" runs a processor, so its records pass through partitions.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"commit.after_write", "good"},
      {"seal.before_write", "good"},
      {"deliver.before_delete", "good"},
      {"backup.before_delete", "doomed"},
      {"process.before_commit", "staged"},
      {"deliver.before_delete", "staged"},
  };
  for (const auto& [point, stream] : cases) {
    DYNAMIC_SECTION(point << " " << stream) {
      TempDir tmp;
      {
        std::ofstream cfg(tmp.Sub("s.toml"));
        cfg << "[[stream]]\nname = \"good\"\nappend_delimiter = true\nbuffering = { size_mib = 1, interval_s = 0 }\n"
               "[[stream]]\nname = \"doomed\"\nappend_delimiter = true\nretry_duration_s = 0\n"
               "buffering = { size_mib = 1, interval_s = 0 }\n[stream.fault]\npermanent = true\n"
               "[[stream]]\nname = \"staged\"\nappend_delimiter = true\nbuffering = { size_mib = 1, interval_s = 0 }\n"
               "[[stream.processors]]\ntype = \"RecordDeAggregation\"\nSubRecordType = \"DELIMITED\"\nDelimiter = \"fA==\"\n";
        std::ofstream in(tmp.Sub("in.txt"));
        for (int i = 0; i < 60000; i++) in << Line(7, i) << "\n";
      }
      TestServer server(tmp.Sub("data"), {"--config", tmp.Sub("s.toml"), "--enable-fault-injection"});
      setenv("SLUICE_FAULT_POINT", point.c_str(), 1);
      setenv("SLUICE_FAULT_AFTER", "3", 1);
      bool started = server.Start();
      unsetenv("SLUICE_FAULT_POINT");
      unsetenv("SLUICE_FAULT_AFTER");
      REQUIRE(started);
      pid_t put = test::SpawnCommand({test::BinaryPath("sluice"), "put", "--addr", server.addr(), "--stream", stream,
                                      "--acked-out", tmp.Sub("acked.txt"), "--batch", "200"},
                                     tmp.Sub("put.out"), tmp.Sub("put.err"), tmp.Sub("in.txt"));
      test::WaitCommand(put);
      // The put is done or broken by the death; either way the server must be dead by now or soon.
      int rc = server.WaitExit();
      INFO("point " << point << ", sluiced exit " << rc << "\n" << server.log());
      REQUIRE(rc == 128 + SIGKILL);
      REQUIRE(server.log().find("fault point reached") != std::string::npos);
      std::set<std::string> acked;
      {
        std::ifstream a(tmp.Sub("acked.txt"));
        int n;
        while (a >> n) acked.insert(Line(7, n));
      }
      // Restart without the fault: everything acked reaches its place.
      REQUIRE(server.Start());
      const std::string dir = stream == "doomed" ? server.data_dir() + "/backup/doomed" : server.data_dir() + "/delivered/" + stream;
      auto landed = [&] {
        auto v = stream == "doomed" ? BackedUpRecords(dir) : test::DeliveredRecords(dir);
        return std::set<std::string>(v.begin(), v.end());
      };
      size_t missing = 0;
      test::WaitFor([&] {
        auto got = landed();
        missing = 0;
        for (const auto& a : acked) missing += got.count(a) == 0;
        return missing == 0;
      });
      INFO("after the restart:\n" << server.log());
      CHECK(missing == 0);
      CHECK(server.Stop() == 0);
      CHECK(acked.size() > 0);
    }
  }
}
