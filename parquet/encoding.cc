#include "parquet/encoding.h"

#include <algorithm>
#include <vector>

namespace sluice::parquet {
namespace {

void Varint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

template <typename T>
void Hybrid(std::span<const T> v, int w, std::string* out) {
  const size_t n = v.size();
  const size_t value_bytes = static_cast<size_t>(w + 7) / 8;
  auto run_at = [&](size_t i) {  // length of the run of equal values starting at i
    size_t j = i + 1;
    while (j < n && v[j] == v[i]) j++;
    return j - i;
  };
  size_t i = 0;
  while (i < n) {
    size_t run = run_at(i);
    if (run >= 8 || i + run == n) {
      Varint(static_cast<uint64_t>(run) << 1, out);
      uint64_t x = v[i];
      for (size_t b = 0; b < value_bytes; b++) out->push_back(static_cast<char>(x >> (8 * b)));
      i += run;
      continue;
    }
    // Bit-packed groups of 8 until a run of 8 or more begins at a group boundary (or the end).
    size_t end = i;
    do {
      end += 8;
    } while (end < n && run_at(end) < 8);
    const size_t groups = (end - i) / 8;
    Varint((static_cast<uint64_t>(groups) << 1) | 1, out);
    uint64_t acc = 0;
    int bits = 0;
    for (size_t k = i; k < end; k++) {
      acc |= static_cast<uint64_t>(k < n ? v[k] : 0) << bits;
      bits += w;
      while (bits >= 8) {
        out->push_back(static_cast<char>(acc));
        acc >>= 8;
        bits -= 8;
      }
    }
    i = end;
  }
}

}  // namespace

void EncodeHybrid(std::span<const uint32_t> values, int bit_width, std::string* out) { Hybrid(values, bit_width, out); }
void EncodeHybrid(std::span<const uint8_t> values, int bit_width, std::string* out) { Hybrid(values, bit_width, out); }

void EncodeDeltaBinaryPacked(std::span<const int64_t> values, bool int32, std::string* out) {
  constexpr size_t kBlock = 128, kMiniblocks = 4, kMini = kBlock / kMiniblocks;
  auto zigzag = [](int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); };
  Varint(kBlock, out);
  Varint(kMiniblocks, out);
  Varint(values.size(), out);
  Varint(zigzag(values.empty() ? 0 : values[0]), out);
  if (values.size() < 2) return;
  std::vector<int64_t> deltas(values.size() - 1);
  for (size_t i = 1; i < values.size(); i++) {
    const uint64_t d = static_cast<uint64_t>(values[i]) - static_cast<uint64_t>(values[i - 1]);
    deltas[i - 1] = int32 ? static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(d))) : static_cast<int64_t>(d);
  }
  std::vector<uint64_t> adjusted(kBlock);
  for (size_t b = 0; b < deltas.size(); b += kBlock) {
    const size_t n = std::min(kBlock, deltas.size() - b);
    int64_t min = deltas[b];
    for (size_t i = 1; i < n; i++) min = std::min(min, deltas[b + i]);
    for (size_t i = 0; i < n; i++) {
      const uint64_t a = static_cast<uint64_t>(deltas[b + i]) - static_cast<uint64_t>(min);
      adjusted[i] = int32 ? (a & 0xffffffffu) : a;
    }
    Varint(zigzag(min), out);
    int widths[kMiniblocks] = {0, 0, 0, 0};
    for (size_t m = 0; m < kMiniblocks; m++) {
      uint64_t max = 0;
      for (size_t i = m * kMini; i < std::min(n, (m + 1) * kMini); i++) max = std::max(max, adjusted[i]);
      widths[m] = m * kMini < n ? BitWidth(max) : 0;
      out->push_back(static_cast<char>(widths[m]));
    }
    for (size_t m = 0; m < kMiniblocks && m * kMini < n; m++) {
      const int w = widths[m];
      unsigned __int128 acc = 0;
      int bits = 0;
      for (size_t i = m * kMini; i < (m + 1) * kMini; i++) {
        acc |= static_cast<unsigned __int128>(i < n ? adjusted[i] : 0) << bits;
        bits += w;
        while (bits >= 8) {
          out->push_back(static_cast<char>(static_cast<uint8_t>(acc)));
          acc >>= 8;
          bits -= 8;
        }
      }
    }
  }
}

void EncodeBooleans(std::span<const uint8_t> values, std::string* out) {
  uint8_t byte = 0;
  int bit = 0;
  for (uint8_t b : values) {
    if (b) byte |= static_cast<uint8_t>(1u << bit);
    if (++bit == 8) {
      out->push_back(static_cast<char>(byte));
      byte = 0;
      bit = 0;
    }
  }
  if (bit != 0) out->push_back(static_cast<char>(byte));
}

}  // namespace sluice::parquet
