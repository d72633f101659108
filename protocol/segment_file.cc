// Segment file writer and verified reader.
#include "protocol/segment_file.h"

#include <xxhash.h>

#include <cstring>

namespace sluice::proto {
namespace {
template <typename T>
void Set(char* p, T v) {
  for (size_t i = 0; i < sizeof(T); i++) p[i] = static_cast<char>(static_cast<uint64_t>(v) >> (8 * i));
}
template <typename T>
T Get(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); i++) v |= uint64_t(static_cast<unsigned char>(p[i])) << (8 * i);
  return static_cast<T>(v);
}
uint64_t Checksum(std::string_view file) {
  uint64_t seed = XXH3_64bits(file.data(), 32);
  return XXH3_64bits_withSeed(file.data() + kSegmentFileHeaderSize, file.size() - kSegmentFileHeaderSize, seed);
}
}  // namespace

void SegmentFileWriter::Begin(std::string_view stream, std::string_view segment_id,
                              std::string_view metadata_json) {
  stream = stream.substr(0, 0xffff);
  segment_id = segment_id.substr(0, 0xffff);
  buf_.assign(kSegmentFileHeaderSize, '\0');
  std::memcpy(buf_.data(), "SLSG", 4);
  buf_[4] = 1;
  Set<uint16_t>(buf_.data() + 12, static_cast<uint16_t>(stream.size()));
  Set<uint16_t>(buf_.data() + 14, static_cast<uint16_t>(segment_id.size()));
  Set<uint32_t>(buf_.data() + 16, static_cast<uint32_t>(metadata_json.size()));
  buf_.append(stream);
  buf_.append(segment_id);
  buf_.append(metadata_json);
  payload_start_ = buf_.size();
  count_ = 0;
}

void SegmentFileWriter::Add(std::string_view record) {
  char len[4];
  Set<uint32_t>(len, static_cast<uint32_t>(record.size()));
  buf_.append(len, 4);
  buf_.append(record);
  count_++;
}

std::string_view SegmentFileWriter::Finish() {
  Set<uint32_t>(buf_.data() + 8, count_);
  Set<uint64_t>(buf_.data() + 24, buf_.size() - payload_start_);
  Set<uint64_t>(buf_.data() + 32, Checksum(buf_));
  return buf_;
}

base::Result<SegmentFileView> ParseSegmentFile(std::string_view b) {
  if (b.size() < kSegmentFileHeaderSize || std::memcmp(b.data(), "SLSG", 4) != 0)
    return base::Corruption("not a Sluice segment file (bad magic)");
  if (b[4] != 1) return base::Corruption("segment file version " + std::to_string(int(b[4])) + " is not supported");
  SegmentFileView v;
  v.record_count = Get<uint32_t>(b.data() + 8);
  uint16_t stream_len = Get<uint16_t>(b.data() + 12);
  uint16_t seg_len = Get<uint16_t>(b.data() + 14);
  uint32_t meta_len = Get<uint32_t>(b.data() + 16);
  uint64_t payload_len = Get<uint64_t>(b.data() + 24);
  uint64_t expect = uint64_t(kSegmentFileHeaderSize) + stream_len + seg_len + meta_len + payload_len;
  if (expect != b.size())
    return base::Corruption("segment file is " + std::to_string(b.size()) + " bytes, its header says " +
                            std::to_string(expect));
  if (Checksum(b) != Get<uint64_t>(b.data() + 32)) return base::Corruption("segment file checksum mismatch");
  size_t off = kSegmentFileHeaderSize;
  v.stream = b.substr(off, stream_len);
  off += stream_len;
  v.segment_id = b.substr(off, seg_len);
  off += seg_len;
  v.metadata_json = b.substr(off, meta_len);
  off += meta_len;
  v.payload = b.substr(off);
  size_t p = 0;
  for (uint32_t i = 0; i < v.record_count; i++) {
    if (v.payload.size() - p < 4) return base::Corruption("segment file payload truncated");
    uint32_t len = Get<uint32_t>(v.payload.data() + p);
    if (v.payload.size() - p - 4 < len) return base::Corruption("segment file record truncated");
    p += 4 + len;
  }
  if (p != v.payload.size()) return base::Corruption("segment file has bytes after its last record");
  return v;
}

void SegmentFileView::ForEach(const std::function<void(std::string_view)>& fn) const {
  size_t p = 0;
  for (uint32_t i = 0; i < record_count; i++) {
    uint32_t len = Get<uint32_t>(payload.data() + p);
    fn(payload.substr(p + 4, len));
    p += 4 + len;
  }
}

}  // namespace sluice::proto
