// libsluice: put records into a Sluice delivery stream from C++.
//
// The installed, stable interface of the client library: it includes only the standard
// library. Link with find_package(sluice) (target sluice::sluice) or `pkg-config sluice`.
//
//   auto producer = sluice::Producer::Connect({.host = "127.0.0.1", .port = 7410});
//   if (!producer) { std::cerr << producer.error().message; return 1; }
//   auto out = (*producer)->PutRecordBatch("clicks", {"one", "two"});
//   // out->records[i].ok(): record i is stored durably (fsynced) on the server.
//
// Thread: a Producer is used by one sending and one receiving thread at a time (Send on one,
// Receive on another is the intended split for pipelining); PutRecordBatch uses both.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sluice {

// The library version, "major.minor.patch".
const char* Version();

// Why a call failed as a whole. Per-record failures are in RecordOutcome instead.
enum class ErrorCode : uint16_t {
  kOk = 0,
  kInvalidArgument = 1,  // the call's arguments (an empty stream name, a batch over the server's limits)
  kUnavailable = 2,      // cannot connect, the connection broke, or a timeout: retry on a new Producer
  kUnauthenticated = 3,  // the server refused the auth token
  kProtocol = 4,         // the server's answer could not be understood
  kServer = 5,           // the server refused the request as a whole (see message)
};
const char* ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kOk;
  std::string message;
};

// A value or an Error. Test it like a pointer (`if (r)`), then use `*r` / `r->`, or `error()`.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 7410;
  // Sent in Hello; required when the server has an auth token.
  std::string auth_token;
  std::string client_name = "libsluice";
  // Connecting longer than this fails with kUnavailable. Default: 5 s.
  int connect_timeout_ms = 5000;
  // A response not received in this time fails with kUnavailable. Default: 60 s.
  int io_timeout_ms = 60000;
  // TLS (servers with tls_ports = ["put"]): the certificate is verified against ca_file (default:
  // the system's CAs) and must name `host`. Default: off.
  bool tls = false;
  std::string ca_file;
};

// The limits the server enforces (from its HelloAck).
struct ServerLimits {
  uint32_t max_record_bytes = 0;
  uint32_t max_batch_records = 0;
  uint32_t max_batch_bytes = 0;
};

// One record's outcome, in request order.
struct RecordOutcome {
  uint64_t record_id = 0;   // opaque and unique per server; 0 when the record failed
  uint16_t error_code = 0;  // 0: stored durably; else a wire error code (docs/protocol.md)
  std::string error_name;   // "Throttled", "UnknownStream", ... ("" when stored)
  std::string message;
  bool retryable = false;   // true: resending this record may succeed
  bool ok() const { return error_code == 0; }
};

struct BatchOutcome {
  uint32_t failed_count = 0;
  std::vector<RecordOutcome> records;
};

// One connection to sluiced.
class Producer {
 public:
  // Connects and exchanges Hello/HelloAck. kUnavailable when the server cannot be reached,
  // kUnauthenticated when the token is refused.
  static Result<std::unique_ptr<Producer>> Connect(const Options& options);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  ServerLimits limits() const;

  // Sends one batch without waiting for its outcome; returns its request id. kInvalidArgument
  // when it breaks the server's limits (nothing sent); kUnavailable when the connection broke.
  Result<uint32_t> Send(std::string_view stream, const std::vector<std::string_view>& records);
  // The outcome of the oldest batch sent and not yet received. kUnavailable when the connection
  // broke: the batches still in flight may or may not be stored (resend them: at-least-once).
  Result<BatchOutcome> Receive();
  // Send + Receive. REQUIRES: nothing in flight.
  Result<BatchOutcome> PutRecordBatch(std::string_view stream, const std::vector<std::string_view>& records);
  // Batches sent and not yet received.
  size_t in_flight() const;

 private:
  struct Impl;
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A Sluice cluster (sluiced --cluster): one pipelined connection that learns the live members
// from any seed (DescribeCluster), starts on a member chosen in rotation (so several
// ClusterProducers of a process spread over the members) and, when its node fails, moves to
// another live node and sends every unacknowledged batch again (at-least-once: a batch the failed
// node had stored may be stored twice).
//
//   auto p = sluice::ClusterProducer::Connect({.seeds = {"10.0.0.1:7410", "10.0.0.2:7410"}});
//   auto id = (*p)->Send("clicks", {"one", "two"});
//   auto done = (*p)->Receive();  // done->first == *id; done->second.records[i].ok()
//
// Thread: one thread at a time (Send and Receive from the same thread).
struct ClusterOptions {
  std::vector<std::string> seeds;  // "host:port" of some nodes' put ports (at least one)
  Options connection;              // auth_token, client_name, timeouts, tls, ca_file (host, port unused)
  // How long a batch may look for a node that takes it before Send/Receive fail with kUnavailable.
  int failover_timeout_ms = 30000;
  // Every this often the producer checks whether its node has at least 2 more connections than
  // another live member and moves there (so producers spread again after a node returns). It
  // moves with nothing in flight: when wants_rebalance() is true, Receive until in_flight() is 0
  // before the next Send. 0: never.
  int rebalance_interval_ms = 10000;
};

class ClusterProducer {
 public:
  static Result<std::unique_ptr<ClusterProducer>> Connect(const ClusterOptions& options);
  ~ClusterProducer();
  ClusterProducer(const ClusterProducer&) = delete;
  ClusterProducer& operator=(const ClusterProducer&) = delete;

  ServerLimits limits() const;
  // Sends one batch (a copy is kept until its outcome arrives); returns its id.
  Result<uint64_t> Send(std::string_view stream, const std::vector<std::string_view>& records);
  // The oldest unanswered batch: its id (from Send) and outcome.
  Result<std::pair<uint64_t, BatchOutcome>> Receive();
  // Send + Receive. REQUIRES: nothing in flight.
  Result<BatchOutcome> PutRecordBatch(std::string_view stream, const std::vector<std::string_view>& records);
  size_t in_flight() const;
  bool wants_rebalance() const;
  // The node this producer sends to now, the live members it last learned, and how often it moved.
  std::string node() const;
  std::vector<std::string> members() const;
  uint64_t failovers() const;

 private:
  struct Impl;
  explicit ClusterProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
