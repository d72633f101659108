// AdminServices: what admin command handlers may ask of the running server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/config.h"
#include "server/delivery/delivery_pool.h"
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
  virtual const StreamRegistry& streams() const = 0;
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
};

}  // namespace sluice::server::admin
