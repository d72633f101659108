// RecordChunk encoding and verified parsing.
#include "storage/record_chunk.h"

#include <xxhash.h>

#include <cstring>

namespace sluice::storage {
namespace {
void SetLe32(char* p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = static_cast<char>(v >> (8 * i)); }
void SetLe64(char* p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = static_cast<char>(v >> (8 * i)); }
uint64_t Le64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
// The checksum covers the payload and header bytes 0..15 (format, flags, count, arrival time):
// the payload hashed with the hash of those header bytes as seed.
uint64_t ChunkChecksum(std::string_view chunk) {
  uint64_t seed = XXH3_64bits(chunk.data(), 16);
  return XXH3_64bits_withSeed(chunk.data() + kChunkHeaderSize, chunk.size() - kChunkHeaderSize, seed);
}
}  // namespace

uint32_t ChunkView::Le32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(u[0]) | uint32_t(u[1]) << 8 | uint32_t(u[2]) << 16 | uint32_t(u[3]) << 24;
}

void ChunkBuilder::Start(int64_t arrival_unix_ms) {
  buf_.assign(kChunkHeaderSize, '\0');
  buf_[0] = static_cast<char>(kChunkFormat);
  SetLe64(buf_.data() + 8, static_cast<uint64_t>(arrival_unix_ms));
  count_ = 0;
}

void ChunkBuilder::Add(std::span<const uint8_t> record) {
  char len[4];
  SetLe32(len, static_cast<uint32_t>(record.size()));
  buf_.append(len, 4);
  buf_.append(reinterpret_cast<const char*>(record.data()), record.size());
  count_++;
}

std::string_view ChunkBuilder::Finish() {
  SetLe32(buf_.data() + 4, count_);
  SetLe64(buf_.data() + 16, ChunkChecksum(buf_));
  return buf_;
}

base::Result<ChunkView> ChunkView::Parse(std::string_view bytes) {
  if (bytes.size() < kChunkHeaderSize)
    return base::Corruption("record chunk shorter than its header");
  if (static_cast<uint8_t>(bytes[0]) != kChunkFormat)
    return base::Corruption("record chunk has unknown format " +
                            std::to_string(static_cast<uint8_t>(bytes[0])));
  ChunkView v;
  v.count_ = Le32(bytes.data() + 4);
  v.arrival_ms_ = static_cast<int64_t>(Le64(bytes.data() + 8));
  v.payload_ = bytes.substr(kChunkHeaderSize);
  if (ChunkChecksum(bytes) != Le64(bytes.data() + 16))
    return base::Corruption("record chunk checksum mismatch");
  // Walk the lengths once so ForEach never reads out of bounds.
  size_t off = 0;
  for (uint32_t i = 0; i < v.count_; i++) {
    if (v.payload_.size() - off < 4) return base::Corruption("record chunk truncated");
    uint32_t len = Le32(v.payload_.data() + off);
    if (v.payload_.size() - off - 4 < len) return base::Corruption("record chunk truncated");
    off += 4 + len;
    v.payload_bytes_ += len;
  }
  if (off != v.payload_.size()) return base::Corruption("record chunk has trailing bytes");
  return v;
}

}  // namespace sluice::storage
