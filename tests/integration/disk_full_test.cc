// Integration: the data dir's file system fills up. Puts are refused with a retryable
// StorageFailure naming the cause, nothing acknowledged is lost, the server stays up (Debian's
// RocksDB aborts if it ever meets ENOSPC in its WAL, so sluiced must stop writing first), and
// puts work again once space returns.
#include <catch2/catch.hpp>

#include <sys/mount.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "protocol/error_codes.h"
#include "client-lib/client.h"
#include "tests/support/delivered.h"
#include "tests/support/raw_socket.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::TempDir;
using sluice::test::TestServer;

namespace {

// A size-limited tmpfs, unmounted at the end. Needs root (CAP_SYS_ADMIN), as CI runs.
struct SmallFs {
  std::string path;
  bool mounted = false;
  SmallFs(std::string p, const std::string& size) : path(std::move(p)) {
    std::filesystem::create_directories(path);
    mounted = ::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  }
  bool Resize(const std::string& size) {
    return ::mount("tmpfs", path.c_str(), "tmpfs", MS_REMOUNT, ("size=" + size).c_str()) == 0;
  }
  ~SmallFs() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
};

}  // namespace

TEST_CASE("Disk full: puts are refused before the disk is full, nothing acked is lost, puts resume",
          "[integration][diskfull]") {
  TempDir tmp;
  SmallFs fs(tmp.Sub("small"), "64m");
  if (!fs.mounted) {
    SLUICE_SKIP("cannot mount a tmpfs here (needs root: CAP_SYS_ADMIN)");
  }
  {
    std::ofstream cfg(tmp.Sub("s.toml"));
    // Delivered objects go outside the small file system; the data dir fills with records.
    cfg << "shard_commit_budget = 8388608\n[[stream]]\nname = \"s\"\nappend_delimiter = true\n"
        << "buffering = { size_mib = 128, interval_s = 900 }\n[stream.directory]\npath = \""
        << tmp.Sub("delivered") << "\"\n";
  }
  TestServer server(fs.path + "/data", {"--config", tmp.Sub("s.toml"), "--min-free-mib", "24"});
  REQUIRE(server.Start());
  client::ClientOptions o;
  o.port = server.port();
  auto c = client::Client::Connect(o);
  REQUIRE(c.ok());
  std::set<std::string> acked;
  std::string first_error;
  std::string filler(900, 'f');
  uint64_t n = 0;
  bool refused = false;
  for (int batch = 0; batch < 400 && !refused; batch++) {
    std::vector<std::string> recs;
    for (int i = 0; i < 200; i++) recs.push_back(std::to_string(n++) + "-" + filler);
    std::vector<std::string_view> views(recs.begin(), recs.end());
    auto r = c.value()->PutRecordBatch("s", views);
    REQUIRE(r.ok());
    for (size_t i = 0; i < recs.size(); i++) {
      if (r->records[i].ok()) {
        acked.insert(recs[i].substr(0, recs[i].find('-')));
      } else {
        CHECK(r->records[i].error_code == static_cast<uint16_t>(proto::WireError::kStorageFailure));
        if (first_error.empty()) first_error = r->records[i].error_message;
        refused = true;
      }
    }
  }
  REQUIRE(refused);
  INFO("the first refusal: " << first_error);
  CHECK(first_error.find("disk nearly full") != std::string::npos);
  CHECK(acked.size() > 1000);
  // Still up: the admin port answers, and a retry is refused the same way, not crashed on.
  test::RawSocket admin(server.admin_port());
  REQUIRE(admin.Send("PING\r\n"));
  admin.ShutdownWrite();
  bool closed = false;
  CHECK(admin.ReadUntilClose(5000, &closed) == "+PONG\r\n");
  std::vector<std::string_view> one = {"after-full"};
  auto again = c.value()->PutRecordBatch("s", one);
  REQUIRE(again.ok());
  CHECK(again->failed_count == 1);

  // Space returns: puts work again (within the 100 ms the free-space figure is cached).
  REQUIRE(fs.Resize("512m"));
  REQUIRE(test::WaitFor([&] {
    auto r = c.value()->PutRecordBatch("s", one);
    return r.ok() && r->failed_count == 0;
  }));
  acked.insert("after");
  c.value().reset();
  CHECK(server.Stop() == 0);
  // Every acknowledged record is still stored or was delivered (stopping seals open segments).
  std::set<std::string> stored;
  for (const auto& r : test::StoredRecords(server.data_dir(), "s")) stored.insert(r.substr(0, r.find('-')));
  for (const auto& r : test::DeliveredRecords(tmp.Sub("delivered"))) stored.insert(r.substr(0, r.find('-')));
  size_t missing = 0;
  for (const auto& a : acked) missing += stored.count(a) == 0;
  CHECK(missing == 0);
}
