// HttpConnection: one Firehose API client on a shard: HTTP/1.1 (llhttp) -> AWS JSON 1.1
// operations -> records staged in the shard's group commit -> responses in request order.
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "server/http/firehose_api.h"
#include "server/put_handler.h"
#include "server/shard_connection.h"

namespace sluice::server {

class Shard;

// Limits of one request (docs/protocol.md, "Firehose API"). Violations are answered with the
// HTTP status named and the connection is closed (HTTP cannot resynchronise after them).
struct HttpLimits {
  static constexpr size_t kMaxUrlBytes = 8 * 1024;        // 414
  static constexpr size_t kMaxHeaderBytes = 64 * 1024;    // 431: request line and headers
  static constexpr size_t kMaxHeaders = 100;              // 431
  // 413: a PutRecordBatch of 4 MiB of records is about 5.6 MB as base64 in JSON.
  static constexpr size_t kMaxBodyBytes = 8u << 20;
};

// Design: bytes go through llhttp, which calls back per element; a completed request pauses the
// parser (so pipelined requests are handled one at a time, in order), is dispatched, and its
// response is staged. A put's records join the shard's pending WriteBatch; after the shard's
// commit, Flush writes every staged response in order (200 for a put only when the commit
// succeeded). Memory: the receive buffer and the request body are charged to the shard's
// ClientMemory, staged responses by a bound; reading pauses on the commit budget, the client
// memory budget and the connection's own output budget as on the put port.
// Thread: the owning shard's loop; not thread-safe.
class HttpConnection final : public ShardConnection {
 public:
  HttpConnection(Shard* shard, uint64_t id);
  ~HttpConnection() override = default;

  // ShardConnection
  base::Status Open(int fd) override;
  void Flush(const base::Status& commit) override;
  void ResumeAfterBudget() override;
  void CheckTimeouts(int64_t now_ms) override;
  void BeginDrainAndClose() override;

 private:
  // The request being parsed.
  struct Request {
    std::string url;
    std::string target;  // X-Amz-Target
    std::vector<std::pair<std::string, std::string>> headers;  // names lowercased (for SigV4)
    std::string field;   // the header name being read
    std::string value;   // the header value being read
    bool expect_continue = false;
    bool started = false;
    size_t header_bytes = 0;
    size_t header_count = 0;
    std::string body;
  };
  // One response, in request order: ready bytes, or a put answered at Flush.
  struct Staged {
    std::string bytes;
    bool is_put = false;
    bool single = false;  // PutRecord (else PutRecordBatch)
    bool close = false;   // Connection: close after it
    StagedPut put;
    size_t charged = 0;
  };

  // SocketConnection
  bool WantRead() const override;
  void OnAllocBuffer(uv_buf_t* buf) override;
  void OnBytes(size_t n) override;
  void OnReadEnd(ssize_t status) override;
  void OnWritten(int status) override;
  void OnOutputChange(int64_t delta) override;
  void OnClosed() override;

  // llhttp callbacks (parser->data is the connection).
  static int OnMessageBegin(llhttp_t* p);
  static int OnUrl(llhttp_t* p, const char* at, size_t n);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t n);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t n);
  static int OnHeaderValueComplete(llhttp_t* p);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t n);
  static int OnMessageComplete(llhttp_t* p);
  static const llhttp_settings_t& Settings();

  // Parses buffered bytes, dispatching each complete request, until paused or out of bytes.
  void ProcessInput();
  void HandleRequest();
  // Authenticates (SigV4, when access keys are configured) and runs the request's operation.
  void Dispatch(bool keep_alive);
  // `key`: the access key that signed the request (null when the port takes unsigned requests).
  void HandlePut(bool single, const AccessKey* key);
  // Stages a complete response (status line, AWS headers, body).
  void StageResponse(int status, std::string_view body, bool close, std::string_view error_type = "");
  void StageError(const http::ApiError& e, bool close = false);
  // Answers with `status` and closes once it is written (a request HTTP cannot continue after).
  void FailAndClose(int status, std::string_view type, std::string_view message);
  void Stage(Staged s);
  void MaybeCloseAfterDrain();
  void SyncCharge();
  void ChargeStaged(int64_t delta);
  size_t queued_output() const { return staged_bytes_ + output_bytes(); }
  void PauseForMemory();
  std::string PutResponse(const Staged& s, const base::Status& commit, int* status, std::string* error_type) const;

  Shard* shard_;
  const uint64_t id_;
  llhttp_t parser_;
  std::string in_;       // received bytes; in_[in_begin_..] not parsed yet
  size_t in_begin_ = 0;
  size_t in_len_ = 0;    // bytes of in_ holding data (in_ is sized to its capacity)
  Request req_;
  bool request_done_ = false;  // OnMessageComplete paused the parser on a complete request
  int parse_error_status_ = 0;  // a callback refused the request: answer this status and close
  std::string parse_error_type_, parse_error_message_;
  http::PutInput put_input_;  // scratch: decoded records of the request being handled
  std::vector<Staged> staged_;
  bool paused_for_output_ = false;
  bool paused_for_budget_ = false;
  bool paused_for_memory_ = false;
  bool close_after_drain_ = false;
  bool peer_eof_ = false;
  size_t charged_ = 0;        // buffers charged to client memory
  size_t staged_bytes_ = 0;   // bounds charged for staged responses
  int64_t request_since_ms_ = 0;  // when the request being received began; 0 = none
  uint64_t responses_ = 0;        // x-amzn-RequestId: <connection>-<response>
};

}  // namespace sluice::server
