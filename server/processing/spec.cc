// ProcessingSpec: processor types and parameters, validated.
#include "server/processing/spec.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "server/encoding/base64.h"
#include "server/processing/jq_extractor.h"

namespace sluice::server {
namespace {

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

base::Status Number(const std::string& ctx, const std::string& value, double lo, double hi, double* out) {
  char* end = nullptr;
  double v = value.empty() ? NAN : std::strtod(value.c_str(), &end);
  if (value.empty() || end == nullptr || *end != '\0' || !std::isfinite(v) || v < lo || v > hi)
    return base::InvalidArgument(ctx + " must be a number in " + Fmt(lo) + ".." + Fmt(hi) + ", got '" +
                                 value.substr(0, 64) + "'");
  *out = v;
  return base::Status::Ok();
}

base::Status Integer(const std::string& ctx, const std::string& value, uint32_t lo, uint32_t hi, uint32_t* out) {
  double v = 0;
  base::Status st = Number(ctx, value, lo, hi, &v);
  if (!st.ok() || v != std::floor(v))
    return base::InvalidArgument(ctx + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                                 ", got '" + value.substr(0, 64) + "'");
  *out = static_cast<uint32_t>(v);
  return base::Status::Ok();
}

base::Status CheckNames(const ProcessorConfig& p, std::set<std::string> allowed) {
  for (const auto& [name, value] : p.parameters) {
    if (!allowed.count(name)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return base::InvalidArgument("processor " + p.type + ": unknown parameter '" + name.substr(0, 64) + "' (" +
                                   (list.empty() ? std::string("it takes none") : "allowed: " + list) + ")");
    }
    if (value.size() > 5120)
      return base::InvalidArgument("processor " + p.type + ": parameter " + name + " is longer than 5120 characters");
  }
  return base::Status::Ok();
}

}  // namespace

base::Status ParseProcessors(const std::vector<ProcessorConfig>& processors, ProcessingSpec* out) {
  std::set<std::string> seen;
  for (const ProcessorConfig& p : processors) {
    if (!seen.insert(p.type).second)
      return base::InvalidArgument("processor " + p.type + " is declared twice");
    const std::string ctx = "processor " + p.type + ": ";
    auto param = [&](const char* name) -> const std::string* {
      auto it = p.parameters.find(name);
      return it == p.parameters.end() ? nullptr : &it->second;
    };
    if (p.type == "RecordDeAggregation") {
      RETURN_IF_ERROR(CheckNames(p, {"SubRecordType", "Delimiter"}));
      const std::string* type = param("SubRecordType");
      if (type == nullptr || (*type != "JSON" && *type != "DELIMITED"))
        return base::InvalidArgument(ctx + "SubRecordType must be JSON or DELIMITED");
      out->deaggregation = *type == "JSON" ? ProcessingSpec::DeAggregation::kJson : ProcessingSpec::DeAggregation::kDelimited;
      const std::string* delim = param("Delimiter");
      if (*type == "DELIMITED") {
        std::optional<std::string> d = delim ? Base64Decode(*delim) : std::nullopt;
        if (!d || d->empty())
          return base::InvalidArgument(ctx + "DELIMITED needs Delimiter, the delimiter in base64 (e.g. IyMjIw== for ####)");
        out->delimiter = *d;
      } else if (delim) {
        return base::InvalidArgument(ctx + "Delimiter applies to SubRecordType DELIMITED only");
      }
    } else if (p.type == "Lambda") {
      RETURN_IF_ERROR(CheckNames(p, {"LambdaArn", "NumberOfRetries", "BufferSizeInMBs", "BufferIntervalInSeconds",
                                     "TimeoutInSeconds", "RoleArn"}));
      const std::string* url = param("LambdaArn");
      if (url == nullptr || (url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0) || url->size() > 1000)
        return base::InvalidArgument(ctx + "LambdaArn must be the function's http:// or https:// URL (at most 1000 characters)");
      for (char c : *url)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
          return base::InvalidArgument(ctx + "LambdaArn must not contain spaces or control characters");
      out->lambda_url = *url;
      if (const std::string* v = param("NumberOfRetries"))
        RETURN_IF_ERROR(Integer(ctx + "NumberOfRetries", *v, 0, 300, &out->lambda_retries));
      if (const std::string* v = param("BufferSizeInMBs")) {
        double mb = 0;
        RETURN_IF_ERROR(Number(ctx + "BufferSizeInMBs", *v, 0.2, 3, &mb));
        out->lambda_buffer_bytes = static_cast<uint64_t>(mb * (1 << 20));
      }
      if (const std::string* v = param("BufferIntervalInSeconds"))
        RETURN_IF_ERROR(Integer(ctx + "BufferIntervalInSeconds", *v, 0, 900, &out->lambda_interval_s));
      if (const std::string* v = param("TimeoutInSeconds"))
        RETURN_IF_ERROR(Integer(ctx + "TimeoutInSeconds", *v, 1, 900, &out->lambda_timeout_s));
    } else if (p.type == "MetadataExtraction") {
      RETURN_IF_ERROR(CheckNames(p, {"MetadataExtractionQuery", "JsonParsingEngine"}));
      const std::string* engine = param("JsonParsingEngine");
      if (engine == nullptr || *engine != "JQ-1.6")
        return base::InvalidArgument(ctx + "JsonParsingEngine must be JQ-1.6");
      const std::string* query = param("MetadataExtractionQuery");
      if (query == nullptr || query->empty())
        return base::InvalidArgument(ctx + "needs MetadataExtractionQuery, e.g. {customer: .customer_id}");
      RETURN_IF_ERROR(CheckJqQuery(*query).WithContext(ctx.substr(0, ctx.size() - 2)));
      out->jq_query = *query;
    } else if (p.type == "AppendDelimiterToRecord") {
      RETURN_IF_ERROR(CheckNames(p, {}));
      out->append_delimiter = true;
    } else {
      return base::InvalidArgument("unknown processor type '" + p.type.substr(0, 64) + "' (one of: " + kProcessorTypes + ")");
    }
  }
  return base::Status::Ok();
}

}  // namespace sluice::server
