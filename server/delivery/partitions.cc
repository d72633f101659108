// Partitions: slot assignment, the atomic hand-over batch, sealing.
#include "server/delivery/partitions.h"

#include <algorithm>

#include "storage/record_chunk.h"

namespace sluice::server {

base::Result<uint64_t> Partitions::NextSeqLocked(uint16_t slot) {
  auto it = next_seq_.find(slot);
  if (it != next_seq_.end()) return it->second;
  ASSIGN_OR_RETURN(uint64_t next, store_->NextSeq(storage::kPartitionShardBase + slot));
  next_seq_[slot] = next;
  return next;
}

uint16_t Partitions::FreeSlotLocked(const std::map<uint16_t, Partition>& also_taken) const {
  for (uint16_t slot = 0;; slot++)
    if (!slots_.count(slot) && !also_taken.count(slot)) return slot;
}

void Partitions::SealLocked(Partition& p, int64_t now_ms, std::vector<storage::SegmentDescriptor>* sealed) {
  p.d.sealed_ms = now_ms;
  sealed->push_back(p.d);
  p.open = false;
  p.pending++;
}

base::Status Partitions::Commit(const storage::SegmentDescriptor& source, std::span<const Record> records,
                                uint32_t stream_version, uint32_t limit, uint64_t size_hint, int64_t now_ms,
                                const BeforeWrite& before_write, std::vector<storage::SegmentDescriptor>* sealed) {
  base::MutexLock lock(mu_);
  // Group the records by prefix, in order of first appearance; assign slots to new prefixes while
  // the limit allows.
  std::vector<std::string_view> order;
  std::unordered_map<std::string_view, std::vector<size_t>> groups;
  for (size_t i = 0; i < records.size(); i++) {
    auto [it, inserted] = groups.try_emplace(records[i].prefix);
    if (inserted) order.push_back(records[i].prefix);
    it->second.push_back(i);
  }
  std::map<uint16_t, Partition> fresh;  // new partitions, installed only if the write succeeds
  std::unordered_map<std::string_view, uint16_t> slot_of;
  std::vector<size_t> exceeded;
  for (std::string_view prefix : order) {
    auto known = by_prefix_.find(std::string(prefix));
    if (known != by_prefix_.end()) {
      slot_of[prefix] = known->second;
    } else if (slots_.size() + fresh.size() < limit) {
      uint16_t slot = FreeSlotLocked(fresh);  // < limit <= 5000, far below the pseudo-shard range's end
      fresh[slot].prefix = std::string(prefix);
      slot_of[prefix] = slot;
    } else {
      auto& g = groups[prefix];
      exceeded.insert(exceeded.end(), g.begin(), g.end());
    }
  }
  std::sort(exceeded.begin(), exceeded.end());
  RETURN_IF_ERROR(before_write(exceeded));

  // One chunk per partition; descriptors updated on copies until the write succeeds.
  storage::WriteBatch batch(store_);
  storage::ChunkBuilder chunk;
  std::map<uint16_t, storage::SegmentDescriptor> updated;   // slot -> its open descriptor after
  std::map<uint16_t, storage::SegmentDescriptor> replaced;  // slot -> open descriptor sealed for a new version
  std::map<uint16_t, uint64_t> next;
  for (std::string_view prefix : order) {
    auto s = slot_of.find(prefix);
    if (s == slot_of.end()) continue;  // exceeded
    const uint16_t slot = s->second;
    const uint16_t shard = static_cast<uint16_t>(storage::kPartitionShardBase + slot);
    auto existing = slots_.find(slot);
    storage::SegmentDescriptor d;
    if (existing != slots_.end() && existing->second.open) {
      if (existing->second.d.stream_version == stream_version) d = existing->second.d;
      else replaced[slot] = existing->second.d;  // a segment holds one stream version
    }
    ASSIGN_OR_RETURN(uint64_t seq, NextSeqLocked(slot));
    const auto& idx = groups[prefix];
    int64_t oldest = records[idx.front()].arrival_ms;
    for (size_t i : idx) oldest = std::min(oldest, records[i].arrival_ms);
    chunk.Start(oldest);
    uint64_t bytes = 0;
    for (size_t i : idx) {
      std::string_view data = records[i].data;
      chunk.Add(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
      bytes += data.size();
    }
    if (d.record_count == 0) {
      d.stream_id = stream_id_;
      d.shard = shard;
      d.first_seq = seq;
      d.oldest_arrival_ms = oldest;
      d.stream_version = stream_version;
      d.partition = std::string(prefix);
    }
    d.last_seq = seq;
    d.record_count += static_cast<uint32_t>(idx.size());
    d.bytes += bytes;
    d.oldest_arrival_ms = std::min(d.oldest_arrival_ms, oldest);
    batch.PutChunk({stream_id_, shard, seq}, chunk.Finish());
    batch.PutNextSeq(shard, seq + 1);
    batch.PutSegment(d);
    next[slot] = seq + 1;
    updated[slot] = std::move(d);
  }
  batch.DeleteSegment(source);
  RETURN_IF_ERROR(store_->Write(&batch, true));

  // Written: install.
  for (auto& [slot, p] : fresh) {
    by_prefix_[p.prefix] = slot;
    slots_[slot] = std::move(p);
  }
  for (auto& [slot, seq] : next) next_seq_[slot] = seq;
  for (auto& [slot, d] : replaced) {
    Partition& p = slots_[slot];
    p.d = d;
    SealLocked(p, now_ms, sealed);
  }
  for (auto& [slot, d] : updated) {
    Partition& p = slots_[slot];
    p.d = std::move(d);
    p.open = true;
    const bool flushed = source.flush || source.oldest_arrival_ms <= flush_before_ms_;
    if (p.d.bytes >= size_hint || flushed) SealLocked(p, now_ms, sealed);
  }
  return base::Status::Ok();
}

void Partitions::SealDue(int64_t now_ms, int64_t interval_ms, bool all, std::vector<storage::SegmentDescriptor>* sealed) {
  base::MutexLock lock(mu_);
  for (auto& [slot, p] : slots_)
    if (p.open && (all || now_ms - p.d.oldest_arrival_ms >= interval_ms)) SealLocked(p, now_ms, sealed);
}

void Partitions::RequestFlush(int64_t now_ms) {
  base::MutexLock lock(mu_);
  flush_before_ms_ = std::max(flush_before_ms_, now_ms);
}

void Partitions::Load(const storage::SegmentDescriptor& d) {
  base::MutexLock lock(mu_);
  const uint16_t slot = static_cast<uint16_t>(d.shard - storage::kPartitionShardBase);
  Partition& p = slots_[slot];
  if (p.pending == 0 && !p.open) {
    p.prefix = d.partition;
    by_prefix_[p.prefix] = slot;
  }
  p.pending++;
}

void Partitions::Done(const storage::SegmentDescriptor& d) {
  base::MutexLock lock(mu_);
  auto it = slots_.find(static_cast<uint16_t>(d.shard - storage::kPartitionShardBase));
  if (it == slots_.end()) return;
  Partition& p = it->second;
  if (p.pending > 0) p.pending--;
  if (p.pending == 0 && !p.open) {
    auto bp = by_prefix_.find(p.prefix);
    if (bp != by_prefix_.end() && bp->second == it->first) by_prefix_.erase(bp);
    slots_.erase(it);
  }
}

size_t Partitions::active() const {
  base::MutexLock lock(mu_);
  return slots_.size();
}

int64_t Partitions::oldest_open_ms() const {
  base::MutexLock lock(mu_);
  int64_t oldest = 0;
  for (const auto& [slot, p] : slots_)
    if (p.open && (oldest == 0 || p.d.oldest_arrival_ms < oldest)) oldest = p.d.oldest_arrival_ms;
  return oldest;
}

}  // namespace sluice::server
