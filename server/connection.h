// Connection: one producer socket on a shard: read buffer -> frames -> dispatch -> staged acks.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocol/error_codes.h"
#include "protocol/frame.h"
#include "server/put_handler.h"

namespace sluice::server {

class Shard;

// Receive buffer whose start is 8-byte aligned, so frames that start at an 8-byte offset can
// be verified in place (FlatBuffers reads scalars where they lie).
// Thread: the owning shard's loop.
class InputBuffer {
 public:
  // Returns writable space of at least `min` bytes at the end, compacting or growing.
  uv_buf_t Reserve(size_t min);
  void Commit(size_t n) { end_ += n; }
  std::span<const uint8_t> Unread() const { return {data() + begin_, end_ - begin_}; }
  void Consume(size_t n);
  // Frees the storage when nothing unread is left, so an idle connection holds no buffer.
  void ReleaseIfEmpty();
  size_t capacity() const { return cap_; }
  // Bytes that can be read in without growing (counting what compaction would reclaim).
  size_t Room() const { return cap_ - (end_ - begin_); }

 private:
  uint8_t* data() const { return reinterpret_cast<uint8_t*>(words_.get()); }
  std::unique_ptr<uint64_t[]> words_;  // uint64_t storage gives the 8-byte alignment
  size_t cap_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

// Created by the shard when it adopts a socket; deletes itself in its close callback after
// telling the shard. Responses are sent strictly in request order: every response produced while
// reading is staged and sent by Flush after the shard's next commit.
// Thread: the owning shard's loop; not thread-safe.
class Connection {
 public:
  Connection(Shard* shard, uint64_t id);
  // Takes over `fd` and starts reading. On error the connection closes itself (and the fd),
  // and deletes itself in its close callback like any other connection.
  base::Status Open(int fd);
  // Encodes every staged response (acks become failures when `commit` failed) and writes them.
  void Flush(const base::Status& commit);
  // Resumes reading after a commit-budget or client-memory pause (also parses frames already
  // buffered).
  void ResumeAfterBudget();
  // Closes a connection that held an incomplete frame longer than read_timeout_s, or whose
  // unsent responses made no progress for write_timeout_s (a client that stopped reading).
  void CheckTimeouts(int64_t now_ms);
  bool paused_for_memory() const { return paused_for_memory_; }
  // Graceful stop: no more reads; close once the queued output is written.
  void BeginDrainAndClose();
  // Immediate close.
  void Close();
  bool closing() const { return closing_; }
  // False when Open failed before the libuv handle existed: the owner deletes the object.
  bool handle_open() const { return handle_open_; }
  bool has_staged() const { return !staged_.empty(); }
  // Set by the shard while the connection is in its dirty list.
  bool in_dirty_list = false;

 private:
  struct Staged {
    uint32_t request_id = 0;
    bool is_put = false;
    std::string frame;  // ready bytes when !is_put
    StagedPut put;
    size_t charged = 0;  // output bytes charged for it until Flush encodes it
  };
  struct WriteReq {
    uv_write_t req;
    std::string data;
    Connection* conn;
  };

  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) noexcept;
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void OnWrite(uv_write_t* req, int status) noexcept;
  static void OnClose(uv_handle_t* handle) noexcept;

  // Starts or stops reading to match the pause flags.
  void UpdateReading();
  // Parses and dispatches every complete frame in the buffer (until paused or failed).
  void ProcessInput();
  void HandleFrame(const proto::Frame& frame, std::span<const uint8_t> body);
  void StageFrame(uint32_t request_id, std::string frame);
  // Stages an Error frame with closing=true, stops reading, and closes after it is sent.
  void Fail(uint32_t request_id, proto::WireError code, const std::string& message);
  size_t UnsentBytes() const;
  void MaybeCloseAfterDrain();
  // The request id to answer a refused frame with (see docs/protocol.md, "Errors").
  uint32_t EchoedRequestId() const;
  // Charges the receive buffer's capacity change to the shared client memory.
  void SyncInputCharge();
  // Adds (or with a negative delta, releases) queued response bytes.
  void ChargeOutput(int64_t delta);
  // Stops taking frames until the shard's tick finds client memory under budget again.
  void PauseForMemory();

  Shard* shard_;
  const uint64_t id_;
  uv_tcp_t tcp_;
  InputBuffer in_;
  std::vector<uint64_t> aligned_body_;  // scratch for bodies that arrive misaligned
  std::vector<Staged> staged_;
  bool reading_ = false;
  bool paused_for_output_ = false;
  bool paused_for_budget_ = false;
  bool authenticated_ = false;
  bool close_after_drain_ = false;
  bool closing_ = false;
  bool peer_eof_ = false;
  bool handle_open_ = false;
  bool paused_for_memory_ = false;
  uint32_t pending_writes_ = 0;
  size_t charged_input_ = 0;   // receive buffer capacity charged to client memory
  size_t output_bytes_ = 0;    // staged responses (bounds) + bytes handed to uv_write
  int64_t partial_since_ms_ = 0;  // when the incomplete frame now buffered began; 0 = none
  uint64_t writes_done_ = 0;      // completed uv_writes (progress for the write timeout)
  uint64_t writes_seen_ = 0;      // writes_done_ at the last timeout check
  size_t queue_seen_ = 0;         // write queue size at the last timeout check
  int64_t write_progress_ms_ = 0; // last time the output made progress
};

}  // namespace sluice::server
