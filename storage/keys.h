// Key layout of the record log and segment table. Big-endian, so bytewise order = numeric order.
//
//   records CF key (14 bytes)                       segments CF key (14 bytes)
//   +-----------+---------+------------------+      +-----------+---------+------------------+
//   | stream_id | shard   | seq              |      | stream_id | shard   | first_seq        |
//   | u32 BE    | u16 BE  | u64 BE           |      | u32 BE    | u16 BE  | u64 BE           |
//   +-----------+---------+------------------+      +-----------+---------+------------------+
//
// One records key holds one chunk: the accepted records of one client batch (record_chunk.h).
// `seq` comes from a per-shard counter shared by all streams of that shard, so a stream's chunks
// from one shard are ordered by arrival and (stream, shard, seq range) names a segment.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::storage {

inline constexpr size_t kRecordKeySize = 14;
inline constexpr size_t kStreamPrefixSize = 4;
inline constexpr size_t kStreamShardPrefixSize = 6;

struct RecordKey {
  uint32_t stream_id = 0;
  uint16_t shard = 0;
  uint64_t seq = 0;
  bool operator==(const RecordKey&) const = default;
};

// Writes the 14-byte key into `out` (replacing its contents).
void EncodeRecordKey(const RecordKey& key, std::string* out);
std::string EncodeRecordKey(const RecordKey& key);
// Returns false when `bytes` is not exactly a record key.
bool DecodeRecordKey(std::string_view bytes, RecordKey* key);
// First 4 bytes of every key of a stream; the upper bound of that range is StreamPrefix(id+1).
std::string StreamPrefix(uint32_t stream_id);

// Record ids handed to producers: unique per data dir, opaque to clients.
//   | shard: 8 bits | seq: 42 bits | index in chunk: 14 bits |
inline constexpr int kRecordIndexBits = 14;
inline constexpr int kRecordSeqBits = 42;
inline uint64_t MakeRecordId(uint16_t shard, uint64_t seq, uint32_t index) {
  return (uint64_t(shard & 0xff) << (kRecordSeqBits + kRecordIndexBits)) |
         ((seq & ((uint64_t(1) << kRecordSeqBits) - 1)) << kRecordIndexBits) |
         (index & ((1u << kRecordIndexBits) - 1));
}

// Big-endian helpers shared by the storage encodings.
void PutBE32(std::string* out, uint32_t v);
void PutBE64(std::string* out, uint64_t v);
uint32_t GetBE32(const char* p);
uint64_t GetBE64(const char* p);

}  // namespace sluice::storage
