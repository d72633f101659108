// Record format conversion (Firehose's DataFormatConversionConfiguration): a segment's JSON
// records -> one Apache Parquet object, typed by the stream's schema. Records that do not
// convert go to the error output as format-conversion-failed; the rest are delivered.
//
// Settings: [stream.conversion] (docs/operations.md, "Record format conversion"). The writer and
// the JSON deserializers live in parquet/.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "parquet/json_converter.h"
#include "parquet/schema.h"
#include "parquet/writer.h"

namespace sluice::server {

struct ConversionConfig {
  // Firehose's Enabled; conversion is on when enabled and `columns` is set. Default: true.
  bool enabled = true;
  // The schema (standing in for the Glue table): a Hive column list,
  // "id bigint, user struct<name:string,age:int>, tags array<string>". Default: none (off).
  std::string columns;
  // InputFormatConfiguration.Deserializer: openx (OpenXJsonSerDe) | hive (HiveJsonSerDe).
  std::string input_format = "openx";
  bool case_insensitive = true;                        // OpenX CaseInsensitive
  bool convert_dots_in_json_keys_to_underscores = false;  // OpenX
  std::map<std::string, std::string> column_to_json_key_mappings;  // OpenX: column -> JSON key
  // Hive TimestampFormats: Joda patterns (or "millis"), separated by '|'. Default: none.
  std::string timestamp_formats;
  // ParquetSerDe: snappy (default) | gzip | zstd (ours) | uncompressed.
  std::string compression = "snappy";
  uint64_t block_size_bytes = 256ull << 20;  // >= 64 MiB (Firehose's minimum)
  uint64_t page_size_bytes = 1u << 20;       // >= 64 KiB
  bool enable_dictionary_compression = true;
  std::string writer_version = "v1";         // v1 | v2

  // Parsed by ValidateConversion (shared, immutable: stream configs are copied and published).
  std::shared_ptr<const parquet::Schema> schema;
  parquet::ConverterOptions converter;
  parquet::WriterOptions writer;

  bool on() const { return enabled && !columns.empty(); }
};

// Parses the schema and options into `c`'s parsed fields; kInvalidArgument names the setting.
base::Status ValidateConversion(ConversionConfig* c);

// The outcome of converting one segment.
struct ConvertedObject {
  std::string body;  // the Parquet file ("" when no record converted)
  uint32_t rows = 0;
  uint64_t converted_bytes = 0;  // input bytes of the records that converted
  struct Failure {
    uint32_t index;  // in the segment's records
    std::string message;
  };
  std::vector<Failure> failures;
};

ConvertedObject ConvertRecords(const ConversionConfig& c, const std::vector<std::string_view>& records);

}  // namespace sluice::server
