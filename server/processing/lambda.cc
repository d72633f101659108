// Lambda contract: event encoding and strict response validation.
#include "server/processing/lambda.h"

#include <simdjson.h>

#include <unordered_map>

#include "server/encoding/json_escape.h"
#include "server/encoding/base64.h"

namespace sluice::server {
namespace {

bool Fail(LambdaFailure* f, std::string code, std::string message) {
  f->code = std::move(code);
  f->message = std::move(message);
  return false;
}

std::string Clip(std::string_view s) { return std::string(s.substr(0, 128)); }

}  // namespace

size_t LambdaEventRecordBytes(size_t data_bytes) { return 96 + 4 * ((data_bytes + 2) / 3); }

std::string EncodeLambdaEvent(std::string_view invocation_id, std::string_view stream_arn, std::string_view region,
                              std::span<const LambdaInput> records, std::span<const std::string> ids) {
  std::string out;
  size_t size = 128 + stream_arn.size();
  for (const LambdaInput& r : records) size += LambdaEventRecordBytes(r.data.size());
  out.reserve(size);
  out.append("{\"invocationId\":\"").append(JsonEscape(invocation_id));
  out.append("\",\"deliveryStreamArn\":\"").append(JsonEscape(stream_arn));
  out.append("\",\"region\":\"").append(JsonEscape(region)).append("\",\"records\":[");
  for (size_t i = 0; i < records.size(); i++) {
    out.append(i ? ",{\"recordId\":\"" : "{\"recordId\":\"").append(ids[i]);
    out.append("\",\"approximateArrivalTimestamp\":").append(std::to_string(records[i].arrival_ms));
    out.append(",\"data\":\"");
    Base64Append(records[i].data, &out);
    out.append("\"}");
  }
  out.append("]}");
  return out;
}

bool ParseLambdaResponse(std::string_view body, std::span<const std::string> ids, std::vector<LambdaOutput>* out,
                         LambdaFailure* f) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  simdjson::dom::array records;
  if (parser.parse(body.data(), body.size()).get_object().get(root) != simdjson::SUCCESS)
    return Fail(f, "Lambda.JsonProcessingException", "the response is not a JSON object");
  if (root["records"].get_array().get(records) != simdjson::SUCCESS)
    return Fail(f, "Lambda.JsonProcessingException", "the response has no \"records\" array");
  std::unordered_map<std::string_view, size_t> index;
  index.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); i++) index.emplace(ids[i], i);
  std::vector<bool> seen(ids.size(), false);
  out->assign(ids.size(), LambdaOutput{});
  size_t n = 0;
  for (simdjson::dom::element e : records) {
    simdjson::dom::object rec;
    if (e.get_object().get(rec) != simdjson::SUCCESS)
      return Fail(f, "Lambda.JsonProcessingException", "records[" + std::to_string(n) + "] is not an object");
    std::string_view id, result, data;
    if (rec["recordId"].get_string().get(id) != simdjson::SUCCESS)
      return Fail(f, "Lambda.MissingRecordId", "records[" + std::to_string(n) + "] has no recordId string");
    auto it = index.find(id);
    if (it == index.end()) return Fail(f, "Lambda.UnknownRecordId", "recordId '" + Clip(id) + "' was not sent");
    if (seen[it->second]) return Fail(f, "Lambda.DuplicatedRecordId", "recordId '" + Clip(id) + "' is returned twice");
    seen[it->second] = true;
    LambdaOutput& o = (*out)[it->second];
    if (rec["result"].get_string().get(result) != simdjson::SUCCESS)
      return Fail(f, "Lambda.InvalidResult", "recordId '" + Clip(id) + "' has no result string");
    if (result == "Ok") o.result = LambdaOutput::Result::kOk;
    else if (result == "Dropped") o.result = LambdaOutput::Result::kDropped;
    else if (result == "ProcessingFailed") o.result = LambdaOutput::Result::kProcessingFailed;
    else return Fail(f, "Lambda.InvalidResult", "recordId '" + Clip(id) + "' has result '" + Clip(result) + "' (Ok, Dropped or ProcessingFailed)");
    if (o.result == LambdaOutput::Result::kOk) {
      if (rec["data"].get_string().get(data) != simdjson::SUCCESS)
        return Fail(f, "Lambda.InvalidBase64", "recordId '" + Clip(id) + "' is Ok but has no data string");
      std::optional<std::string> decoded = Base64Decode(data);
      if (!decoded) return Fail(f, "Lambda.InvalidBase64", "recordId '" + Clip(id) + "' has data that is not base64");
      o.data = std::move(*decoded);
    }
    simdjson::dom::element meta;
    if (rec["metadata"].get(meta) == simdjson::SUCCESS && !meta.is_null()) {
      simdjson::dom::object meta_obj, keys;
      if (meta.get_object().get(meta_obj) != simdjson::SUCCESS)
        return Fail(f, "Lambda.InvalidPartitionKeys", "recordId '" + Clip(id) + "' has metadata that is not an object");
      simdjson::dom::element pk;
      if (meta_obj["partitionKeys"].get(pk) == simdjson::SUCCESS && !pk.is_null()) {
        if (pk.get_object().get(keys) != simdjson::SUCCESS)
          return Fail(f, "Lambda.InvalidPartitionKeys", "recordId '" + Clip(id) + "' has partitionKeys that are not an object");
        for (auto [k, v] : keys) {
          std::string_view value;
          if (v.get_string().get(value) != simdjson::SUCCESS || value.size() > kMaxPartitionKeyValueBytes)
            return Fail(f, "Lambda.InvalidPartitionKeys",
                        "recordId '" + Clip(id) + "' has partition key '" + Clip(k) + "' that is not a string of at most 512 bytes");
          o.keys[std::string(k)] = std::string(value);
        }
        if (o.keys.size() > kMaxPartitionKeys)
          return Fail(f, "Lambda.InvalidPartitionKeys", "recordId '" + Clip(id) + "' has more than 50 partition keys");
      }
    }
    n++;
  }
  if (n < ids.size()) {
    for (size_t i = 0; i < ids.size(); i++)
      if (!seen[i]) return Fail(f, "Lambda.MissingRecordId", "recordId '" + ids[i] + "' is missing from the response (" +
                                                                std::to_string(n) + " of " + std::to_string(ids.size()) + " returned)");
  }
  return true;
}

bool ClassifyLambdaResponse(const HttpResponse& r, std::span<const std::string> ids, std::vector<LambdaOutput>* out,
                            LambdaFailure* f) {
  f->unavailable = false;
  if (r.status == 0) {
    if (r.too_large) return Fail(f, "Lambda.ResponseTooLarge", "the response is larger than 6 MiB");
    f->unavailable = true;
    if (r.timed_out) return Fail(f, "Lambda.Timeout", r.error);
    return Fail(f, "Lambda.ConnectionFailed", r.error);
  }
  std::string_view body_start = std::string_view(r.body).substr(0, 256);
  if (!r.Header("x-amz-function-error").empty())
    return Fail(f, "Lambda.FunctionError", "the function returned an error: " + std::string(body_start));
  f->unavailable = r.status != 200;
  if (r.status == 429) return Fail(f, "Lambda.InvokeLimitExceeded", "status 429: " + std::string(body_start));
  if (r.status != 200) return Fail(f, "Lambda.ServiceException", "status " + std::to_string(r.status) + ": " + std::string(body_start));
  return ParseLambdaResponse(r.body, ids, out, f);
}

LambdaInvoker::LambdaInvoker(std::string url, uint32_t timeout_s, std::string stream_arn, std::string region)
    : url_(std::move(url)), stream_arn_(std::move(stream_arn)), region_(std::move(region)),
      client_([&] {
        HttpClientOptions o;
        o.request_timeout_ms = timeout_s * 1000;
        o.max_response_bytes = kMaxLambdaPayloadBytes;
        return o;
      }()) {}

bool LambdaInvoker::Invoke(std::string_view invocation_id, std::span<const LambdaInput> records,
                           std::span<const std::string> ids, std::vector<LambdaOutput>* out, LambdaFailure* f) {
  std::string body = EncodeLambdaEvent(invocation_id, stream_arn_, region_, records, ids);
  HttpRequest req;
  req.method = "POST";
  req.url = url_;
  req.headers = {{"Content-Type", "application/json"}, {"X-Amz-Invocation-Type", "RequestResponse"}};
  req.body = body;
  return ClassifyLambdaResponse(client_.Send(req), ids, out, f);
}

}  // namespace sluice::server
