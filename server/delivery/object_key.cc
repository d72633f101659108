// Prefix expression evaluation and object naming.
#include "server/delivery/object_key.h"

#include "server/delivery/file_util.h"

#include <xxhash.h>

#include <cstdio>
#include <ctime>

namespace sluice::server {
namespace {

constexpr std::string_view kOpen = "!{";
constexpr std::string_view kTimestamp = "timestamp:";
constexpr std::string_view kRandom = "firehose:random-string";
constexpr std::string_view kErrorType = "firehose:error-output-type";
constexpr std::string_view kFromQuery = "partitionKeyFromQuery:";
constexpr std::string_view kFromLambda = "partitionKeyFromLambda:";

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

tm Utc(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  tm t;
  gmtime_r(&secs, &t);
  return t;
}

// Formats a DateTimeFormatter pattern; returns false on a letter run we do not support.
bool FormatTime(std::string_view pattern, const tm& t, std::string* out) {
  for (size_t i = 0; i < pattern.size();) {
    char c = pattern[i];
    if (c == '\'') {
      size_t end = pattern.find('\'', i + 1);
      if (end == std::string_view::npos) return false;
      if (end == i + 1) out->push_back('\'');  // '' is a literal quote
      else out->append(pattern.substr(i + 1, end - i - 1));
      i = end + 1;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
      out->push_back(c);
      i++;
      continue;
    }
    size_t run = 1;
    while (i + run < pattern.size() && pattern[i + run] == c) run++;
    char buf[16];
    std::string_view tok = pattern.substr(i, run);
    if (tok == "yyyy" || tok == "uuuu") std::snprintf(buf, sizeof(buf), "%04d", t.tm_year + 1900);
    else if (tok == "yy") std::snprintf(buf, sizeof(buf), "%02d", (t.tm_year + 1900) % 100);
    else if (tok == "MM") std::snprintf(buf, sizeof(buf), "%02d", t.tm_mon + 1);
    else if (tok == "dd") std::snprintf(buf, sizeof(buf), "%02d", t.tm_mday);
    else if (tok == "DDD") std::snprintf(buf, sizeof(buf), "%03d", t.tm_yday + 1);
    else if (tok == "HH") std::snprintf(buf, sizeof(buf), "%02d", t.tm_hour);
    else if (tok == "mm") std::snprintf(buf, sizeof(buf), "%02d", t.tm_min);
    else if (tok == "ss") std::snprintf(buf, sizeof(buf), "%02d", t.tm_sec);
    else return false;
    out->append(buf);
    i += run;
  }
  return true;
}

std::string RandomString(std::string_view segment_id, int occurrence) {
  uint64_t h = XXH3_64bits_withSeed(segment_id.data(), segment_id.size(), occurrence);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x-%02x", static_cast<uint32_t>(h), static_cast<uint32_t>(h >> 32) & 0xff);
  return buf;
}

// Walks the template, calling on_text / on_expr. Returns an error for a malformed expression.
template <typename TextFn, typename ExprFn>
base::Status Walk(std::string_view tmpl, TextFn on_text, ExprFn on_expr) {
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t open = tmpl.find(kOpen, i);
    if (open == std::string_view::npos) {
      on_text(tmpl.substr(i));
      break;
    }
    on_text(tmpl.substr(i, open - i));
    size_t close = tmpl.find('}', open);
    if (close == std::string_view::npos)
      return base::InvalidArgument("prefix '" + std::string(tmpl) + "': '!{' without a closing '}'");
    RETURN_IF_ERROR(on_expr(tmpl.substr(open + 2, close - open - 2)));
    i = close + 1;
  }
  return base::Status::Ok();
}

}  // namespace

namespace {
base::Status Evaluate(std::string_view tmpl, const PrefixContext& ctx, bool strict, std::string* out);
}  // namespace

base::Status ValidatePrefix(std::string_view tmpl, bool is_error_prefix) {
  if (tmpl.size() > 512) return base::InvalidArgument("prefix is longer than 512 characters");
  bool any_expr = false, has_error_type = false;
  RETURN_IF_ERROR(Walk(
      tmpl, [](std::string_view) {},
      [&](std::string_view expr) -> base::Status {
        any_expr = true;
        if (expr.substr(0, kTimestamp.size()) == kTimestamp) {
          std::string scratch;
          if (!FormatTime(expr.substr(kTimestamp.size()), Utc(0), &scratch))
            return base::InvalidArgument("prefix '" + std::string(tmpl) + "': unsupported timestamp pattern '" +
                                         std::string(expr.substr(kTimestamp.size())) +
                                         "' (letters: yyyy yy MM dd DDD HH mm ss, 'quoted text')");
          return base::Status::Ok();
        }
        if (expr == kRandom) return base::Status::Ok();
        if (StartsWith(expr, kFromQuery) || StartsWith(expr, kFromLambda)) {
          if (is_error_prefix)
            return base::InvalidArgument("error_output_prefix '" + std::string(tmpl) +
                                         "': partition keys are not allowed in an error prefix");
          std::string_view key = expr.substr(expr.find(':') + 1);
          if (key.empty() || key.size() > 256)
            return base::InvalidArgument("prefix '" + std::string(tmpl) + "': '!{" + std::string(expr) +
                                         "}' needs a key name of 1..256 characters");
          return base::Status::Ok();
        }
        if (expr == kErrorType) {
          if (!is_error_prefix)
            return base::InvalidArgument("prefix '" + std::string(tmpl) +
                                         "': !{firehose:error-output-type} is allowed only in error_output_prefix");
          has_error_type = true;
          return base::Status::Ok();
        }
        return base::InvalidArgument("prefix '" + std::string(tmpl) + "': unknown expression '!{" +
                                     std::string(expr) + "}'");
      }));
  if (is_error_prefix && any_expr && !has_error_type)
    return base::InvalidArgument("error_output_prefix '" + std::string(tmpl) +
                                 "' uses expressions, so it must contain !{firehose:error-output-type}");
  // The literal text must not leave the destination's root ("../x", "/etc/"): evaluated with
  // placeholder values, the prefix must be a plain relative path. Values that come from records
  // are checked again per record (EvaluatePartitionPrefix), and every file write checks the
  // final path (WriteFileUnder), so no expression can bypass this.
  std::map<std::string, std::string> placeholder_keys;
  PrefixKeys keys = ReferencedKeys(tmpl);
  for (const auto& k : keys.query) placeholder_keys[k] = "k";
  std::map<std::string, std::string> placeholder_lambda;
  for (const auto& k : keys.lambda) placeholder_lambda[k] = "k";
  PrefixContext ctx{0, "segment", is_error_prefix ? "processing-failed" : "", &placeholder_keys, &placeholder_lambda};
  std::string sample;
  Evaluate(tmpl, ctx, false, &sample).IgnoreError();  // validated above: cannot fail
  if (base::Status safe = CheckRelativePath(sample); !sample.empty() && !safe.ok())
    return base::InvalidArgument(std::string(is_error_prefix ? "error_output_prefix '" : "prefix '") +
                                 std::string(tmpl.substr(0, 128)) + "' would leave its root directory: " + safe.message());
  return base::Status::Ok();
}

std::string EffectivePrefix(std::string_view configured) {
  std::string p(configured);
  if (p.find("!{timestamp:") == std::string::npos) p += "!{timestamp:yyyy/MM/dd/HH/}";
  return p;
}

std::string EffectivePartitionPrefix(std::string_view configured) { return std::string(configured); }

PrefixKeys ReferencedKeys(std::string_view tmpl) {
  PrefixKeys keys;
  Walk(
      tmpl, [](std::string_view) {},
      [&](std::string_view expr) -> base::Status {
        if (StartsWith(expr, kFromQuery)) keys.query.emplace(expr.substr(kFromQuery.size()));
        if (StartsWith(expr, kFromLambda)) keys.lambda.emplace(expr.substr(kFromLambda.size()));
        if (expr == kRandom) keys.random = true;
        return base::Status::Ok();
      })
      .IgnoreError();
  return keys;
}

std::string EffectiveErrorPrefix(std::string_view configured) {
  if (configured.empty()) return "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH/}";
  return std::string(configured);
}

namespace {

base::Status Evaluate(std::string_view tmpl, const PrefixContext& ctx, bool strict, std::string* out) {
  tm t = Utc(ctx.time_ms);
  int random_occurrence = 0;
  auto key = [&](const std::map<std::string, std::string>* keys, std::string_view name,
                 std::string_view source) -> base::Status {
    if (keys) {
      auto it = keys->find(std::string(name));
      if (it != keys->end()) {
        out->append(it->second);
        return base::Status::Ok();
      }
    }
    if (!strict) return base::Status::Ok();
    return base::InvalidArgument("partition key '" + std::string(name.substr(0, 128)) + "' is missing from the " +
                                 std::string(source));
  };
  return Walk(
      tmpl, [&](std::string_view text) { out->append(text); },
      [&](std::string_view expr) -> base::Status {
        if (StartsWith(expr, kTimestamp)) FormatTime(expr.substr(kTimestamp.size()), t, out);
        else if (expr == kRandom) *out += RandomString(ctx.segment_id, random_occurrence++);
        else if (expr == kErrorType) out->append(ctx.error_output_type);
        else if (StartsWith(expr, kFromQuery)) return key(ctx.query_keys, expr.substr(kFromQuery.size()), "query's output");
        else if (StartsWith(expr, kFromLambda)) return key(ctx.lambda_keys, expr.substr(kFromLambda.size()), "function's metadata.partitionKeys");
        return base::Status::Ok();
      });
}

}  // namespace

std::string EvaluatePrefix(std::string_view tmpl, const PrefixContext& ctx) {
  std::string out;
  Evaluate(tmpl, ctx, false, &out).IgnoreError();  // REQUIRES: validated, so only keys can fail
  return out;
}

base::Result<std::string> EvaluatePartitionPrefix(std::string_view tmpl, const PrefixContext& ctx) {
  std::string out;
  RETURN_IF_ERROR(Evaluate(tmpl, ctx, true, &out));
  if (out.size() > 1024) return base::InvalidArgument("the evaluated prefix is longer than 1024 bytes");
  RETURN_IF_ERROR(CheckRelativePath(out).WithContext("the evaluated prefix"));
  return out;
}

std::string ObjectName(std::string_view stream, uint32_t version, int64_t time_ms,
                       std::string_view segment_id, std::string_view extension) {
  tm t = Utc(time_ms);
  char ts[64];
  std::snprintf(ts, sizeof(ts), "%04d-%02d-%02d-%02d-%02d-%02d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                t.tm_hour, t.tm_min, t.tm_sec);
  std::string out(stream);
  out.push_back('-');
  out.append(std::to_string(version));
  out.push_back('-');
  out.append(ts);
  out.push_back('-');
  out.append(segment_id);
  out.append(extension);
  return out;
}

}  // namespace sluice::server
