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
#include "server/shard_connection.h"

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
class Connection final : public ShardConnection {
 public:
  Connection(Shard* shard, uint64_t id);
  // ShardConnection (a connection that held an incomplete frame longer than read_timeout_s
  // gets a Timeout error and is closed).
  void Flush(const base::Status& commit) override;
  void CheckTimeouts(int64_t now_ms) override;

 private:
  struct Staged {
    uint32_t request_id = 0;
    bool is_put = false;
    std::string frame;  // ready bytes when !is_put
    StagedPut put;
    size_t charged = 0;  // output bytes charged for it until Flush encodes it
  };
  // SocketConnection
  bool WantRead() const override;
  void OnAllocBuffer(uv_buf_t* buf) override;
  void OnBytes(size_t n) override;

  // ShardConnection: parses and dispatches every complete frame in the buffer (until paused or
  // failed).
  void ProcessInput() override;
  bool has_staged() const override { return !staged_.empty(); }
  void HandleFrame(const proto::Frame& frame, std::span<const uint8_t> body);
  void StageFrame(uint32_t request_id, std::string frame);
  // Stages an Error frame with closing=true, stops reading, and closes after it is sent.
  void Fail(uint32_t request_id, proto::WireError code, const std::string& message);
  // The request id to answer a refused frame with (see docs/protocol.md, "Errors").
  uint32_t EchoedRequestId() const;
  // Charges the receive buffer's capacity change to the shared client memory.
  void SyncInputCharge() { SyncBufferCharge(in_.capacity()); }

  InputBuffer in_;
  std::vector<uint64_t> aligned_body_;  // scratch for bodies that arrive misaligned
  std::vector<Staged> staged_;
  bool authenticated_ = false;
  const AccessKey* key_ = nullptr;  // the access key of Hello's "<id>:<secret>" token, if any
  int64_t partial_since_ms_ = 0;  // when the incomplete frame now buffered began; 0 = none
  uint64_t reads_ = 0;            // reads so far, and as of the last CheckTimeouts tick
  uint64_t reads_seen_ = 0;
};

}  // namespace sluice::server
