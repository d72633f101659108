// EtcdClient: the etcd v3 API through its JSON gateway (POST /v3/...), over libcurl.
//
// Why the gateway and not gRPC: Debian 12 ships etcd 3.4 and libgrpc++, but no etcd C++ client;
// the gateway is part of every etcd server, speaks the same RPCs (kv, lease, watch) as JSON with
// base64 keys and values and 64-bit numbers as strings, and needs nothing we do not link already
// (libcurl, simdjson). docs/architecture.md, "Cluster".
//
// Every answer is untrusted: bodies are capped, every field is checked, a value that is not what
// the call expects is an error, never a crash. Endpoints are tried in order; the first that
// answers becomes the one tried first next time.
// Thread: unary calls are thread-safe (HttpClient's handle pool). Watch blocks its caller.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "server/net/http_client.h"

namespace sluice::server::cluster {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

struct RangeResult {
  int64_t revision = 0;  // the store's revision when the range was read
  std::vector<KeyValue> kvs;
};

// One etcd transaction: if every comparison holds, the puts and deletes run, atomically.
struct Txn {
  struct Compare {
    std::string key;
    enum Target { kModRevision, kCreateRevision } target = kModRevision;
    int64_t revision = 0;  // EQUAL; 0 with kCreateRevision = "the key does not exist"
  };
  struct Put {
    std::string key;
    std::string value;
    int64_t lease = 0;
  };
  std::vector<Compare> compare;
  std::vector<Put> puts;
  std::vector<std::string> deletes;          // single keys
  std::vector<std::string> delete_prefixes;  // every key under the prefix
};

struct TxnResult {
  bool succeeded = false;
  int64_t revision = 0;  // the store's revision after the transaction (or when it failed)
};

struct WatchEvent {
  bool deleted = false;
  KeyValue kv;  // for a delete: key and mod_revision only
};

// The end of a prefix range: the prefix with its last byte incremented (etcd's range_end).
std::string PrefixEnd(std::string_view prefix);

// Decoders of the gateway's JSON, exposed for the fuzz target and the unit tests. Each returns
// kProtocol... (kInvalidArgument) for anything that is not the documented shape.
base::Result<RangeResult> DecodeRange(std::string_view json);
base::Result<TxnResult> DecodeTxn(std::string_view json);
// One line of a watch stream: the events it carries (none for the "created" or a progress
// message). kUnavailable when etcd says the watch was cancelled or compacted (start over).
base::Result<std::vector<WatchEvent>> DecodeWatchLine(std::string_view json, int64_t* header_revision);

class EtcdClient {
 public:
  // endpoints: "http://host:port" (or "host:port"), at least one. timeout_ms bounds every unary
  // call (connect included).
  EtcdClient(std::vector<std::string> endpoints, uint32_t timeout_ms);

  // A lease of ttl_s seconds; its id.
  base::Result<int64_t> Grant(int64_t ttl_s);
  // Renews a lease; its remaining TTL, 0 when etcd no longer has it (expired or revoked).
  base::Result<int64_t> KeepAlive(int64_t lease);
  base::Status Revoke(int64_t lease);
  base::Result<RangeResult> Get(std::string_view key);
  base::Result<RangeResult> GetPrefix(std::string_view prefix);
  base::Result<TxnResult> Commit(const Txn& txn);
  // Streams every change under `prefix` from start_revision on, calling on_event for each, until
  // an error (returned) or `abort` answers true (returns Ok; it is asked about once a second and
  // after every chunk). Blocks; one connection.
  base::Status Watch(std::string_view prefix, int64_t start_revision,
                     const std::function<void(const WatchEvent&, int64_t revision)>& on_event,
                     const std::function<bool()>& abort);

  const std::vector<std::string>& endpoints() const { return endpoints_; }

 private:
  // POSTs body to path on the first endpoint that answers; the 200 response body.
  base::Result<std::string> Call(std::string_view path, const std::string& body);
  std::string Endpoint(size_t i) const;

  std::vector<std::string> endpoints_;
  const uint32_t timeout_ms_;
  HttpClient http_;
  std::atomic<size_t> preferred_{0};
};

}  // namespace sluice::server::cluster
