// SplunkDestination: Splunk's HTTP Event Collector with indexer acknowledgement, as Firehose's
// Splunk destination delivers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/delivery/destination.h"
#include "server/net/http_client.h"

namespace sluice::server {

struct SplunkOptions {
  std::string endpoint;        // https://splunk.example.com:8088 (no trailing /)
  bool event_endpoint = false;  // Event (/services/collector/event) or Raw (/services/collector/raw)
  std::string token;           // HEC token: "Authorization: Splunk <token>"
  std::string channel;         // X-Splunk-Request-Channel (a GUID)
  uint32_t ack_timeout_ms = 180'000;
  uint32_t ack_poll_ms = 500;  // first wait between ack queries (doubles up to 4 s)
  size_t max_request_bytes = 1u << 20;
  HttpClientOptions http;
};

// Each attempt sends the segment's records (Raw: one line each; Event: each record that is a JSON
// object with an "event" member as it is, any other wrapped as {"time", "event": "<record>"}) in
// requests of at most max_request_bytes, reads each answer's ackId, then queries
// /services/collector/ack on the same channel until every ack id is confirmed (delivered) or the
// acknowledgement timeout passes (retried: the records go again, as Firehose resends). A 400
// "Invalid data format" (code 6) names the event HEC refused: that record is refused (to the
// backup store with HEC's text) and the request sent again without it; 401, 403, 429, 5xx,
// timeouts and answers that are not HEC's JSON are retried; other 4xx are permanent.
// At least once: a record whose ack was lost is sent again.
// Thread: thread-safe.
class SplunkDestination final : public Destination {
 public:
  explicit SplunkDestination(SplunkOptions options);
  DeliveryResult Deliver(const DeliveryObject& object) override;
  std::string_view kind() const override { return "Splunk"; }
  std::string_view error_output_type() const override { return "splunk-failed"; }
  bool needs_body() const override { return false; }

 private:
  struct Sent {
    int64_t ack_id = -1;
  };
  // One request with the records `which`; *ack_id from HEC's answer. kOk, kRetry (whole
  // request), or kFail; *refused gets the position (in `which`) of an event HEC refused.
  DeliveryResult Send(const DeliveryObject& object, const std::vector<uint32_t>& which, int64_t* ack_id,
                      int64_t* refused);
  // Waits for every ack id to be confirmed.
  DeliveryResult AwaitAcks(std::vector<int64_t> ack_ids);

  const SplunkOptions options_;
  HttpClient client_;
};

// Reads HEC's JSON answer: {"text", "code", "ackId", "invalid-event-number"}. False when the
// body is not that JSON.
struct HecAnswer {
  std::string text;
  int64_t code = -1;
  int64_t ack_id = -1;
  int64_t invalid_event = -1;
};
bool ParseHecAnswer(std::string_view body, HecAnswer* out);

}  // namespace sluice::server
