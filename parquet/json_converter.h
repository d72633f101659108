// Converter: one JSON record -> shredded Parquet rows under a Schema, as Firehose's input
// deserializers read JSON (reference: docs/operations.md, "Record format conversion").
//
// A record holds one JSON object or several concatenated ({"a":1}{"a":2}: one row each); a
// record that is not JSON, holds something other than objects, or has a value that does not fit
// its column's type is refused whole with a reason (nothing of it is written). Keys that match no
// column are ignored; a missing key or null is a null.
//   OpenX JSON SerDe (the default): keys matched case-insensitively (unless case_insensitive is
//     off: then exactly), '.' in keys read as '_' when asked, a column may take another top-level
//     key (column_to_json_key); numbers and booleans in strings are accepted for numeric and
//     boolean columns; a string column takes any value (objects and arrays as their JSON text);
//     timestamps: ISO-8601 ("2026-11-30T12:00:00.123456789Z", offsets too),
//     "yyyy-[M]M-[d]d HH:mm:ss[.fffffffff]", epoch seconds (integer or fractional) and epoch
//     milliseconds (integers of 12 digits or more).
//   Hive JSON SerDe: keys case-insensitive; no numbers in strings; a string column takes strings,
//     numbers and booleans, not objects or arrays; timestamps in the timestamp_formats given (Joda
//     patterns: y M d H m s S Z and 'quoted' text; or "millis"), else
//     "yyyy-[M]M-[d]d HH:mm:ss[.fffffffff]".
// Both: integers must be whole and in range; decimals are rounded half up to the column's scale
// and refused beyond its precision (give long decimals as strings with OpenX to keep every
// digit: JSON numbers pass through a double); dates are "yyyy-[M]M-[d]d" or days since
// 1970-01-01; binary takes a string's bytes (UTF-8) as they are; timestamps are kept to the
// microsecond, in UTC.
// Thread: one owner.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "parquet/schema.h"
#include "parquet/writer.h"

namespace sluice::parquet {

struct ConverterOptions {
  enum class Input { kOpenX, kHive };
  Input input = Input::kOpenX;
  bool case_insensitive = true;      // OpenX CaseInsensitive
  bool dots_to_underscores = false;  // OpenX ConvertDotsInJsonKeysToUnderscores
  std::map<std::string, std::string> column_to_json_key;  // OpenX ColumnToJsonKeyMappings
  std::vector<std::string> timestamp_formats;             // Hive TimestampFormats
};

// "fmt1|fmt2" (how the stream settings and `sluice convert` hold the Hive SerDe's
// TimestampFormats list) -> the formats; "" -> none.
std::vector<std::string> SplitTimestampFormats(std::string_view list);

// Checks options against a schema (mapped columns exist, timestamp formats parse).
base::Status ValidateConverterOptions(const Schema& schema, const ConverterOptions& options);

class Converter {
 public:
  // `schema` must outlive the converter; `options` must have passed ValidateConverterOptions.
  Converter(const Schema& schema, ConverterOptions options);
  ~Converter();

  // Shreds `record` into `rows` (cleared first). kInvalidArgument says why the record does not
  // convert; `rows` is then empty.
  base::Status Convert(std::string_view record, Rows* rows);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses a timestamp as the OpenX SerDe does (text only), for tests and tools: microseconds
// since the epoch, UTC.
base::Result<int64_t> ParseTimestampText(std::string_view text);

}  // namespace sluice::parquet
