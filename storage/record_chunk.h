// RecordChunk: the stored form of one client batch's accepted records (one RocksDB value).
//
//   0      1      2             4              8                  16                 24
//   +------+------+-------------+--------------+------------------+------------------+
//   | fmt  | flags| reserved    | record_count | arrival_unix_ms  | checksum         |
//   | u8=1 | u8=0 | u16 = 0     | u32 LE       | u64 LE           | u64 LE           |
//   +------+------+-------------+--------------+------------------+------------------+
//   payload: record_count x ( u32 LE length | length bytes )
//
// checksum = XXH3_64bits_withSeed(payload, seed = XXH3_64bits(bytes 0..15)): it covers the payload
// and every header field, so a flipped bit on disk is reported as kCorruption when the chunk is
// read, independently of RocksDB's own block checksums.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::storage {

inline constexpr size_t kChunkHeaderSize = 24;
inline constexpr uint8_t kChunkFormat = 1;

// Builds one chunk into a reusable buffer. Thread: one owner.
class ChunkBuilder {
 public:
  void Start(int64_t arrival_unix_ms);
  void Add(std::span<const uint8_t> record);
  // Fills in count and checksum; the chunk is valid until the next Start.
  std::string_view Finish();
  uint32_t count() const { return count_; }

 private:
  std::string buf_;
  uint32_t count_ = 0;
};

// A verified, read-only view of a stored chunk. Points into the bytes it was parsed from.
class ChunkView {
 public:
  // Returns kCorruption when the header, lengths or checksum are wrong.
  static base::Result<ChunkView> Parse(std::string_view bytes);

  uint32_t count() const { return count_; }
  int64_t arrival_unix_ms() const { return arrival_ms_; }
  uint64_t payload_bytes() const { return payload_bytes_; }
  // Calls fn(std::string_view record) for each record in order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    const char* p = payload_.data();
    for (uint32_t i = 0; i < count_; i++) {
      uint32_t len = Le32(p);
      fn(std::string_view(p + 4, len));
      p += 4 + len;
    }
  }

 private:
  static uint32_t Le32(const char* p);
  std::string_view payload_;
  uint32_t count_ = 0;
  int64_t arrival_ms_ = 0;
  uint64_t payload_bytes_ = 0;  // record bytes only, without length prefixes
};

}  // namespace sluice::storage
