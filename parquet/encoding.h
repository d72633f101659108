// Parquet's value encodings, write side: the RLE / bit-packing hybrid (definition and
// repetition levels, dictionary indices, booleans in V2 levels) and bit-packed booleans (PLAIN).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace sluice::parquet {

// Bits needed for values 0..max.
inline int BitWidth(uint64_t max) {
  int w = 0;
  while (max != 0) {
    w++;
    max >>= 1;
  }
  return w;
}

// Appends `values` (each < 2^bit_width) in the hybrid encoding, without a length prefix: runs of
// 8 or more equal values as RLE runs, the rest bit-packed in groups of 8 (the last group padded
// with zeros; the reader knows the count).
void EncodeHybrid(std::span<const uint32_t> values, int bit_width, std::string* out);
void EncodeHybrid(std::span<const uint8_t> values, int bit_width, std::string* out);

// DELTA_BINARY_PACKED: blocks of 128 deltas in 4 miniblocks of 32, each bit-packed at its own
// width above the block's smallest delta. `int32`: deltas wrap at 32 bits (INT32 columns).
void EncodeDeltaBinaryPacked(std::span<const int64_t> values, bool int32, std::string* out);

// PLAIN booleans: one bit each, least significant bit first.
void EncodeBooleans(std::span<const uint8_t> values, std::string* out);

}  // namespace sluice::parquet
