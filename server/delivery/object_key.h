// Object names laid out like Firehose's S3 keys, and its prefix expression language.
//
//   <evaluated prefix><stream>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<segment id><ext>
//
// Expressions (Firehose's S3 prefix language): !{timestamp:<pattern>} (Java DateTimeFormatter letters
// yyyy yy MM dd DDD HH mm ss, 'quoted literals', other punctuation as is),
// !{firehose:random-string} (11 characters), !{firehose:error-output-type} (error prefix only),
// !{partitionKeyFromQuery:k} and !{partitionKeyFromLambda:k} (dynamic partitioning: the keys
// of a record from the MetadataExtraction query or the Lambda's metadata.partitionKeys).
// Every time is the arrival time of the segment's oldest record, in UTC.
// Deviation, on purpose: random-string is derived from the segment id and its position, so a
// redelivered segment gets the same name and overwrites instead of duplicating.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::server {

struct PrefixContext {
  int64_t time_ms = 0;
  std::string_view segment_id;
  std::string_view error_output_type;  // empty outside error prefixes
  const std::map<std::string, std::string>* query_keys = nullptr;   // partitionKeyFromQuery
  const std::map<std::string, std::string>* lambda_keys = nullptr;  // partitionKeyFromLambda
};

// The partition keys a prefix references.
struct PrefixKeys {
  std::set<std::string> query;
  std::set<std::string> lambda;
  bool random = false;  // uses !{firehose:random-string}
  bool empty() const { return query.empty() && lambda.empty(); }
};
// REQUIRES: ValidatePrefix(tmpl) succeeded.
PrefixKeys ReferencedKeys(std::string_view tmpl);

// Checks syntax and placement rules. Returns kInvalidArgument naming the problem.
base::Status ValidatePrefix(std::string_view tmpl, bool is_error_prefix);
// The prefix actually used: Firehose appends !{timestamp:yyyy/MM/dd/HH/} to a prefix that has
// no timestamp expression (plain concatenation, as observed), and uses it alone when empty.
std::string EffectivePrefix(std::string_view configured);
// A prefix with partition keys is used as configured (Firehose adds no default timestamp to a
// dynamic partitioning prefix).
std::string EffectivePartitionPrefix(std::string_view configured);
// Default error prefix: "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH/}".
std::string EffectiveErrorPrefix(std::string_view configured);
// REQUIRES: ValidatePrefix(tmpl) succeeded. A partition key missing from ctx evaluates to "".
std::string EvaluatePrefix(std::string_view tmpl, const PrefixContext& ctx);
// For dynamic partitioning: kInvalidArgument when a referenced key is missing from ctx, or when
// the result is not a safe relative path (a "." or ".." segment, a control character, a leading
// '/', longer than 1024 bytes), since key values come from records.
base::Result<std::string> EvaluatePartitionPrefix(std::string_view tmpl, const PrefixContext& ctx);
// "<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<segment id><ext>".
std::string ObjectName(std::string_view stream, uint32_t version, int64_t time_ms,
                       std::string_view segment_id, std::string_view extension);

}  // namespace sluice::server
