// OpenSearchDestination: bulk requests, per-document outcomes, index rotation.
#include "server/delivery/destinations/opensearch/opensearch_destination.h"

#include <simdjson.h>

#include <ctime>

#include "server/encoding/base64.h"
#include "server/encoding/json_escape.h"

namespace sluice::server {
namespace {

constexpr size_t kMaxTrackedSegments = 10000;

bool Retryable(int64_t status) { return status == 429 || status >= 500; }

}  // namespace

std::string RotatedIndexName(std::string_view index, IndexRotation rotation, int64_t arrival_ms) {
  std::string out(index);
  if (rotation == IndexRotation::kNoRotation) return out;
  const time_t t = static_cast<time_t>(arrival_ms / 1000);
  tm u{};
  gmtime_r(&t, &u);
  char buf[32];
  switch (rotation) {
    case IndexRotation::kOneHour:
      std::snprintf(buf, sizeof buf, "-%04d-%02d-%02d-%02d", u.tm_year + 1900, u.tm_mon + 1, u.tm_mday, u.tm_hour);
      break;
    case IndexRotation::kOneDay:
      std::snprintf(buf, sizeof buf, "-%04d-%02d-%02d", u.tm_year + 1900, u.tm_mon + 1, u.tm_mday);
      break;
    case IndexRotation::kOneWeek: {
      // Firehose's US convention: a week starts on Sunday, and week 1 is the first week holding
      // a Saturday of the year, i.e. the week of January 1st. The last days of a December in the
      // week of the next January 1st are week 1 of the next year (not of their own: that would
      // put them in the index of the January before).
      int year = u.tm_year + 1900;
      const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
      const int jan1_wday = ((u.tm_wday - u.tm_yday) % 7 + 7) % 7;
      int week = (u.tm_yday + jan1_wday) / 7 + 1;
      if (u.tm_yday - u.tm_wday + 6 >= (leap ? 366 : 365)) week = 1, year++;
      std::snprintf(buf, sizeof buf, "-%04d-w%02d", year, week);
      break;
    }
    case IndexRotation::kOneMonth:
      std::snprintf(buf, sizeof buf, "-%04d-%02d", u.tm_year + 1900, u.tm_mon + 1);
      break;
    case IndexRotation::kNoRotation:
      buf[0] = 0;
      break;
  }
  return out + buf;
}

bool ParseBulkResponse(std::string_view body, size_t documents, std::vector<int>* outcome,
                       std::vector<std::string>* messages, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array items;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc["items"].get_array().get(items) != simdjson::SUCCESS) {
    *error = "the bulk answer is not JSON with an items array: " + std::string(body.substr(0, 200));
    return false;
  }
  if (items.size() != documents) {
    *error = "the bulk answer has " + std::to_string(items.size()) + " items for " + std::to_string(documents) + " documents";
    return false;
  }
  outcome->assign(documents, 0);
  messages->assign(documents, "");
  size_t i = 0;
  for (simdjson::dom::element item : items) {
    simdjson::dom::object wrapper;
    if (item.get_object().get(wrapper) != simdjson::SUCCESS || wrapper.size() != 1) {
      *error = "bulk item " + std::to_string(i) + " is not {\"<action>\": {...}}";
      return false;
    }
    simdjson::dom::element result = (*wrapper.begin()).value;
    int64_t status = 0;
    if (result["status"].get_int64().get(status) != simdjson::SUCCESS || status < 100 || status > 599) {
      *error = "bulk item " + std::to_string(i) + " has no HTTP status";
      return false;
    }
    if (status >= 200 && status < 300) {
      (*outcome)[i] = 0;
    } else {
      std::string_view type, reason;
      if (result["error"]["type"].get_string().get(type) != simdjson::SUCCESS) type = {};
      if (result["error"]["reason"].get_string().get(reason) != simdjson::SUCCESS) reason = {};
      (*outcome)[i] = Retryable(status) ? 1 : 2;
      (*messages)[i] = std::to_string(status) + " " + std::string(type.empty() ? "error" : type) +
                       (reason.empty() ? "" : ": " + std::string(reason.substr(0, 400)));
    }
    i++;
  }
  return true;
}

OpenSearchDestination::OpenSearchDestination(OpenSearchOptions options)
    : options_(std::move(options)), client_(options_.http) {}

DeliveryResult OpenSearchDestination::Deliver(const DeliveryObject& object) {
  const std::string segment(object.segment_id);
  Progress progress;
  {
    base::MutexLock lock(mu_);
    auto it = progress_.find(segment);
    if (it != progress_.end()) progress = it->second;
  }
  auto remember = [&](bool finished) {
    base::MutexLock lock(mu_);
    if (finished) {
      progress_.erase(segment);
      return;
    }
    if (progress_.size() >= kMaxTrackedSegments && progress_.count(segment) == 0) progress_.erase(progress_.begin());
    progress_[segment] = progress;
  };

  // Documents still to send; those that cannot be a bulk source line are refused now.
  std::vector<uint32_t> todo;
  std::set<uint32_t> refused;
  for (const RejectedRecord& r : progress.rejected) refused.insert(r.index);
  for (uint32_t i = 0; i < object.records.size(); i++) {
    if (progress.done.count(i) || refused.count(i)) continue;
    std::string_view rec = object.records[i];
    while (!rec.empty() && (rec.back() == '\n' || rec.back() == '\r')) rec.remove_suffix(1);
    if (rec.empty() || rec.find('\n') != std::string_view::npos || rec.find('\r') != std::string_view::npos) {
      progress.rejected.push_back({i, "OpenSearch.InvalidDocument",
                                   "a document must be one line of JSON (the bulk API's framing is newline-delimited)"});
      continue;
    }
    todo.push_back(i);
  }

  HttpRequest req;
  req.url = options_.endpoint + "/_bulk";
  req.headers = {{"Content-Type", "application/x-ndjson"}};
  if (!options_.username.empty())
    req.headers.emplace_back("Authorization", "Basic " + Base64Encode(options_.username + ":" + options_.password));
  std::string last_retry;
  size_t retry_count = 0;
  for (size_t start = 0; start < todo.size();) {
    // One request: documents until max_request_bytes.
    std::string body;
    size_t end = start;
    for (; end < todo.size() && (end == start || body.size() < options_.max_request_bytes); end++) {
      const uint32_t i = todo[end];
      std::string_view rec = object.records[i];
      while (!rec.empty() && (rec.back() == '\n' || rec.back() == '\r')) rec.remove_suffix(1);
      const int64_t arrival = i < object.arrivals.size() ? object.arrivals[i] : object.oldest_arrival_ms;
      body += "{\"index\":{\"_index\":\"" + JsonEscape(RotatedIndexName(options_.index, options_.rotation, arrival)) + "\"";
      if (!options_.type_name.empty()) body += ",\"_type\":\"" + JsonEscape(options_.type_name) + "\"";
      // Stable across retries and restarts: a re-index replaces instead of duplicating.
      if (options_.document_ids) body += ",\"_id\":\"" + segment + "." + std::to_string(i) + "\"";
      body += "}}\n";
      body.append(rec);
      body.push_back('\n');
    }
    req.body = body;
    HttpResponse resp = client_.Send(req);
    if (resp.status == 0) {
      remember(false);
      return DeliveryResult::Retry("OpenSearch.ConnectionFailed: " + resp.error);
    }
    if (resp.status != 200) {
      std::string_view reason;
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      if (parser.parse(resp.body).get(doc) != simdjson::SUCCESS || doc["error"]["reason"].get_string().get(reason) != simdjson::SUCCESS)
        reason = {};
      const std::string what = "OpenSearch answered " + std::to_string(resp.status) + ": " +
                               std::string(reason.empty() ? std::string_view(resp.body).substr(0, 200) : reason);
      remember(false);
      if (Retryable(resp.status) || resp.status == 401 || resp.status == 403 || resp.status == 408)
        return DeliveryResult::Retry(what);
      return DeliveryResult::Fail(what);
    }
    std::vector<int> outcome;
    std::vector<std::string> messages;
    std::string error;
    if (!ParseBulkResponse(resp.body, end - start, &outcome, &messages, &error)) {
      remember(false);
      return DeliveryResult::Retry("OpenSearch.InvalidResponse: " + error);
    }
    for (size_t k = 0; k < outcome.size(); k++) {
      const uint32_t i = todo[start + k];
      if (outcome[k] == 0) {
        progress.done.insert(i);
      } else if (outcome[k] == 2) {
        progress.rejected.push_back({i, "OpenSearch.DocumentFailed", messages[k]});
      } else {
        retry_count++;
        last_retry = messages[k];
      }
    }
    start = end;
  }
  if (retry_count > 0) {
    remember(false);
    return DeliveryResult::Retry(std::to_string(retry_count) + " documents to retry (" + last_retry + ")");
  }
  remember(true);
  DeliveryResult ok;
  ok.rejected = std::move(progress.rejected);
  return ok;
}

}  // namespace sluice::server
