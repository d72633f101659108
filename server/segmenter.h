// Segmenter: a shard's open segments, one per stream, and the rules that seal them.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "server/stream_registry.h"
#include "storage/segment.h"

namespace sluice::server {

// One committed chunk, as the put path reports it after a successful commit.
struct AppendedChunk {
  const StreamInfo* stream = nullptr;  // from the shard's StreamView, kept until the chunk is sealed in
  uint32_t stream_id = 0;
  uint64_t seq = 0;
  uint32_t records = 0;
  uint64_t bytes = 0;
  int64_t arrival_ms = 0;
};

// Tracks, per stream, the seq range this shard appended since the last seal, and seals it when
// the stream's buffering hints say so: size (bytes before compression) or the age of its oldest
// record. Only committed chunks are counted, so a sealed segment never names uncommitted data.
// Thread: the owning shard's loop; not thread-safe.
class Segmenter {
 public:
  Segmenter(uint16_t shard, const StreamView* streams) : shard_(shard), streams_(streams) {}

  void OnCommitted(const AppendedChunk& chunk);
  // Moves every segment that is due at `now_ms` (or every open segment when `all`; with
  // `only_stream` != 0, `all` applies to that stream alone) into `out`, as descriptors ready to
  // be written and delivered. Publishes each stream's oldest open record in its counters.
  void SealDue(int64_t now_ms, bool all, std::vector<storage::SegmentDescriptor>* out,
               uint32_t only_stream = 0);
  // Seals the open segments of streams that `now` has changed, replaced or removed since `before`
  // (a segment holds one stream version and one set of hints).
  void SealChanged(const StreamSet& before, int64_t now_ms, std::vector<storage::SegmentDescriptor>* out);
  // True when some segment reached its size hint and waits in ready_ (checked after a commit).
  bool AnyOverSize() const { return !ready_.empty(); }
  size_t open_segments() const { return open_.size(); }

 private:
  const uint16_t shard_;
  const StreamView* streams_;
  std::unordered_map<uint32_t, storage::SegmentDescriptor> open_;
  // Segments that reached their size hint: closed at chunk granularity, so a commit carrying many
  // client batches still yields segments of about the hint (plus at most one client batch).
  std::vector<storage::SegmentDescriptor> ready_;
};

}  // namespace sluice::server
