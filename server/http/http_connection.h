// HttpConnection: one Firehose API client on a shard: HTTP/1.1 (llhttp) -> AWS JSON 1.1
// operations -> records staged in the shard's group commit -> responses in request order.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "server/http/firehose_api.h"
#include "server/http/request_parser.h"
#include "server/put_handler.h"
#include "server/shard_connection.h"

namespace sluice::server {

class MainDoor;
class Shard;

// Design: bytes go through HttpRequestParser (llhttp), which stops after each complete request
// (so pipelined requests are handled one at a time, in order); the request is dispatched and
// its response staged. A put's records join the shard's pending WriteBatch; after the shard's
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
  void Flush(const base::Status& commit) override;
  void CheckTimeouts(int64_t now_ms) override;
  void CompleteControl(uint64_t token, std::string response) override;

 private:
  // One response, in request order: ready bytes, or a put answered at Flush.
  struct Staged {
    std::string bytes;
    uint64_t control = 0;  // != 0: waiting for main's answer to control request `control`
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

  // ShardConnection: parses buffered bytes, dispatching each complete request, until paused or
  // out of bytes.
  void ProcessInput() override;
  bool has_staged() const override { return !staged_.empty(); }
  void HandleRequest();
  // Authenticates (SigV4, when access keys are configured) and runs the request's operation.
  void Dispatch(bool keep_alive);
  // Sends a control-plane request to main's thread; its answer takes this slot in the order.
  void HandleControl(http::Operation op, bool keep_alive);
  // GET /, /metrics, /api/status, /ready (and anything not POST /): answered on main's thread by
  // the Monitor, which owns the figures and the admin password.
  void HandleMonitor(bool keep_alive);
  // Runs `answer` on main's thread (it returns the complete response) and stages a slot for it.
  // Once the door is shut (shutdown), answers 503 at once: an AWS JSON error when
  // `refusal_type` is empty, else a text body of that content type.
  void PostToMain(std::function<std::string(MainDoor*)> answer, bool keep_alive, std::string_view refusal_type);
  // `key`: the access key that signed the request (null when the port takes unsigned requests).
  void HandlePut(bool single, const AccessKey* key);
  // Stages a complete response (status line, AWS headers, body).
  void StageResponse(int status, std::string_view body, bool close, std::string_view error_type = "");
  void StageError(const http::ApiError& e, bool close = false);
  // Answers with `status` and closes once it is written (a request HTTP cannot continue after).
  void FailAndClose(int status, std::string_view type, std::string_view message);
  void Stage(Staged s);
  // Charges the receive buffer, the request body and the decoded records to client memory.
  void SyncCharge();
  std::string PutResponse(const Staged& s, const base::Status& commit, int* status, std::string* error_type) const;

  http::HttpRequestParser parser_;
  std::string in_;       // received bytes; in_[in_begin_..] not parsed yet
  size_t in_begin_ = 0;
  size_t in_len_ = 0;    // bytes of in_ holding data (in_ is sized to its capacity)
  http::PutInput put_input_;  // scratch: decoded records of the request being handled
  std::vector<Staged> staged_;
  bool waiting_control_ = false;  // a control request is out: later requests wait (they may need its stream)
  int64_t request_since_ms_ = 0;  // when the request being received began; 0 = none
  uint64_t responses_ = 0;        // x-amzn-RequestId: <connection>-<response>
  uint64_t control_tokens_ = 0;   // control requests sent to main
};

}  // namespace sluice::server
