// HttpEndpointDestination: Firehose's HTTP endpoint delivery protocol 1.0 (JSON body of base64 records, X-Amz-Firehose-* headers).
#pragma once

#include <map>
#include <string>

#include "server/delivery/destination.h"
#include "server/net/http_client.h"

namespace sluice::server {

struct HttpEndpointOptions {
  std::string url;         // http:// or https:// used exactly as configured
  std::string access_key;  // X-Amz-Firehose-Access-Key, verbatim
  std::map<std::string, std::string> common_attributes;
  bool gzip = false;       // Content-Encoding: gzip
  std::string source_arn;  // X-Amz-Firehose-Source-Arn
  uint32_t max_records_per_request = 10'000;
  HttpClientOptions http;
};

// One POST per up to 10,000 records of a segment, with X-Amz-Firehose-Request-Id = the segment
// id (plus "-<part>" when a segment needs several requests), stable across retries and restarts
// so an endpoint can deduplicate. Outcomes: 200 with the echoed requestId = delivered; 413 =
// permanent (to the backup store); anything else, a malformed answer, a timeout or a connection
// failure = retry. The endpoint's errorMessage is kept as the failure message.
// Thread: thread-safe (HttpClient's pool).
class HttpEndpointDestination final : public Destination {
 public:
  explicit HttpEndpointDestination(HttpEndpointOptions options);
  DeliveryResult Deliver(const DeliveryObject& object) override;
  std::string_view kind() const override { return "HttpEndpoint"; }
  std::string_view error_output_type() const override { return "http-endpoint-failed"; }
  bool needs_body() const override { return false; }

 private:
  DeliveryResult Post(const std::string& request_id, std::span<const std::string_view> records);

  const HttpEndpointOptions options_;
  const std::string common_attributes_json_;
  HttpClient client_;
};

// The request body: {"requestId":..,"timestamp":..,"records":[{"data":"<base64>"},..]}.
std::string EncodeHttpEndpointBody(std::string_view request_id, int64_t timestamp_ms,
                                   std::span<const std::string_view> records);
// Classifies an endpoint's answer to request `request_id` (exposed for unit tests).
DeliveryResult ClassifyHttpEndpointResponse(const HttpResponse& response, std::string_view request_id);

}  // namespace sluice::server
