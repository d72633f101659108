// HttpClient: blocking HTTP requests over libcurl easy handles, for network destinations.
//
// Design: each destination owns one HttpClient, which keeps a small pool of easy handles (one per
// delivery worker that is using it at the moment). A handle keeps its connection cache between
// requests, so consecutive deliveries reuse the TCP/TLS connection. Responses are untrusted:
// bodies are capped (a larger one is an error, not a buffer), redirects are not followed, every
// phase has a timeout (connect, whole transfer, stalled transfer).
// Thread: Send is thread-safe (the pool is locked; a handle is used by one thread at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"

typedef void CURL;

namespace sluice::server {

// Once per process, before any thread uses libcurl (main).
void GlobalInitCurl();

// Makes every transfer in progress, and every later one, fail at once ("aborted for
// shutdown"): how a shutdown that waited shutdown_timeout_s abandons deliveries in flight
// (their segments stay stored). Thread-safe.
void AbortAllTransfers();

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
  // SigV4 signing by libcurl ("aws:amz:<region>:s3") with "<key>:<secret>"; empty: unsigned.
  std::string sigv4;
  std::string sigv4_userpwd;
};

struct HttpResponse {
  long status = 0;  // 0: no HTTP response (see error)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  // Why no usable response: "connection failed: ...", "timed out after ...", "response body
  // larger than ...". Empty when status != 0.
  std::string error;
  bool timed_out = false;
  bool too_large = false;  // the response body passed max_response_bytes
  std::string_view Header(std::string_view lower_name) const;
};

struct HttpClientOptions {
  uint32_t connect_timeout_ms = 10'000;
  uint32_t request_timeout_ms = 180'000;  // whole request (Firehose gives endpoints 3 minutes)
  // Abort when under 1 byte/s for this long; 0 (the default) leaves it to request_timeout_ms,
  // since an endpoint that thinks for a minute before answering also sends nothing meanwhile.
  uint32_t low_speed_time_s = 0;
  size_t max_response_bytes = 1u << 20;
  std::string ca_file;                    // extra CA bundle for https (private CAs)
  bool verify_tls = true;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options) : options_(std::move(options)) {}
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse Send(const HttpRequest& request);

 private:
  CURL* Acquire();
  void Release(CURL* handle);

  const HttpClientOptions options_;
  base::Mutex mu_;
  std::vector<CURL*> idle_ SLUICE_GUARDED_BY(mu_);
};

}  // namespace sluice::server
