// Partitions: one stream's second buffering stage, per evaluated prefix (Firehose's dynamic
// partitioning).
//
// A staged stream's sealed segments are processed (de-aggregation, Lambda, jq) by a delivery
// worker, and the output records are appended here: each distinct evaluated prefix is a
// partition with its own buffer, sealed by the stream's own buffering hints (size or age of its
// oldest record) and delivered as one object under that prefix.
//
// Storage: a partition occupies a slot; its records live in the records column family under the
// pseudo-shard kPartitionShardBase + slot, with that pseudo-shard's own sequence counter. The
// open buffer's descriptor (prefix included) is written in the same synced batch as its records
// and as the delete of the processed source segment, so the hand-over is atomic: after a crash,
// every record is either still in its source segment or in a partition segment whose descriptor
// covers it. Open partitions of a previous run are simply delivered at start.
// A partition is active from its first record until its last segment is delivered or backed up;
// at most `limit` are active (records for another prefix are refused, for the error output).
// Thread: thread-safe (one mutex; Commit holds it across its synced write, so the commits of one
// stream are serialised while other streams go on).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "storage/store.h"

namespace sluice::server {

class Partitions {
 public:
  Partitions(storage::Store* store, uint32_t stream_id) : store_(store), stream_id_(stream_id) {}

  struct Record {
    std::string_view prefix;  // the evaluated prefix
    std::string_view data;
    int64_t arrival_ms = 0;
  };
  // Called with the indexes of records refused by the active-partition limit, before anything is
  // written; an error from it aborts the commit (nothing changes).
  using BeforeWrite = std::function<base::Status(const std::vector<size_t>& exceeded)>;

  // Appends `records` to their partitions and deletes `source` in one synced write. Partitions
  // reaching `size_hint` bytes, or touched by a FLUSHed source, are sealed into `sealed` (to be
  // submitted for delivery). On an error nothing changed.
  base::Status Commit(const storage::SegmentDescriptor& source, std::span<const Record> records,
                      uint32_t stream_version, uint32_t limit, uint64_t size_hint, int64_t now_ms,
                      const BeforeWrite& before_write, std::vector<storage::SegmentDescriptor>* sealed);
  // Seals open partitions whose oldest record is `interval_ms` old (every one when `all`).
  void SealDue(int64_t now_ms, int64_t interval_ms, bool all, std::vector<storage::SegmentDescriptor>* sealed);
  // FLUSH: every partition that a record which arrived before `now_ms` lands in is sealed as soon
  // as it does (the caller seals the open ones with SealDue).
  void RequestFlush(int64_t now_ms);
  // A partition segment found in storage at start: its partition is active until it is done.
  void Load(const storage::SegmentDescriptor& d);
  // A partition segment left storage (delivered or backed up).
  void Done(const storage::SegmentDescriptor& d);
  // Active partitions (PartitionCount).
  size_t active() const;
  // Arrival of the oldest record in an open partition (0 when none is open), for DataFreshness.
  int64_t oldest_open_ms() const;

 private:
  struct Partition {
    std::string prefix;
    bool open = false;
    storage::SegmentDescriptor d;  // the open buffer, when open
    uint32_t pending = 0;          // sealed segments queued or in flight
  };
  base::Result<uint64_t> NextSeqLocked(uint16_t slot) SLUICE_REQUIRES(mu_);
  uint16_t FreeSlotLocked(const std::map<uint16_t, Partition>& also_taken) const SLUICE_REQUIRES(mu_);
  void SealLocked(Partition& p, int64_t now_ms, std::vector<storage::SegmentDescriptor>* sealed) SLUICE_REQUIRES(mu_);

  storage::Store* const store_;
  const uint32_t stream_id_;
  mutable base::Mutex mu_;
  std::map<uint16_t, Partition> slots_ SLUICE_GUARDED_BY(mu_);
  std::unordered_map<std::string, uint16_t> by_prefix_ SLUICE_GUARDED_BY(mu_);
  std::unordered_map<uint16_t, uint64_t> next_seq_ SLUICE_GUARDED_BY(mu_);
  int64_t flush_before_ms_ SLUICE_GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::server
