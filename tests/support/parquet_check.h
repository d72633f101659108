// CheckParquet: runs tests/peers/parquet_check.mjs (DuckDB and hyparquet read the files and
// compare every row with the expected values). Also the canonical forms the script expects.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::test {

struct ParquetCheck {
  bool ran = false;  // node and the readers are installed (scripts/setup)
  bool ok = false;
  std::string output;  // the script's summary line, or its first differences
};

// `columns`: the Hive column list the files were written with (first column a unique bigint);
// `expected_path`: a file of expected rows, one canonical JSON object per line.
ParquetCheck CheckParquet(const std::string& columns, const std::string& expected_path,
                          const std::vector<std::string>& files);

// Canonical forms: a timestamp's microseconds since the epoch (as the expected file has them)
// from a civil time, and the ISO-8601 text of microseconds.
std::string IsoMicros(int64_t micros);
std::string IsoDate(int32_t days);

}  // namespace sluice::test
