// What admin command handlers may ask of the running server: one narrow interface per command
// family, bundled in AdminServices.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <map>
#include <vector>

#include "server/config.h"
#include "server/delivery/delivery_pool.h"
#include "server/replay_job.h"
#include "server/shard.h"
#include "server/stream_registry.h"
#include "storage/segment.h"

namespace sluice::server::cluster {
class ClusterAgent;
}
namespace sluice::server::admin {

// One admin connection's state.
struct Session {
  bool authenticated = false;
  bool close_after_reply = false;
};

// Every method of these interfaces is called on main's thread (the admin port's loop) and
// reaches other threads only through their documented doors (Shard::Post, DeliveryPool locks,
// relaxed atomics).

// INFO, STATS, SEGMENTS, CONFIG GET: read-only views of the running server.
class ServerStatus {
 public:
  virtual ~ServerStatus() = default;
  virtual const ServerConfig& config() const = 0;
  virtual const std::vector<std::unique_ptr<Shard>>& shards() const = 0;
  virtual const DeliveryPool& pool() const = 0;
  virtual storage::Store& store() = 0;
  virtual uint16_t put_port() const = 0;
  virtual uint16_t admin_port() const = 0;
  virtual int64_t start_unix_ms() const = 0;
  // Cluster mode: this node's link to etcd (CLUSTER commands); nullptr on a single node.
  virtual cluster::ClusterAgent* cluster() = 0;
  // CONFIG GET: every setting as text.
  virtual std::vector<std::pair<std::string, std::string>> ConfigValues() const = 0;
};

// AUTH, CONFIG SET, SHUTDOWN.
class ServerControl {
 public:
  virtual ~ServerControl() = default;
  // True when AUTH is required; CheckPassword compares in constant time.
  virtual bool password_required() const = 0;
  virtual bool CheckPassword(std::string_view given) const = 0;
  // CONFIG SET, for the settings that can change at run time.
  virtual base::Status SetConfig(const std::string& key, const std::string& value) = 0;
  // Graceful stop, as SIGTERM.
  virtual void RequestShutdown() = 0;
  // CLUSTER ADOPT / RELEASE: deliver a dead node's data directory from here (a child sluiced), or
  // stop doing so.
  virtual base::Status AdoptNode(const std::string& node) = 0;
  virtual base::Status ReleaseNode(const std::string& node) = 0;
};

// STREAM *, PAUSE, RESUME, FLUSH: streams at run time. Each change persists in the catalog
// before it answers, and returns an error for the operator (kNotFound, kAlreadyExists,
// kInvalidArgument naming the key, ...).
class StreamControl {
 public:
  virtual ~StreamControl() = default;
  using Settings = std::vector<std::pair<std::string, std::string>>;
  // The current set of streams (a snapshot: later changes do not show in it).
  virtual StreamSetPtr streams() const = 0;
  virtual base::Result<StreamPtr> CreateStream(const std::string& name, const Settings& settings) = 0;
  // expected_version 0: no check (else Firehose's CurrentDeliveryStreamVersionId).
  virtual base::Result<StreamPtr> UpdateStream(const std::string& name, uint32_t expected_version,
                                               const Settings& settings) = 0;
  // Sets and removes tags (Firehose's TagDeliveryStream/UntagDeliveryStream); the version stays.
  virtual base::Result<StreamPtr> UpdateTags(const std::string& name, const std::map<std::string, std::string>& set,
                                             const std::vector<std::string>& remove) = 0;
  // Without force, refuses while records of the stream are undelivered. The stream turns
  // DELETING (puts refused) and disappears once nothing of it remains stored.
  virtual base::Status DeleteStream(const std::string& name, bool force) = 0;
  virtual base::Status SetPaused(const std::string& name, bool paused) = 0;
  // Seals open segments of one stream (nullptr: all) on every shard, and its open partitions.
  virtual void Flush(const StreamInfo* stream) = 0;
};

// REPLAY, INFO replay.
class ReplayControl {
 public:
  virtual ~ReplayControl() = default;
  // Starts re-putting backed-up segment files (a stream's backup store, a file or a directory
  // under the backup roots). Returns how many files the replay covers.
  virtual base::Result<size_t> StartReplay(const std::string& target) = 0;
  virtual ReplayJob::Snapshot replay_status() const = 0;
};

}  // namespace sluice::server::admin
namespace sluice::server::monitor {
class Monitor;
}
namespace sluice::server::admin {

// The families a command handler reaches, owned elsewhere (Server and its parts).
struct AdminServices {
  ServerStatus& status;
  ServerControl& control;
  StreamControl& streams;
  ReplayControl& replay;
  // STATUS (the status page's JSON, which `sluice top` reads); null inside the Monitor itself.
  monitor::Monitor* monitor = nullptr;
};

}  // namespace sluice::server::admin
