// ServerConfig: every server-wide setting of sluiced, its default, and validation. Loaded from an
// optional TOML file (--config), then overridden by command-line flags. The streams' own settings
// are in stream_config.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "protocol/limits.h"
#include "server/stream_config.h"

namespace sluice::server {

enum class DurabilityMode { kFsync, kInterval, kNone };

struct Durability {
  // kFsync: a put is acked after the WAL is fsynced (survives power loss).
  // kInterval: acked after the write reaches the OS; the WAL is fsynced every interval_ms
  //            (a power loss can lose up to interval_ms of acked puts; kill -9 loses nothing).
  // kNone: acked after the write reaches the OS; never fsynced by Sluice.
  // Default: kFsync. Reloadable: no.
  DurabilityMode mode = DurabilityMode::kFsync;
  uint32_t interval_ms = 0;
};
// Parses "fsync", "interval:<ms>" (1..60000) or "none".
base::Result<Durability> ParseDurability(const std::string& text);
std::string ToString(const Durability& d);

// An access key of the Firehose API (and of the put port's Hello token "<id>:<secret>"): the
// config file's [[access_key]] tables.
struct AccessKey {
  // 16..128 characters of [A-Za-z0-9_-] (AWS's access key ids are 20 of [A-Z0-9]).
  std::string id;
  // 1..256 characters.
  std::string secret;
  // The streams it may use: names, "prefix*", or "*". Default: ["*"].
  std::vector<std::string> streams = {"*"};
  // The operations it may call: Firehose operation names, or the groups "put" (PutRecord,
  // PutRecordBatch), "read" (DescribeDeliveryStream, ListDeliveryStreams,
  // ListTagsForDeliveryStream), "manage" (the other control-plane operations), "*".
  // Default: ["put", "read"] (a producer).
  std::vector<std::string> operations = {"put", "read"};
  bool Allows(std::string_view operation) const;
  // Whether `stream` is among `streams`.
  bool MayUse(std::string_view stream) const;
};

// Cluster mode (docs/operations.md, "Running a cluster"): on when endpoints is not empty.
struct ClusterConfig {
  // etcd client URLs ("http://host:port"), tried in order. Config key cluster_endpoints, flag
  // --cluster a,b,c. Default: none (a single node). Reloadable: no.
  std::vector<std::string> endpoints;
  // This node's id: [A-Za-z0-9_.-], 1..64 bytes; it names the node's delivered objects and backup
  // files. Required in cluster mode; recorded in the data directory at the first start, which then
  // refuses another. Config key node_id, flag --node-id. Reloadable: no.
  std::string node_id;
  // host:port at which clients and the other nodes reach this node's put port (the API and admin
  // ports are advertised on the same host). Default: the put port's bind address and port (which
  // must then not be a wildcard). Config key advertise, flag --advertise. Reloadable: no.
  std::string advertise;
  // Every key Sluice writes lives under this prefix, so clusters can share one etcd. Must start and
  // end with '/'. Default: /sluice/. Reloadable: no.
  std::string prefix = "/sluice/";
  // The membership lease: a node that stops renewing it leaves the member list after this many
  // seconds. 2..60. Default: 5. Reloadable: no.
  uint32_t lease_ttl_s = 5;
  // Bound on each etcd request (a catalog change waits at most this long). 100..60000.
  // Default: 2000. Reloadable: no.
  uint32_t timeout_ms = 2000;
  // Automatic adoption: a node that has been down this many seconds, whose data directory this
  // node can reach (shared storage), gets its backlog delivered by the live node with the lowest
  // id (as CLUSTER ADOPT does). 0: off, adopt by hand. 0..86400. Default: 0. Reloadable: no.
  uint32_t auto_adopt_s = 0;
  // Internal (set by CLUSTER ADOPT on the sluiced it spawns): this process delivers the backlog
  // of the data directory of another, dead node for the node named here, then exits. No ports
  // but the admin port on loopback; no member record. Flag --drain-for.
  std::string drain_for;
  bool enabled() const { return !endpoints.empty(); }
};

struct ServerConfig {
  // Directory holding the RocksDB database and the lock file. Default: ./sluice-data.
  std::string data_dir = "./sluice-data";
  // Address the put port binds to. Default: 127.0.0.1. Reloadable: no.
  std::string bind = "127.0.0.1";
  // Put port; 0 picks a free port (see port_file). Default: 7410. Reloadable: no.
  uint16_t port = 7410;
  // When set, the chosen put port is written here (atomically) once listening. Default: none.
  std::string port_file;
  // Number of shard threads (one libuv loop each). 0 = half the cores, at least 1. Default: 0.
  uint32_t shards = 0;
  Durability durability;
  proto::Limits limits;
  // When set, every connection must send Hello with this token before anything else.
  // Default: none (no authentication). Reloadable: no.
  std::string auth_token;
  // A connection stops being read while more than this many response bytes wait to be sent to
  // it (a client that does not read its acks). Default: 4 MiB. Reloadable: no.
  uint64_t connection_output_budget = 4u << 20;
  // A shard stops reading sockets for the rest of a loop iteration once this many bytes wait to
  // be committed, so one iteration's WriteBatch is bounded. Default: 64 MiB. Reloadable: no.
  uint64_t shard_commit_budget = 64u << 20;
  // Most put connections open at once; one more is answered with Error TooManyConnections and
  // closed. 1..1000000. Default: 10000. Reloadable: no.
  uint32_t max_connections = 10000;
  // All put connections together hold at most about this much in receive buffers and queued
  // responses (ClientMemory); above it they take no new frame until some is released.
  // Config key max_client_memory_mib, 16..1048576 and at least two maximal frames.
  // Default: 128 MiB. Reloadable: no.
  uint64_t max_client_memory_bytes = 128u << 20;
  // A frame whose first bytes arrived must be complete within this many seconds, or the
  // connection gets Error Timeout and is closed. 1..3600. Default: 30. Reloadable: no.
  uint32_t read_timeout_s = 30;
  // A connection whose queued responses make no progress (the client reads nothing) for this
  // many seconds is closed. 1..3600. Default: 60. Reloadable: no.
  uint32_t write_timeout_s = 60;
  // On SIGTERM/SHUTDOWN, how long to wait for delivery attempts in flight before abandoning
  // them (their segments stay stored and are delivered after the restart). 0..3600.
  // Default: 30. Reloadable: no.
  uint32_t shutdown_timeout_s = 30;
  // debug | info | warn | error. Default: info. Reloadable: yes (CONFIG SET, SIGHUP).
  std::string log_level = "info";
  // text (one line: time, level, module, message) | json (one object a line: time, level,
  // module, message, and stream, segment, destination where they apply). Default: text.
  // Reloadable: yes (SIGHUP).
  std::string log_format = "text";
  // Lines a second one log statement may write (0: no limit); the next line it writes says how
  // many were held back. 0..100000. Default: 20. Reloadable: yes (SIGHUP).
  uint32_t log_rate_limit = 20;
  // Puts are refused (retryable StorageFailure) while the data dir's file system has less than
  // this free; the store's own writes (segment bookkeeping, deletes after delivery) stop at a
  // quarter of it. 16..1048576 MiB. Default: 256 MiB. Reloadable: no.
  uint64_t min_free_bytes = 256u << 20;
  // none | zstd: compress the write-ahead log (docs/benchmarks.md measures it on realistic
  // records). Default: none. Reloadable: no.
  std::string wal_compression = "none";
  // none | lz4 | zstd: compress the records' files that memtable flushes and compactions write.
  // Default: none. Reloadable: no.
  std::string records_compression = "none";
  // Admin port (telnet / redis-cli). 0 picks a free port. Default: 7411. Reloadable: no.
  uint16_t admin_port = 7411;
  // Address of the admin port. Default: 127.0.0.1. Reloadable: no.
  std::string admin_bind = "127.0.0.1";
  // When set, admin commands other than AUTH, PING, HELP, COMMAND and QUIT need AUTH first.
  // Default: none. Reloadable: no.
  std::string admin_password;
  // Allows a non-loopback admin_bind without admin_password. Default: false. Reloadable: no.
  bool admin_allow_remote_without_password = false;
  // When set, the chosen admin port is written here once listening. Default: none.
  std::string admin_port_file;
  // The Firehose API port (AWS JSON 1.1 over HTTP/1.1, docs/protocol.md). Served by the shards,
  // so its puts join the same group commit. false: not opened. Default: true. Reloadable: no.
  bool http_enabled = true;
  // 0 picks a free port. Default: 7412. Reloadable: no.
  uint16_t http_port = 7412;
  // Without access_keys, loopback only (requests are not authenticated). Default: 127.0.0.1.
  // Reloadable: no.
  std::string http_bind = "127.0.0.1";
  // When set, the chosen HTTP port is written here once listening. Default: none.
  std::string http_port_file;
  // TLS: the ports that speak it ("put", "admin", "http"), with this PEM certificate chain and
  // key (re-read on SIGHUP: new connections get the new certificate). TLS 1.2 or later.
  // Default: none. Reloadable: the files yes, the list no.
  std::vector<std::string> tls_ports;
  std::string tls_cert_file;
  std::string tls_key_file;
  bool tls_on(std::string_view port) const {
    for (const std::string& p : tls_ports)
      if (p == port) return true;
    return false;
  }
  // Keys that sign Firehose API requests (SigV4). With none, the API port accepts unsigned
  // requests and must bind to loopback. Default: none. Reloadable: no.
  std::vector<AccessKey> access_keys;
  // Directories besides the backup stores that REPLAY <path> may read (the backup roots,
  // <data_dir>/backup and every stream's backup.path, are always allowed). Default: none.
  // Reloadable: yes (SIGHUP).
  std::vector<std::string> replay_roots;
  // Delivery worker threads. 1..64. Default: 4. Reloadable: no.
  uint32_t delivery_threads = 4;
  // What delivery attempts in flight may hold together (DeliveryPool::AttemptMemory: a segment's
  // bytes, 40 bytes a record, half again when the stream compresses or converts): an attempt
  // that would pass it waits until others end, and one attempt always runs. Config key
  // delivery_memory_mib, 16..1048576. Default: 256 MiB. Reloadable: no.
  uint64_t delivery_memory_bytes = 256u << 20;
  // Allows [stream.fault] sections (tests only). Default: false. Reloadable: no.
  bool enable_fault_injection = false;
  std::vector<StreamConfig> streams;
  ClusterConfig cluster;
  // Where each top-level key was set in the config file ("path:line"), so Validate's range
  // errors name the file and line as syntax errors do.
  std::map<std::string, std::string> origins;

  // Returns kInvalidArgument naming the setting and its allowed range (and, for a setting from
  // the config file, the file and line).
  base::Status Validate() const;
  // Adds the embedded default stream when no stream is declared ("default": directory
  // <data_dir>/delivered/default, newline-delimited, 5 MiB / 10 s buffering), and fills in
  // per-stream defaults (paths under data_dir).
  void ApplyDefaults();
};

// Loads a TOML config file into `cfg` (fields not in the file keep their values). Returns
// kInvalidArgument naming the file, line and key for a syntax error, an unknown key or a value
// of the wrong type; kNotFound / kIOError when the file cannot be read.
base::Status LoadConfigFile(const std::string& path, ServerConfig* cfg);
// The same for TOML text already in memory (`origin` names it in messages).
base::Status LoadConfigText(std::string_view text, const std::string& origin, ServerConfig* cfg);

}  // namespace sluice::server
