// StreamRegistry: the delivery streams a server knows, by name and by storage id, as immutable
// snapshots that main replaces when an admin command creates, updates or deletes a stream.
//
// Design (read-copy-update): a StreamSet is never modified once published. Main builds a new
// set for every change and publishes it; shards and delivery workers keep the shared_ptr of the
// set (or of one StreamInfo) they are using, so a change never pulls a stream out from under a
// put or a delivery attempt in progress. A shard picks up a new set at its next commit point
// (Shard::Commit, at most one seal tick later) and records the generation it has seen, which is
// how main knows every shard stopped accepting puts for a stream being deleted.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/mutex.h"
#include "server/config.h"

namespace sluice::server {

// Live per-stream counters, written by shards (relaxed atomics) and read by the admin port.
// Shared by every version of a stream.
struct StreamCounters {
  std::atomic<uint64_t> incoming_records{0};       // IncomingRecords (stored durably)
  std::atomic<uint64_t> incoming_bytes{0};         // IncomingBytes
  std::atomic<uint64_t> incoming_put_requests{0};  // IncomingPutRequests (with stored records)
  std::atomic<uint64_t> throttled_records{0};      // ThrottledRecords
  // Per shard: arrival time of the oldest record in its open segment of this stream (0: none).
  std::array<std::atomic<int64_t>, 256> open_oldest_ms{};
};

// Firehose's DeliveryStreamStatus, without CREATING (a created stream is usable at once).
enum class StreamStatus { kActive, kDeleting };

// One version of one stream. Immutable once published.
struct StreamInfo {
  std::string name;
  uint32_t id = 0;       // stable storage id from the catalog
  uint32_t version = 1;  // catalog version (+1 per config change); object names use it
  std::shared_ptr<const StreamConfig> cfg;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  StreamStatus status = StreamStatus::kActive;
  bool paused = false;        // PAUSE: delivery stops, puts continue
  bool force_delete = false;  // DELETE FORCE: what remains goes to the backup store
  bool from_config = false;   // declared in the config file (else created by STREAM CREATE)
  std::shared_ptr<StreamCounters> counters = std::make_shared<StreamCounters>();

  bool accepts_puts() const { return status == StreamStatus::kActive; }
};

using StreamPtr = std::shared_ptr<const StreamInfo>;

// The bits of a stream's catalog entry flags (storage::StreamEntry::flags).
inline constexpr uint32_t kStreamPaused = 1u << 0;
inline constexpr uint32_t kStreamDeleting = 1u << 1;
inline constexpr uint32_t kStreamForceDelete = 1u << 2;
inline constexpr uint32_t kStreamFromConfig = 1u << 3;
inline uint32_t FlagsOf(const StreamInfo& s) {
  return (s.paused ? kStreamPaused : 0u) | (s.status == StreamStatus::kDeleting ? kStreamDeleting : 0u) |
         (s.force_delete ? kStreamForceDelete : 0u) | (s.from_config ? kStreamFromConfig : 0u);
}
inline void ApplyFlags(uint32_t flags, StreamInfo* s) {
  s->paused = flags & kStreamPaused;
  s->status = (flags & kStreamDeleting) ? StreamStatus::kDeleting : StreamStatus::kActive;
  s->force_delete = flags & kStreamForceDelete;
  s->from_config = flags & kStreamFromConfig;
}

// An immutable set of streams.
class StreamSet {
 public:
  // Returns nullptr for an unknown stream.
  const StreamInfo* Find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : it->second.get();
  }
  const StreamInfo* FindById(uint32_t id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second.get();
  }
  StreamPtr Get(uint32_t id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
  }
  size_t size() const { return by_id_.size(); }
  uint64_t generation() const { return generation_; }
  // In stream id order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [id, s] : by_id_) fn(*s);
  }

 private:
  friend class StreamRegistry;
  std::unordered_map<std::string, StreamPtr> by_name_;
  std::map<uint32_t, StreamPtr> by_id_;
  uint64_t generation_ = 0;
};

using StreamSetPtr = std::shared_ptr<const StreamSet>;

// Thread: Put/Remove on main only; Current and generation from any thread.
class StreamRegistry {
 public:
  StreamRegistry() : current_(std::make_shared<StreamSet>()) {}

  // Adds the stream, or replaces the one with the same id, and publishes the new set.
  void Put(StreamInfo info) {
    auto next = std::make_shared<StreamSet>(*Current());
    auto old = next->by_id_.find(info.id);
    if (old != next->by_id_.end()) {
      info.counters = old->second->counters;  // metrics survive updates
      next->by_name_.erase(old->second->name);
    }
    auto ptr = std::make_shared<const StreamInfo>(std::move(info));
    next->by_id_[ptr->id] = ptr;
    next->by_name_[ptr->name] = ptr;
    Publish(std::move(next));
  }
  void Remove(uint32_t id) {
    auto next = std::make_shared<StreamSet>(*Current());
    auto it = next->by_id_.find(id);
    if (it == next->by_id_.end()) return;
    next->by_name_.erase(it->second->name);
    next->by_id_.erase(it);
    Publish(std::move(next));
  }

  StreamSetPtr Current() const {
    base::MutexLock lock(mu_);
    return current_;
  }
  // Cheap check for a newer set than the one a reader holds.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  void Publish(std::shared_ptr<StreamSet> next) {
    base::MutexLock lock(mu_);
    next->generation_ = current_->generation_ + 1;
    current_ = std::move(next);
    generation_.store(current_->generation_, std::memory_order_release);
  }

  mutable base::Mutex mu_;
  StreamSetPtr current_ SLUICE_GUARDED_BY(mu_);
  std::atomic<uint64_t> generation_{0};
};

// One reader's hold on the registry: the set it uses until it chooses to refresh.
// Thread: the owning reader (a shard); not thread-safe.
class StreamView {
 public:
  explicit StreamView(const StreamRegistry* registry) : registry_(registry), set_(registry->Current()) {}
  const StreamSet& operator*() const { return *set_; }
  const StreamSet* operator->() const { return set_.get(); }
  // Takes the newest set when there is one; returns the set it replaced (nullptr: unchanged).
  // Pointers from the old set stay valid while the returned pointer is kept.
  StreamSetPtr Refresh() {
    if (registry_->generation() == set_->generation()) return nullptr;
    StreamSetPtr old = std::move(set_);
    set_ = registry_->Current();
    return old;
  }

 private:
  const StreamRegistry* registry_;
  StreamSetPtr set_;
};

}  // namespace sluice::server
