// AdminServices: what admin command handlers may ask of the running server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/config.h"
#include "server/delivery/delivery_pool.h"
#include "server/replay_job.h"
#include "server/shard.h"
#include "server/stream_registry.h"
#include "storage/segment.h"

namespace sluice::server::admin {

// One admin connection's state.
struct Session {
  bool authenticated = false;
  bool close_after_reply = false;
};

// Implemented by Server. Every method is called on main's thread (the admin port's loop) and
// reaches other threads only through their documented doors (Shard::Post, DeliveryPool locks,
// relaxed atomics).
class AdminServices {
 public:
  virtual ~AdminServices() = default;
  virtual const ServerConfig& config() const = 0;
  // The current set of streams (a snapshot: later changes do not show in it).
  virtual StreamSetPtr streams() const = 0;
  virtual const std::vector<std::unique_ptr<Shard>>& shards() const = 0;
  virtual const DeliveryPool& pool() const = 0;
  virtual storage::Store& store() = 0;
  virtual uint16_t put_port() const = 0;
  virtual uint16_t admin_port() const = 0;
  virtual int64_t start_unix_ms() const = 0;
  // True when AUTH is required; CheckPassword compares in constant time.
  virtual bool password_required() const = 0;
  virtual bool CheckPassword(std::string_view given) const = 0;
  // Graceful stop, as SIGTERM.
  virtual void RequestShutdown() = 0;
  // Seals open segments of one stream (nullptr: all) on every shard.
  virtual void Flush(const StreamInfo* stream) = 0;

  // --- Streams at run time. Each persists in the catalog before it answers, and returns an
  // error for the operator (kNotFound, kAlreadyExists, kInvalidArgument naming the key, ...).
  using Settings = std::vector<std::pair<std::string, std::string>>;
  virtual base::Result<StreamPtr> CreateStream(const std::string& name, const Settings& settings) = 0;
  // expected_version 0: no check (else Firehose's CurrentDeliveryStreamVersionId).
  virtual base::Result<StreamPtr> UpdateStream(const std::string& name, uint32_t expected_version,
                                               const Settings& settings) = 0;
  // Without force, refuses while records of the stream are undelivered. The stream turns
  // DELETING (puts refused) and disappears once nothing of it remains stored.
  virtual base::Status DeleteStream(const std::string& name, bool force) = 0;
  virtual base::Status SetPaused(const std::string& name, bool paused) = 0;
  // Starts re-putting backed-up segment files (a stream's backup store, a file or a directory).
  // Returns how many files the replay covers.
  virtual base::Result<size_t> StartReplay(const std::string& target) = 0;
  virtual ReplayJob::Snapshot replay_status() const = 0;

  // CONFIG GET / SET: every setting as text; SET only for those that can change at run time.
  virtual std::vector<std::pair<std::string, std::string>> ConfigValues() const = 0;
  virtual base::Status SetConfig(const std::string& key, const std::string& value) = 0;
};

}  // namespace sluice::server::admin
