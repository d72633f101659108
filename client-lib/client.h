// libsluice: the C++ client of the Sluice binary put protocol.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "protocol/messages.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace sluice::client {

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7410;
  // Sent in Hello; required when the server runs with --auth-token.
  std::string auth_token;
  std::string client_name = "libsluice/0.1";
  // Default: 5000. Connecting longer than this fails with kUnavailable.
  int connect_timeout_ms = 5000;
  // Default: 60000. A response not fully received in this time fails with kUnavailable.
  int io_timeout_ms = 60000;
  // TLS (a server with tls_ports = ["put"]): the server's certificate is verified against
  // ca_file (default: the system's CAs) and must name `host` (a DNS name or an IP address).
  bool tls = false;
  std::string ca_file;
};

// Outcome of one record, in request order.
struct RecordResult {
  uint64_t record_id = 0;  // opaque, unique per server data dir; 0 when failed
  uint16_t error_code = 0; // proto::WireError; 0 = stored durably
  std::string error_message;
  bool ok() const { return error_code == 0; }
};

struct PutResult {
  uint32_t request_id = 0;
  uint32_t failed_count = 0;
  std::vector<RecordResult> records;
};

// One connection to sluiced. Batches may be pipelined: send several, then receive their
// results, which arrive in the order the batches were sent.
// Thread: at most one thread sending and one thread receiving at a time (a producer thread and
// an ack thread is the intended split); the in-flight queue between them is locked.
class Client {
 public:
  // Connects and exchanges Hello/HelloAck. Returns kUnavailable when the server cannot be
  // reached, kUnauthenticated when the token is refused, the server's error otherwise.
  static base::Result<std::unique_ptr<Client>> Connect(const ClientOptions& options);
  ~Client();

  // The limits the server announced in HelloAck.
  const proto::Limits& server_limits() const { return limits_; }

  // Sends one batch without waiting; returns its request id. Returns kInvalidArgument for an
  // empty batch, kTooLarge when it exceeds the server's limits (nothing sent), kUnavailable
  // when the connection is broken.
  base::Result<uint32_t> SendPutRecordBatch(std::string_view stream,
                                            std::span<const std::string_view> records);
  // Receives the result of the oldest unanswered batch. A request-level error from the server
  // (batch too large, stream throttled as a whole) comes back as a PutResult whose records all
  // carry that error. Returns kUnavailable when the connection broke (the results of the batches
  // still in flight are unknown: they may or may not be stored), kCorruption for a malformed
  // response.
  base::Result<PutResult> ReceivePutResult();
  // SendPutRecordBatch + ReceivePutResult. REQUIRES: no other batch in flight.
  base::Result<PutResult> PutRecordBatch(std::string_view stream,
                                         std::span<const std::string_view> records);
  size_t in_flight() const;
  // Waits up to `timeout_ns` for the next response to start arriving. True when it has (the next
  // ReceivePutResult waits at most for the rest of that frame), or when the connection is broken
  // (ReceivePutResult reports why); false when the time passed first. For open-loop senders that
  // take results while waiting to send on schedule.
  bool WaitResult(int64_t timeout_ns);

  struct ClusterDescription {
    std::string node;     // the answering node's id
    bool cluster = false; // false: a single node
    std::vector<proto::MemberInfo> members;
  };
  // DescribeCluster: the live members as the server sees them. REQUIRES: nothing in flight.
  base::Result<ClusterDescription> DescribeCluster();

 private:
  struct Pending {
    uint32_t request_id;
    uint32_t record_count;
  };
  Client() = default;
  base::Status SendAll(const std::string& bytes);
  // Reads exactly one frame into rx_ (body 8-byte aligned); returns its header.
  base::Result<proto::FrameHeader> ReadFrame();
  base::Status ReadExact(uint8_t* dst, size_t n);
  base::Status Broken(std::string why);

  // TLS: one OpenSSL operation at a time (a sender and a receiver thread share the session);
  // never held while waiting for the socket.
  base::Status StartTls();
  int fd_ = -1;
  SSL_CTX* tls_ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::mutex ssl_mu_;
  ClientOptions options_;
  proto::Limits limits_;
  proto::PutRecordBatchEncoder encoder_;  // sender side
  std::string tx_;                        // sender side
  std::vector<uint64_t> rx_;              // receiver side; uint64_t for alignment
  uint32_t next_request_id_ = 1;          // sender side
  mutable std::mutex mu_;
  std::deque<Pending> pending_;           // GUARDED_BY(mu_)
  base::Status broken_;                   // GUARDED_BY(mu_)
};

}  // namespace sluice::client
