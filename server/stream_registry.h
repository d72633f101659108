// StreamRegistry: the delivery streams a server knows, by name and by storage id.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "server/config.h"

namespace sluice::server {

// Live per-stream counters, written by shards (relaxed atomics) and read by the admin port.
struct StreamCounters {
  std::atomic<uint64_t> incoming_records{0};       // IncomingRecords (stored durably)
  std::atomic<uint64_t> incoming_bytes{0};         // IncomingBytes
  std::atomic<uint64_t> incoming_put_requests{0};  // IncomingPutRequests (with stored records)
  std::atomic<uint64_t> throttled_records{0};      // ThrottledRecords
  // Per shard: arrival time of the oldest record in its open segment of this stream (0: none).
  std::array<std::atomic<int64_t>, 256> open_oldest_ms{};
};

struct StreamInfo {
  std::string name;
  uint32_t id = 0;       // stable storage id from the catalog
  uint32_t version = 1;  // catalog version (+1 per config change); object names use it
  const StreamConfig* cfg = nullptr;  // owned by the ServerConfig, which outlives the registry
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  std::shared_ptr<StreamCounters> counters = std::make_shared<StreamCounters>();
};

// Built by main before the shards and the delivery pool start and never changed while they run,
// so both read it without locks.
// Thread: written by main during startup only; read-only afterwards from any thread.
class StreamRegistry {
 public:
  void Add(StreamInfo info) {
    by_id_[info.id] = info.name;
    by_name_.emplace(info.name, std::move(info));
  }
  // Returns nullptr for an unknown stream.
  const StreamInfo* Find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : &it->second;
  }
  const StreamInfo* FindById(uint32_t id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : Find(it->second);
  }
  size_t size() const { return by_name_.size(); }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [id, name] : by_id_) fn(*Find(name));
  }

 private:
  std::unordered_map<std::string, StreamInfo> by_name_;
  std::map<uint32_t, std::string> by_id_;
};

}  // namespace sluice::server
