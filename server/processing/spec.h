// ProcessingSpec: a stream's processors (Firehose's ProcessingConfiguration), parsed and checked.
//
// Processors run in Firehose's order whatever order they are declared in:
//   RecordDeAggregation -> Lambda (an HTTP function) -> MetadataExtraction (jq 1.6)
//   -> AppendDelimiterToRecord -> compression at the destination.
// A stream with any of the first three is "staged": its sealed segments are processed first and
// the output is buffered again per evaluated prefix (server/delivery/partitions.h) before it is
// delivered. AppendDelimiterToRecord alone is applied when an object is built.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace sluice::server {

// One declared processor: Firehose's Type and its Parameters (names and string values as
// Firehose's API takes them).
struct ProcessorConfig {
  std::string type;
  std::map<std::string, std::string> parameters;
};

struct ProcessingSpec {
  enum class DeAggregation { kNone, kJson, kDelimited };
  // RecordDeAggregation: SubRecordType JSON | DELIMITED, Delimiter (base64, decoded here).
  DeAggregation deaggregation = DeAggregation::kNone;
  std::string delimiter;
  // Lambda: LambdaArn is the function's URL (http:// or https://), POSTed the Lambda event.
  std::string lambda_url;
  uint32_t lambda_retries = 3;              // NumberOfRetries 0..300, default 3
  uint64_t lambda_buffer_bytes = 1 << 20;   // BufferSizeInMBs 0.2..3, default 1 (MB = MiB here)
  uint32_t lambda_interval_s = 60;          // BufferIntervalInSeconds 0..900, default 60
  uint32_t lambda_timeout_s = 300;          // TimeoutInSeconds 1..900 (ours; Lambda's max is 300)
  // MetadataExtraction: MetadataExtractionQuery (jq 1.6, compiled at configuration time),
  // JsonParsingEngine must be JQ-1.6.
  std::string jq_query;
  // AppendDelimiterToRecord.
  bool append_delimiter = false;

  bool staged() const { return deaggregation != DeAggregation::kNone || !lambda_url.empty() || !jq_query.empty(); }
  // Buffering of the stream's segments before processing: the Lambda's hints, or as soon as
  // possible (~100 ms) without a Lambda, since the output buffers again per partition.
  uint64_t source_buffer_bytes() const { return lambda_url.empty() ? 1 << 20 : lambda_buffer_bytes; }
  int64_t source_interval_ms() const { return lambda_url.empty() ? 0 : int64_t(lambda_interval_s) * 1000; }
};

// The processor types and their parameters, for messages and docs.
inline constexpr const char* kProcessorTypes = "RecordDeAggregation, Lambda, MetadataExtraction, AppendDelimiterToRecord";

// Checks types, parameter names and values (compiling the jq query) and fills `out`.
// kInvalidArgument names the processor, the parameter and what is allowed; a jq query that does
// not compile gets jq's own message.
base::Status ParseProcessors(const std::vector<ProcessorConfig>& processors, ProcessingSpec* out);

}  // namespace sluice::server
