// ShardConnection: a connection a shard owns, whatever the protocol on it (the binary put
// protocol, connection.h; the Firehose HTTP API, http/http_connection.h): what the shard calls,
// and the backpressure and memory accounting both protocols share.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "server/socket_connection.h"

namespace sluice::server {

class Shard;

// The protocols a shard serves, one per listening port.
enum class PortProtocol { kSluice, kHttp };

// Design: a connection reads requests, stages their records in the shard's PutHandler and its
// responses in order, and asks for Flush (MarkDirty). After the shard's group commit, Flush
// answers every staged request (an ack only when `commit` succeeded). Reading pauses for the
// shard's commit budget (ResumeAfterBudget after the commit), the shared client memory (resumed
// by the shard's tick), and the connection's own output budget (resumed as output drains). The
// receive buffers, staged responses (as bounds) and queued output are charged to the shard's
// ClientMemory.
// Thread: the owning shard's loop; not thread-safe.
class ShardConnection : public SocketConnection {
 public:
  // Takes over `fd` (speaking TLS with `tls` when not null) and starts reading. On error the
  // connection closes itself (and the fd), and deletes itself in its close callback like any
  // other connection.
  base::Status Open(int fd, SSL_CTX* tls);
  // Answers every staged request; acks become failures when `commit` failed.
  virtual void Flush(const base::Status& commit) = 0;
  // Closes a connection whose request has been arriving for longer than read_timeout_s, or
  // whose output made no progress for write_timeout_s. Called about once a second.
  virtual void CheckTimeouts(int64_t now_ms) = 0;
  // The answer to a request this connection sent to main's thread (`token` names it). Default:
  // the protocol sends none.
  virtual void CompleteControl(uint64_t token, std::string response) {}
  // Resumes reading after a commit-budget or client-memory pause (input already buffered first).
  void ResumeAfterBudget();
  // Graceful stop: no more reads; close once the queued output is written.
  void BeginDrainAndClose();
  uint64_t id() const { return id_; }
  // False when Open failed before the libuv handle existed: the owner deletes the object.
  bool handle_open() const { return SocketConnection::handle_open(); }
  // Set by the shard while the connection is in its dirty list, its commit-budget paused list or
  // its client-memory paused list: membership without a scan (a flood of connections can put
  // thousands in the memory list, and every pause and close searched it).
  bool in_dirty_list = false;
  bool in_budget_list = false;
  bool in_memory_list = false;

 protected:
  ShardConnection(Shard* shard, uint64_t id) : shard_(shard), id_(id) {}

  // Parses and dispatches what is buffered, until paused or out of input.
  virtual void ProcessInput() = 0;
  virtual bool has_staged() const = 0;
  // The common conditions for reading; a protocol may add its own.
  bool ReadingAllowed() const;
  // Charges the connection's buffers (receive buffer, request body...) at `bytes` in all.
  void SyncBufferCharge(size_t bytes);
  // Adds (or with a negative delta, releases) the bound charged for staged responses.
  void ChargeStaged(int64_t delta);
  // Responses waiting for this client: staged (as bounds) and queued in libuv.
  size_t queued_output() const { return staged_bytes_ + output_bytes(); }
  // Stops taking requests until the shard's tick finds client memory under budget again.
  void PauseForMemory();
  // Whether the next request may be taken now; false after pausing for whichever budget is
  // spent (the shard's commit budget, this client's output budget, the client memory). The
  // responses waiting for a client are bounded before a request that would add to them is read:
  // a client that does not read stops being read.
  bool MayTakeRequest();
  // Writes what Flush encoded, pausing reads while the output budget is exceeded.
  void SendFlushed(std::string out);
  void MaybeCloseAfterDrain();

  // SocketConnection
  void OnReadEnd(ssize_t status) override;
  void OnWritten(int status) override;
  void OnOutputChange(int64_t delta) override;
  void OnClosed() override;

  Shard* const shard_;
  const uint64_t id_;
  bool paused_for_output_ = false;
  bool paused_for_budget_ = false;
  bool paused_for_memory_ = false;
  bool close_after_drain_ = false;
  bool peer_eof_ = false;

 private:
  size_t charged_buffers_ = 0;  // buffers charged to client memory
  size_t staged_bytes_ = 0;     // bounds charged for staged responses
};

}  // namespace sluice::server
