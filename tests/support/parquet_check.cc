#include "tests/support/parquet_check.h"

#include <filesystem>

#include "tests/support/peer.h"
#include "tests/support/test_server.h"

namespace sluice::test {
namespace {

// Hinnant's civil_from_days.
void Civil(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

}  // namespace

std::string IsoDate(int32_t days) {
  int64_t y;
  unsigned m, d;
  Civil(days, &y, &m, &d);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  return buf;
}

std::string IsoMicros(int64_t micros) {
  int64_t secs = micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
  int64_t frac = micros - secs * 1000000;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%sT%02lld:%02lld:%02lld.%06lldZ", IsoDate(static_cast<int32_t>(days)).c_str(),
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60), static_cast<long long>(frac));
  return buf;
}

ParquetCheck CheckParquet(const std::string& columns, const std::string& expected_path,
                          const std::vector<std::string>& files) {
  ParquetCheck r;
  const std::string node = NodePath();
  if (node.empty() || !std::filesystem::exists(SourcePath("tests/peers/node_modules/@duckdb/node-api")) ||
      !std::filesystem::exists(SourcePath("tests/peers/node_modules/hyparquet")))
    return r;
  r.ran = true;
  std::vector<std::string> argv{node, SourcePath("tests/peers/parquet_check.mjs"), "--schema", columns, "--expect",
                                expected_path};
  argv.insert(argv.end(), files.begin(), files.end());
  std::string err;
  int code = RunCommand(argv, &r.output, &err);
  r.ok = code == 0 && r.output.find("\"ok\":true") != std::string::npos;
  if (!r.ok) r.output += err;
  return r;
}

}  // namespace sluice::test
