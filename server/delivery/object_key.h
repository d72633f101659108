// Object names laid out like Firehose's S3 keys, and its prefix expression language.
//
//   <evaluated prefix><stream>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<segment id><ext>
//
// Expressions (reference §3.2): !{timestamp:<pattern>} (Java DateTimeFormatter letters
// yyyy yy MM dd DDD HH mm ss, 'quoted literals', other punctuation as is),
// !{firehose:random-string} (11 characters), !{firehose:error-output-type} (error prefix only).
// Every time is the arrival time of the segment's oldest record, in UTC.
// Deviation, on purpose: random-string is derived from the segment id and its position, so a
// redelivered segment gets the same name and overwrites instead of duplicating.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::server {

struct PrefixContext {
  int64_t time_ms = 0;
  std::string_view segment_id;
  std::string_view error_output_type;  // empty outside error prefixes
};

// Checks syntax and placement rules. Returns kInvalidArgument naming the problem.
base::Status ValidatePrefix(std::string_view tmpl, bool is_error_prefix);
// The prefix actually used: Firehose appends !{timestamp:yyyy/MM/dd/HH/} to a prefix that has
// no timestamp expression (plain concatenation, as observed), and uses it alone when empty.
std::string EffectivePrefix(std::string_view configured);
// Default error prefix: "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH/}".
std::string EffectiveErrorPrefix(std::string_view configured);
// REQUIRES: ValidatePrefix(tmpl) succeeded.
std::string EvaluatePrefix(std::string_view tmpl, const PrefixContext& ctx);
// "<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<segment id><ext>".
std::string ObjectName(std::string_view stream, uint32_t version, int64_t time_ms,
                       std::string_view segment_id, std::string_view extension);

}  // namespace sluice::server
