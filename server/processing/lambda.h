// The Lambda transformation contract (Firehose's data transformation event and response), spoken over HTTP to any function runtime:
// AWS Lambda's runtime interface emulator, a function URL, or any server that takes the event
// as a POST body and answers the function's return value as JSON.
//
// Event:    {"invocationId","deliveryStreamArn","region","records":[{"recordId",
//            "approximateArrivalTimestamp","data"(base64)}]}
// Response: {"records":[{"recordId","result":"Ok"|"Dropped"|"ProcessingFailed","data"(base64),
//            "metadata":{"partitionKeys":{k:v}}}]}
// The response is untrusted: it is validated in full, and any fault fails the whole invocation
// with a named code (below); the caller retries it NumberOfRetries times, then sends its records
// to the error output. Codes:
//   Lambda.ConnectionFailed, Lambda.Timeout, Lambda.ResponseTooLarge (over 6 MiB),
//   Lambda.InvokeLimitExceeded (429), Lambda.ServiceException (another non-200 status),
//   Lambda.FunctionError (X-Amz-Function-Error header: the function threw),
//   Lambda.JsonProcessingException (not the response's JSON shape), Lambda.MissingRecordId,
//   Lambda.DuplicatedRecordId, Lambda.UnknownRecordId, Lambda.InvalidResult, Lambda.InvalidBase64,
//   Lambda.InvalidPartitionKeys.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/net/http_client.h"
#include "server/processing/jq_extractor.h"

namespace sluice::server {

inline constexpr size_t kMaxLambdaPayloadBytes = 6u << 20;  // each way (Lambda's sync limit)

struct LambdaInput {
  std::string_view data;
  int64_t arrival_ms = 0;
};

struct LambdaOutput {
  enum class Result { kOk, kDropped, kProcessingFailed };
  Result result = Result::kOk;
  std::string data;       // decoded, for kOk
  PartitionKeys keys;     // metadata.partitionKeys
};

// The event's bytes, and the size one record adds to it (for packing invocations under 6 MiB).
std::string EncodeLambdaEvent(std::string_view invocation_id, std::string_view stream_arn, std::string_view region,
                              std::span<const LambdaInput> records, std::span<const std::string> record_ids);
size_t LambdaEventRecordBytes(size_t data_bytes);

struct LambdaFailure {
  std::string code;     // "Lambda.MissingRecordId", ...
  std::string message;
  // The function could not be reached or asked for time (connection, timeout, 429, another
  // non-200 status), as opposed to answering wrongly: only this slows the stream to one probe.
  bool unavailable = false;
};

// Validates a 200 response body against the ids sent; on success fills `out` in input order.
// Returns false with `failure` set otherwise.
bool ParseLambdaResponse(std::string_view body, std::span<const std::string> record_ids,
                         std::vector<LambdaOutput>* out, LambdaFailure* failure);
// Classifies a whole HTTP exchange (transport, status, function error header, body).
bool ClassifyLambdaResponse(const HttpResponse& r, std::span<const std::string> record_ids,
                            std::vector<LambdaOutput>* out, LambdaFailure* failure);

// Thread: Invoke is thread-safe (HttpClient is).
class LambdaInvoker {
 public:
  LambdaInvoker(std::string url, uint32_t timeout_s, std::string stream_arn, std::string region);
  // One invocation with these records and ids. True with `out` filled, or false with `failure`.
  bool Invoke(std::string_view invocation_id, std::span<const LambdaInput> records,
              std::span<const std::string> record_ids, std::vector<LambdaOutput>* out, LambdaFailure* failure);
  const std::string& url() const { return url_; }

 private:
  const std::string url_;
  const std::string stream_arn_;
  const std::string region_;
  HttpClient client_;
};

}  // namespace sluice::server
