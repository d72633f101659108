// Record de-aggregation (Firehose's RecordDeAggregation processor).
#pragma once

#include <string_view>
#include <vector>

#include "base/status.h"
#include "server/processing/spec.h"

namespace sluice::server {

inline constexpr size_t kMaxSubRecords = 500;  // Firehose's limit per record

// Splits one record into its sub-records (views into `record`), appended to `out`.
//   kJson      - concatenated JSON objects ({"a":1}{"a":2}, whitespace between allowed); each
//                piece is checked for balanced brackets and strings, not fully parsed
//   kDelimited - split on `delimiter`; empty pieces are skipped
// kInvalidArgument (the record goes to the error output) for text that is not concatenated
// objects, or more than 500 sub-records.
base::Status DeAggregate(ProcessingSpec::DeAggregation kind, std::string_view delimiter, std::string_view record,
                         std::vector<std::string_view>* out);

}  // namespace sluice::server
