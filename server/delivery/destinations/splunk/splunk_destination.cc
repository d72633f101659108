// SplunkDestination: HEC requests, refused events, indexer acknowledgement polling.
#include "server/delivery/destinations/splunk/splunk_destination.h"

#include <simdjson.h>

#include <chrono>
#include <set>
#include <thread>

#include "server/encoding/json_escape.h"

namespace sluice::server {
namespace {

constexpr int kMaxRefusalsPerSegment = 1000;

std::string_view Trimmed(std::string_view r) {
  while (!r.empty() && (r.back() == '\n' || r.back() == '\r')) r.remove_suffix(1);
  return r;
}

// An Event record as HEC takes it: a JSON object with "event" as it is, anything else wrapped.
void AppendEvent(std::string_view record, int64_t arrival_ms, std::string* out) {
  record = Trimmed(record);
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  simdjson::dom::element event;
  if (parser.parse(record.data(), record.size()).get_object().get(obj) == simdjson::SUCCESS &&
      obj["event"].get(event) == simdjson::SUCCESS) {
    out->append(record);
  } else {
    char time[32];
    std::snprintf(time, sizeof time, "%lld.%03lld", static_cast<long long>(arrival_ms / 1000),
                  static_cast<long long>(arrival_ms % 1000));
    out->append("{\"time\":").append(time).append(",\"event\":\"").append(JsonEscape(record)).append("\"}");
  }
  out->push_back('\n');
}

}  // namespace

bool ParseHecAnswer(std::string_view body, HecAnswer* out) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(body.data(), body.size()).get_object().get(obj) != simdjson::SUCCESS) return false;
  std::string_view text;
  if (obj["text"].get_string().get(text) == simdjson::SUCCESS) out->text = std::string(text.substr(0, 300));
  int64_t v = 0;
  if (obj["code"].get_int64().get(v) == simdjson::SUCCESS) out->code = v;
  if (obj["ackId"].get_int64().get(v) == simdjson::SUCCESS) out->ack_id = v;
  if (obj["invalid-event-number"].get_int64().get(v) == simdjson::SUCCESS) out->invalid_event = v;
  return true;
}

SplunkDestination::SplunkDestination(SplunkOptions options) : options_(std::move(options)), client_(options_.http) {}

DeliveryResult SplunkDestination::Send(const DeliveryObject& object, const std::vector<uint32_t>& which, int64_t* ack_id,
                                       int64_t* refused) {
  std::string body;
  for (uint32_t i : which) {
    const int64_t arrival = i < object.arrivals.size() ? object.arrivals[i] : object.oldest_arrival_ms;
    if (options_.event_endpoint) {
      AppendEvent(object.records[i], arrival, &body);
    } else {
      body.append(Trimmed(object.records[i]));
      body.push_back('\n');
    }
  }
  HttpRequest req;
  req.url = options_.endpoint + (options_.event_endpoint ? "/services/collector/event" : "/services/collector/raw") +
            "?channel=" + options_.channel;
  req.headers = {{"Authorization", "Splunk " + options_.token},
                 {"X-Splunk-Request-Channel", options_.channel},
                 {"Content-Type", options_.event_endpoint ? "application/json" : "text/plain"}};
  req.body = body;
  HttpResponse resp = client_.Send(req);
  if (resp.status == 0) return DeliveryResult::Retry("Splunk.ConnectionFailed: " + resp.error);
  HecAnswer a;
  const bool parsed = ParseHecAnswer(resp.body, &a);
  const std::string said = parsed ? a.text + " (code " + std::to_string(a.code) + ")" : std::string(resp.body.substr(0, 200));
  if (resp.status == 200) {
    if (!parsed) return DeliveryResult::Retry("Splunk.InvalidResponse: " + said);
    if (a.ack_id < 0)
      return DeliveryResult::Retry("Splunk.DisabledAck: HEC answered without an ackId; enable indexer acknowledgement "
                                   "on the token (Firehose requires it)");
    *ack_id = a.ack_id;
    return DeliveryResult::Ok();
  }
  if (resp.status == 400 && parsed && a.code == 6 && a.invalid_event >= 0 &&
      a.invalid_event < static_cast<int64_t>(which.size())) {
    *refused = a.invalid_event;
    return DeliveryResult::Fail("Splunk.InvalidDataFormat: " + said);
  }
  const std::string what = "Splunk answered " + std::to_string(resp.status) + ": " + said;
  if (resp.status == 401 || resp.status == 403 || resp.status == 408 || resp.status == 429 || resp.status >= 500)
    return DeliveryResult::Retry(what);
  return DeliveryResult::Fail(what);
}

DeliveryResult SplunkDestination::AwaitAcks(std::vector<int64_t> ack_ids) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.ack_timeout_ms);
  uint32_t wait_ms = options_.ack_poll_ms;
  std::set<int64_t> pending(ack_ids.begin(), ack_ids.end());
  while (!pending.empty()) {
    std::string body = "{\"acks\":[";
    bool first = true;
    for (int64_t id : pending) body += (first ? "" : ",") + std::to_string(id), first = false;
    body += "]}";
    HttpRequest req;
    req.url = options_.endpoint + "/services/collector/ack?channel=" + options_.channel;
    req.headers = {{"Authorization", "Splunk " + options_.token},
                   {"X-Splunk-Request-Channel", options_.channel},
                   {"Content-Type", "application/json"}};
    req.body = body;
    HttpResponse resp = client_.Send(req);
    if (resp.status == 0) return DeliveryResult::Retry("Splunk.ConnectionFailed (querying acks): " + resp.error);
    if (resp.status != 200) {
      HecAnswer a;
      const bool parsed = ParseHecAnswer(resp.body, &a);
      if (parsed && a.code == 14) return DeliveryResult::Retry("Splunk.DisabledAck: " + a.text);
      return DeliveryResult::Retry("Splunk answered " + std::to_string(resp.status) + " to the ack query: " +
                                   (parsed ? a.text : std::string(resp.body.substr(0, 200))));
    }
    simdjson::dom::parser parser;
    simdjson::dom::object acks;
    if (parser.parse(resp.body).get_object().get(acks) != simdjson::SUCCESS ||
        acks["acks"].get_object().get(acks) != simdjson::SUCCESS)
      return DeliveryResult::Retry("Splunk.InvalidResponse: the ack answer is not {\"acks\":{...}}: " + resp.body.substr(0, 200));
    for (auto it = pending.begin(); it != pending.end();) {
      bool done = false;
      if (acks[std::to_string(*it)].get_bool().get(done) == simdjson::SUCCESS && done)
        it = pending.erase(it);
      else
        ++it;
    }
    if (pending.empty()) break;
    if (Clock::now() + std::chrono::milliseconds(wait_ms) > deadline)
      return DeliveryResult::Retry("Splunk.AckTimeout: " + std::to_string(pending.size()) + " of " +
                                   std::to_string(ack_ids.size()) + " acks not confirmed within " +
                                   std::to_string(options_.ack_timeout_ms / 1000) + " s (ack id " +
                                   std::to_string(*pending.begin()) + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    wait_ms = std::min<uint32_t>(wait_ms * 2, 4000);
  }
  return DeliveryResult::Ok();
}

DeliveryResult SplunkDestination::Deliver(const DeliveryObject& object) {
  DeliveryResult result;
  std::vector<uint32_t> todo(object.records.size());
  for (uint32_t i = 0; i < todo.size(); i++) todo[i] = i;
  std::vector<int64_t> ack_ids;
  int refusals = 0;
  for (size_t start = 0; start < todo.size();) {
    // The next request's records.
    std::vector<uint32_t> which;
    size_t bytes = 0;
    size_t end = start;
    for (; end < todo.size() && (which.empty() || bytes < options_.max_request_bytes); end++) {
      which.push_back(todo[end]);
      bytes += object.records[todo[end]].size() + 64;
    }
    int64_t ack_id = -1, refused = -1;
    DeliveryResult r = Send(object, which, &ack_id, &refused);
    if (r.outcome == Outcome::kOk) {
      ack_ids.push_back(ack_id);
      start = end;
      continue;
    }
    if (refused >= 0 && ++refusals <= kMaxRefusalsPerSegment) {
      // HEC refused one event: it goes to the backup store; the request goes again without it.
      result.rejected.push_back({which[refused], "Splunk.InvalidDataFormat", r.message});
      todo.erase(todo.begin() + static_cast<std::ptrdiff_t>(start) + refused);
      continue;
    }
    return r;
  }
  if (!ack_ids.empty()) {
    DeliveryResult acked = AwaitAcks(std::move(ack_ids));
    if (acked.outcome != Outcome::kOk) return acked;
  }
  return result;
}

}  // namespace sluice::server
