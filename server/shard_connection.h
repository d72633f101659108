// ShardConnection: what a shard needs of a connection it owns, whatever the protocol on it (the
// binary put protocol, connection.h; the Firehose HTTP API, http/http_connection.h).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "server/socket_connection.h"

namespace sluice::server {

// The protocols a shard serves, one per listening port.
enum class PortProtocol { kSluice, kHttp };

// Design: a connection reads requests, stages their records in the shard's PutHandler and its
// responses in order, and asks for Flush (MarkDirty). After the shard's group commit, Flush
// answers every staged request (an ack only when `commit` succeeded). Reading pauses for the
// shard's commit budget (ResumeAfterBudget after the commit), the shared client memory (resumed
// by the shard's tick), and the connection's own output budget.
// Thread: the owning shard's loop; not thread-safe.
class ShardConnection : public SocketConnection {
 public:
  // Takes over `fd` (speaking TLS with `tls` when not null) and starts reading. On error the
  // connection closes itself (and the fd), and deletes itself in its close callback like any
  // other connection.
  virtual base::Status Open(int fd, SSL_CTX* tls) = 0;
  // Answers every staged request; acks become failures when `commit` failed.
  virtual void Flush(const base::Status& commit) = 0;
  // Resumes reading after a commit-budget or client-memory pause.
  virtual void ResumeAfterBudget() = 0;
  // Closes a connection whose request has been arriving for longer than read_timeout_s, or
  // whose output made no progress for write_timeout_s. Called about once a second.
  virtual void CheckTimeouts(int64_t now_ms) = 0;
  // Graceful stop: no more reads; close once the queued output is written.
  virtual void BeginDrainAndClose() = 0;
  // The answer to a request this connection sent to main's thread (`token` names it). Default:
  // the protocol sends none.
  virtual void CompleteControl(uint64_t token, std::string response) {}
  virtual uint64_t id() const = 0;
  // False when Open failed before the libuv handle existed: the owner deletes the object.
  bool handle_open() const { return SocketConnection::handle_open(); }
  // Set by the shard while the connection is in its dirty list.
  bool in_dirty_list = false;
};

}  // namespace sluice::server
