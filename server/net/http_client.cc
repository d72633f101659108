// HttpClient: libcurl easy handles with timeouts, capped responses and no redirects.
#include "server/net/http_client.h"

#include <curl/curl.h>

#include <atomic>
#include <algorithm>
#include <cctype>

namespace sluice::server {
namespace {

struct Sink {
  HttpResponse* response;
  size_t limit;
  bool overflow = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t bytes = size * n;
  if (sink->response->body.size() + bytes > sink->limit) {
    sink->overflow = true;
    return 0;  // aborts the transfer: a destination's answer is never buffered beyond the limit
  }
  sink->response->body.append(data, bytes);
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t bytes = size * n;
  std::string_view line(data, bytes);
  size_t colon = line.find(':');
  if (colon != std::string_view::npos && sink->response->headers.size() < 100) {
    std::string name(line.substr(0, colon));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
    sink->response->headers.emplace_back(std::move(name), std::string(value.substr(0, 8192)));
  } else if (line.rfind("HTTP/", 0) == 0) {
    sink->response->headers.clear();  // a new response (after 100 Continue)
  }
  return bytes;
}

}  // namespace

void GlobalInitCurl() { curl_global_init(CURL_GLOBAL_DEFAULT); }

std::string_view HttpResponse::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

HttpClient::~HttpClient() {
  for (CURL* h : idle_) curl_easy_cleanup(h);
}

CURL* HttpClient::Acquire() {
  {
    base::MutexLock lock(mu_);
    if (!idle_.empty()) {
      CURL* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::Release(CURL* h) {
  base::MutexLock lock(mu_);
  idle_.push_back(h);
}

namespace {
std::atomic<bool> g_abort_transfers{false};

int OnProgress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return g_abort_transfers.load(std::memory_order_relaxed) ? 1 : 0;  // non-zero aborts
}
}  // namespace

void AbortAllTransfers() { g_abort_transfers.store(true, std::memory_order_relaxed); }

HttpResponse HttpClient::Send(const HttpRequest& req) {
  HttpResponse resp;
  CURL* h = Acquire();
  if (h == nullptr) {
    resp.error = "cannot create a curl handle";
    return resp;
  }
  curl_easy_reset(h);  // keeps the connection cache, drops the previous request's options
  Sink sink{&resp, options_.max_response_bytes};
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : req.headers) headers = curl_slist_append(headers, (k + ": " + v).c_str());
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout_ms));
  if (options_.low_speed_time_s > 0) {
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.low_speed_time_s));
  }
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 300L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (req.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "DELETE") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else {
    // In-memory body: libcurl 7.88 hashes a POSTFIELDS body correctly for SigV4 (a read
    // callback body would be signed as UNSIGNED-PAYLOAD or hashed empty).
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    if (req.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  if (!req.sigv4.empty()) {
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, req.sigv4.c_str());
    curl_easy_setopt(h, CURLOPT_USERPWD, req.sigv4_userpwd.c_str());
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  } else {
    resp.status = 0;
    resp.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    resp.too_large = sink.overflow;
    if (rc == CURLE_ABORTED_BY_CALLBACK)
      resp.error = "aborted: sluiced is shutting down (the segment stays stored and is retried after the restart)";
    else if (sink.overflow)
      resp.error = "response body larger than " + std::to_string(options_.max_response_bytes) + " bytes";
    else
      resp.error = std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "");
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  Release(h);
  return resp;
}

}  // namespace sluice::server
