// HttpRequestParser: HTTP/1.1 requests from a byte stream (llhttp, strict), one at a time, with
// the Firehose API port's limits. No I/O: HttpConnection feeds it what it reads; the fuzzer
// (fuzz/http_request_fuzzer.cc) feeds it anything.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sluice::server::http {

// Limits of one request. A violation ends the stream (HTTP cannot resynchronise after it): the
// caller answers error_status() and closes.
struct RequestLimits {
  static constexpr size_t kMaxUrlBytes = 8 * 1024;        // 414
  static constexpr size_t kMaxHeaderBytes = 64 * 1024;    // 431: request line and headers
  static constexpr size_t kMaxHeaders = 100;              // 431
  // 413: a PutRecordBatch of 4 MiB of records is about 5.6 MB as base64 in JSON.
  static constexpr size_t kMaxBodyBytes = 8u << 20;
};

struct HttpRequest {
  std::string url;
  std::string target;  // X-Amz-Target
  // Every header, names lowercased, in arrival order (for SigV4).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;    // with room for simdjson's padding when Content-Length was given
  bool expect_continue = false;
  uint8_t method = 0;  // llhttp_method_t
  bool keep_alive = true;
};

// Thread: one connection's; not thread-safe.
class HttpRequestParser {
 public:
  enum class Event {
    kNeedMore,   // every byte given was consumed; nothing complete yet
    kContinue,   // the headers of a request with Expect: 100-continue are in (Resume to go on)
    kRequest,    // request() is complete (Resume before feeding more)
    kError,      // malformed or over a limit: error_status()/error_message(); nothing more parses
  };

  HttpRequestParser();
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses from `data`; *consumed says how many bytes were used (the rest must be fed again).
  Event Feed(const char* data, size_t size, size_t* consumed);
  // After kContinue or kRequest.
  void Resume();
  // True while a request has begun and is not complete.
  bool in_request() const { return started_ && !complete_; }

  const HttpRequest& request() const { return req_; }
  HttpRequest& mutable_request() { return req_; }
  // Frees a large body's buffer (after the request was handled).
  void ReleaseBody(size_t keep_up_to);

  int error_status() const { return error_status_; }
  const std::string& error_type() const { return error_type_; }
  const std::string& error_message() const { return error_message_; }

 private:
  static int OnMessageBegin(llhttp_t* p);
  static int OnUrl(llhttp_t* p, const char* at, size_t n);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t n);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t n);
  static int OnHeaderValueComplete(llhttp_t* p);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t n);
  static int OnMessageComplete(llhttp_t* p);
  static const llhttp_settings_t& Settings();
  int Refuse(int status, std::string message);

  llhttp_t parser_;
  HttpRequest req_;
  std::string field_, value_;  // the header being read
  size_t header_bytes_ = 0;
  size_t header_count_ = 0;
  bool started_ = false;
  bool complete_ = false;
  bool paused_for_continue_ = false;
  bool upgrade_ = false;       // an Upgrade request: answered, then the stream ends
  bool failed_ = false;
  int error_status_ = 0;
  std::string error_type_, error_message_;
};

}  // namespace sluice::server::http
