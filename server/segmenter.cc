// Segmenter: buffering hints -> sealed segment descriptors.
#include "server/segmenter.h"

namespace sluice::server {
namespace {
// A staged stream's segments buffer by its processors' hints (the output buffers again by the
// stream's own hints, per partition).
uint64_t SizeHint(const StreamInfo* s) { return s ? s->cfg->source_buffer_bytes() : 5u << 20; }
int64_t IntervalMs(const StreamInfo* s) { return s ? s->cfg->source_interval_ms() : 0; }
}  // namespace

void Segmenter::OnCommitted(const AppendedChunk& c) {
  auto [it, inserted] = open_.try_emplace(c.stream_id);
  storage::SegmentDescriptor& d = it->second;
  if (inserted) {
    d.stream_id = c.stream_id;
    d.shard = shard_;
    d.first_seq = c.seq;
    d.oldest_arrival_ms = c.arrival_ms;
    d.stream_version = c.stream->version;
    c.stream->counters->open_oldest_ms[shard_ & 0xff].store(c.arrival_ms, std::memory_order_relaxed);
  }
  d.last_seq = c.seq;
  d.record_count += c.records;
  d.bytes += c.bytes;
  d.oldest_arrival_ms = std::min(d.oldest_arrival_ms, c.arrival_ms);
  if (d.bytes >= SizeHint(c.stream)) {
    c.stream->counters->open_oldest_ms[shard_ & 0xff].store(0, std::memory_order_relaxed);
    ready_.push_back(std::move(d));
    open_.erase(it);
  }
}

void Segmenter::SealDue(int64_t now_ms, bool all, std::vector<storage::SegmentDescriptor>* out,
                        uint32_t only_stream) {
  for (storage::SegmentDescriptor& d : ready_) {
    d.sealed_ms = now_ms;
    out->push_back(std::move(d));
  }
  ready_.clear();
  for (auto it = open_.begin(); it != open_.end();) {
    const StreamInfo* s = (*streams_)->FindById(it->first);
    const storage::SegmentDescriptor& d = it->second;
    bool forced = (all && (only_stream == 0 || only_stream == it->first)) || s == nullptr;
    bool due = forced || now_ms - d.oldest_arrival_ms >= IntervalMs(s);
    if (!due) {
      ++it;
      continue;
    }
    if (s) s->counters->open_oldest_ms[shard_ & 0xff].store(0, std::memory_order_relaxed);
    out->push_back(d);
    out->back().sealed_ms = now_ms;
    out->back().flush = forced;
    it = open_.erase(it);
  }
}

void Segmenter::SealChanged(const StreamSet& before, int64_t now_ms,
                            std::vector<storage::SegmentDescriptor>* out) {
  for (auto it = open_.begin(); it != open_.end();) {
    const StreamInfo* was = before.FindById(it->first);
    const StreamInfo* now = (*streams_)->FindById(it->first);
    if (was == now) {
      ++it;
      continue;
    }
    if (was) was->counters->open_oldest_ms[shard_ & 0xff].store(0, std::memory_order_relaxed);
    out->push_back(std::move(it->second));
    out->back().sealed_ms = now_ms;
    it = open_.erase(it);
  }
}

}  // namespace sluice::server
