// SegmentDescriptor: what storage knows about one sealed segment (the unit of delivery).
//
// A segment is the contiguous seq range [first_seq, last_seq] of one (stream, shard) in the
// records column family. Its id, derived from (stream id, shard, first_seq), is stable across
// restarts and is the idempotency key everywhere (object names, request ids).
//
// Value layout in the segments column family (little-endian):
//   0 u8 format=1 | 1 u8 flags=0 | 2 u16 reserved | 4 u32 record_count | 8 u64 last_seq
//   16 u64 bytes | 24 i64 oldest_arrival_ms | 32 i64 sealed_ms | 40 u32 stream_version
//   44 u32 attempts | 48 i64 first_failure_ms | 56 i64 next_attempt_ms
//   64 u32 error_len | 68 error bytes | format 2 only: u32 partition_len | partition bytes |
//   then u64 xxh3 of everything before it
// Format 1 (no partition) is still read; format 2 is written only for partition segments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::storage {

// Shards at or above this are not shard threads but a stream's partition buffers (the output of
// its processors, one pseudo-shard per active partition: server/delivery/partitions.h).
inline constexpr uint16_t kPartitionShardBase = 0x8000;

struct SegmentDescriptor {
  uint32_t stream_id = 0;
  uint16_t shard = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint32_t record_count = 0;
  uint64_t bytes = 0;               // record payload bytes
  int64_t oldest_arrival_ms = 0;    // arrival time of the oldest record (object names use it)
  int64_t sealed_ms = 0;
  uint32_t stream_version = 0;      // stream config version when sealed
  // Delivery state, persisted so retries survive a restart.
  uint32_t attempts = 0;
  int64_t first_failure_ms = 0;     // 0 = never failed
  int64_t next_attempt_ms = 0;      // 0 = as soon as possible
  std::string last_error;
  // Partition segments (shard >= kPartitionShardBase) only: the evaluated prefix their records
  // were partitioned into by the stream's processors; their object goes under it.
  std::string partition;
  // In memory only: sealed by FLUSH. A staged stream then seals the partitions this segment's
  // output lands in at once too, so FLUSH delivers through both buffering stages.
  bool flush = false;

  // 28 hex digits: stream id (8), shard (4), first seq (16), after "<node id>-" when the process
  // has one (SetSegmentIdNode). Stable across restarts.
  std::string Id() const;
  bool is_partition() const { return shard >= kPartitionShardBase; }
};

// The node id that every segment id of this process starts with ("" = none, the default): in a
// cluster each node's stream ids and sequence numbers are its own, so the node id is what keeps
// object names, backup files and request ids unique across nodes. Set once, at startup, before
// any other thread runs (and by a process delivering an adopted data directory, to that
// directory's node id, so its names match the ones the dead node would have used).
void SetSegmentIdNode(std::string node);
// "<node id>-", or "".
const std::string& SegmentIdPrefix();

// The segments-CF key of a descriptor: (stream u32 BE, shard u16 BE, first_seq u64 BE).
std::string EncodeSegmentKey(const SegmentDescriptor& d);
std::string EncodeSegmentValue(const SegmentDescriptor& d);
// Fills the value fields of `d` (key fields must already be set). Returns kCorruption for a
// value that is truncated, of an unknown format or fails its checksum.
base::Status DecodeSegmentValue(std::string_view value, SegmentDescriptor* d);

}  // namespace sluice::storage
