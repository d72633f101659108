#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "server/delivery/backoff.h"
#include "server/delivery/file_util.h"
#include "server/delivery/object_key.h"
#include "tests/support/temp_dir.h"

using namespace sluice::server;

namespace {
// 2019-08-09 20:55:09.123 UTC
constexpr int64_t kTime = 1565384109123;
}

TEST_CASE("ObjectKey: default prefix and object name follow Firehose's S3 layout", "[server][object_key]") {
  std::string prefix = EffectivePrefix("");
  CHECK(EvaluatePrefix(prefix, {kTime, "seg", ""}) == "2019/08/09/20/");
  CHECK(ObjectName("clicks", 3, kTime, "00000001000000000000000000000005", ".gz") ==
        "clicks-3-2019-08-09-20-55-09-00000001000000000000000000000005.gz");
  // A static prefix gets the timestamp appended by plain concatenation (observed behaviour).
  CHECK(EvaluatePrefix(EffectivePrefix("legacy"), {kTime, "seg", ""}) == "legacy2019/08/09/20/");
}

TEST_CASE("ObjectKey: timestamp patterns, literals and firehose expressions", "[server][object_key]") {
  std::string p = "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/'x'!{timestamp:'h'HH}/";
  REQUIRE(ValidatePrefix(p, false).ok());
  CHECK(EvaluatePrefix(p, {kTime, "seg", ""}) == "year=2019/month=08/day=09/'x'h20/");
  std::string r = "!{firehose:random-string}/!{firehose:random-string}/";
  std::string a = EvaluatePrefix(r, {kTime, "seg-1", ""});
  CHECK(a.size() == 24);
  CHECK(a.substr(0, 11) != a.substr(12, 11));              // a new value per occurrence
  CHECK(a == EvaluatePrefix(r, {kTime, "seg-1", ""}));      // but stable for a redelivery
  CHECK(a != EvaluatePrefix(r, {kTime, "seg-2", ""}));
  std::string e = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM}/";
  REQUIRE(ValidatePrefix(e, true).ok());
  CHECK(EvaluatePrefix(e, {kTime, "seg", "directory-failed"}) == "errors/directory-failed/2019/08/");
}

TEST_CASE("ObjectKey: invalid prefixes are refused with the reason", "[server][object_key]") {
  CHECK(ValidatePrefix("!{timestamp:yyyy", false).message().find("without a closing") != std::string::npos);
  CHECK(ValidatePrefix("!{nope}", false).message().find("unknown expression") != std::string::npos);
  CHECK(ValidatePrefix("!{timestamp:QQ}", false).message().find("unsupported timestamp pattern") != std::string::npos);
  CHECK(ValidatePrefix("!{firehose:error-output-type}/", false).message().find("only in error_output_prefix") !=
        std::string::npos);
  CHECK(ValidatePrefix("!{timestamp:yyyy}/", true).message().find("must contain") != std::string::npos);
  CHECK(ValidatePrefix(std::string(600, 'a'), false).message().find("512") != std::string::npos);
}

TEST_CASE("Backoff: 1 s doubling, +-15% jitter, capped at 120 s", "[server][backoff]") {
  CHECK(BackoffMs(1, 0.5) == 1000);
  CHECK(BackoffMs(2, 0.5) == 2000);
  CHECK(BackoffMs(3, 0.5) == 4000);
  CHECK(BackoffMs(7, 0.5) == 64000);
  CHECK(BackoffMs(8, 0.5) == 120000);
  CHECK(BackoffMs(50, 0.5) == 120000);
  CHECK(BackoffMs(1, 0.0) == 850);
  CHECK(BackoffMs(1, 0.999999) == 1149);
  CHECK(BackoffMs(8, 0.0) == 102000);
}

// Issue 13: "directory.prefix ../../../escape/" was accepted and wrote outside directory.path.
TEST_CASE("ObjectKey: prefixes that would leave the root are refused", "[server][object_key][regression]") {
  for (const char* p : {"../../../escape/", "a/../../b/", "/etc/", "./x/", "a/./b/", "logs/..", "!{timestamp:yyyy}/../"}) {
    INFO(p);
    auto st = ValidatePrefix(p, false);
    CHECK(!st.ok());
    CHECK(st.message().find("leave its root") != std::string::npos);
  }
  CHECK(!ValidatePrefix("!{firehose:error-output-type}/../", true).ok());
  // Names with dots that are not whole segments stay allowed.
  for (const char* p : {"a..b/", "v1.2/", "...x/", "logs/", ""}) {
    INFO(p);
    CHECK(ValidatePrefix(p, false).ok());
  }
}

TEST_CASE("WriteFileUnder: the final path is checked, whatever built it", "[server][file_util][regression]") {
  for (const char* rel : {"../x", "a/../../x", "/abs", "a/./b", "", "a\nb", ".."}) {
    INFO(rel);
    auto st = sluice::server::WriteFileUnder("/nonexistent-root", rel, "data");
    CHECK(st.code() == sluice::base::Code::kInvalidArgument);
  }
  CHECK(sluice::server::CheckRelativePath("a/b..c/d.e").ok());
}

// Large files go out with O_DIRECT in aligned steps and the unaligned tail buffered; small ones,
// and file systems that refuse O_DIRECT (tmpfs before Linux 6.6), buffered throughout. Every
// size around the step and alignment edges reads back byte for byte, with no temp file left.
TEST_CASE("WriteFileAtomically: every size reads back whole through direct and buffered writes", "[server][file_util]") {
  sluice::test::TempDir disk;
  std::vector<std::string> roots = {disk.path()};
  std::string shm;
  if (std::filesystem::is_directory("/dev/shm")) {
    shm = "/dev/shm/sluice-file-util-" + std::to_string(getpid());
    roots.push_back(shm);
  }
  const size_t step = 256u << 10;
  for (const std::string& root : roots) {
    for (size_t size : {size_t(0), size_t(1), size_t(4095), size_t(4096), step - 1, step, step + 1, step + 4096,
                        3 * step + 777, size_t(5u << 20) + 12345}) {
      INFO(root << " size " << size);
      std::string data(size, '\0');
      for (size_t i = 0; i < size; i++) data[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
      const std::string path = root + "/d/f-" + std::to_string(size);
      REQUIRE(WriteFileAtomically(path, data).ok());
      std::ifstream in(path, std::ios::binary);
      std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      CHECK(back.size() == size);
      CHECK(back == data);
    }
    size_t files = 0, temps = 0;
    for (const auto& e : std::filesystem::directory_iterator(root + "/d")) {
      files++;
      temps += e.path().filename().string().find(".tmp-") != std::string::npos;
    }
    CHECK(files == 10);
    CHECK(temps == 0);
  }
  if (!shm.empty()) std::filesystem::remove_all(shm);
}
