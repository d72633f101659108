// Segment files: the self-describing form of a segment in the backup store (and for replay).
//
//   0      4     5      6          8              12            14             16          20
//   +------+-----+------+----------+--------------+-------------+--------------+-----------+
//   |"SLSG"| ver | flags| reserved | record_count | stream_len  | segment_len  | meta_len  |
//   |      | u8=1| u8=0 | u16=0    | u32          | u16         | u16          | u32       |
//   +------+-----+------+----------+--------------+-------------+--------------+-----------+
//   20 u32 reserved=0 | 24 u64 payload_len | 32 u64 checksum
//   40 stream name | segment id | metadata (JSON text: error, attempts, times, ...)
//   then payload: record_count x ( u32 length | bytes )
// All integers little-endian. checksum = XXH3_64bits_withSeed(bytes 40..end,
// seed = XXH3_64bits(bytes 0..31)), so every field and every record byte is covered.
// The JSON metadata is for people; tools need only the binary fields.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::proto {

inline constexpr size_t kSegmentFileHeaderSize = 40;

// Thread: one owner.
class SegmentFileWriter {
 public:
  void Begin(std::string_view stream, std::string_view segment_id, std::string_view metadata_json);
  void Add(std::string_view record);
  // The complete file; valid until the next Begin.
  std::string_view Finish();

 private:
  std::string buf_;
  uint32_t count_ = 0;
  size_t payload_start_ = 0;
};

// A verified view of a segment file; points into the bytes it was parsed from.
struct SegmentFileView {
  std::string_view stream;
  std::string_view segment_id;
  std::string_view metadata_json;
  uint32_t record_count = 0;
  std::string_view payload;
  // Calls fn(record) in order.
  void ForEach(const std::function<void(std::string_view)>& fn) const;
};

// Returns kCorruption naming the first problem (magic, version, lengths, checksum).
base::Result<SegmentFileView> ParseSegmentFile(std::string_view bytes);

}  // namespace sluice::proto
