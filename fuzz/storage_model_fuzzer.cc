// Differential fuzz target for the storage layer: a random sequence of append / seal / update /
// delete / reopen against a real RocksDB store in a temp dir and against a plain in-memory model,
// compared after every step: the records of each stream (ScanStream), the sealed segments
// (ForEachSegment), the unsealed tails a restart would seal (FindUnsealedTails) and each shard's
// next sequence number must all agree.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "storage/store.h"

namespace {

using namespace sluice::storage;

struct Model {
  std::map<std::tuple<uint32_t, uint16_t, uint64_t>, std::vector<std::string>> chunks;  // (stream, shard, seq)
  std::map<std::tuple<uint32_t, uint16_t, uint64_t>, SegmentDescriptor> segments;      // by first seq
  std::map<uint16_t, uint64_t> next_seq;
};

std::unique_ptr<Store> Open(const std::string& path) {
  StoreOptions o;
  o.path = path;
  o.write_buffer_bytes = 1 << 20;
  o.min_free_bytes = 0;
  auto s = Store::Open(o);
  if (!s.ok()) __builtin_trap();
  return std::move(s).value();
}

void Check(Store* store, const Model& m) {
  for (uint32_t stream : {1u, 2u}) {
    std::vector<std::string> got, want;
    if (!store->ScanStream(stream, [&](const RecordKey&, const ChunkView& c) {
          c.ForEach([&](std::string_view r) { got.emplace_back(r); });
          return sluice::base::Status::Ok();
        }).ok())
      __builtin_trap();
    for (const auto& [k, recs] : m.chunks)
      if (std::get<0>(k) == stream) want.insert(want.end(), recs.begin(), recs.end());
    if (got != want) __builtin_trap();
  }
  std::vector<std::string> ids, want_ids;
  if (!store->ForEachSegment([&](const SegmentDescriptor& d) {
        ids.push_back(d.Id() + "/" + std::to_string(d.last_seq) + "/" + std::to_string(d.attempts));
        return sluice::base::Status::Ok();
      }).ok())
    __builtin_trap();
  for (const auto& [k, d] : m.segments)
    want_ids.push_back(d.Id() + "/" + std::to_string(d.last_seq) + "/" + std::to_string(d.attempts));
  if (ids != want_ids) __builtin_trap();
  // Tails: per (stream, shard), the chunks above the highest sealed last_seq.
  auto tails = store->FindUnsealedTails();
  if (!tails.ok()) __builtin_trap();
  uint32_t tail_records = 0, want_tail_records = 0;
  for (const auto& t : tails.value()) tail_records += t.record_count;
  for (const auto& [k, recs] : m.chunks) {
    uint64_t sealed_to = 0;
    for (const auto& [sk, d] : m.segments)
      if (d.stream_id == std::get<0>(k) && d.shard == std::get<1>(k)) sealed_to = std::max(sealed_to, d.last_seq);
    if (std::get<2>(k) > sealed_to) want_tail_records += static_cast<uint32_t>(recs.size());
  }
  if (tail_records != want_tail_records) __builtin_trap();
  for (uint16_t shard : {0, 1}) {
    auto next = store->NextSeq(shard);
    uint64_t want = m.next_seq.count(shard) ? m.next_seq.at(shard) : 1;
    if (!next.ok() || next.value() != want) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 512) return 0;  // a few hundred operations at most: each reopen costs milliseconds
  char tmpl[] = "/tmp/sluice-storage-fuzz.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string path = dir + "/db";
  {
    std::unique_ptr<Store> store = Open(path);
    Model m;
    for (size_t i = 0; i + 1 < size; i += 2) {
      uint8_t op = data[i] % 5, arg = data[i + 1];
      uint32_t stream = 1 + (arg & 1);
      uint16_t shard = (arg >> 1) & 1;
      switch (op) {
        case 0: {  // append a chunk of 1..4 records
          uint64_t seq = m.next_seq.count(shard) ? m.next_seq[shard] : 1;
          ChunkBuilder b;
          b.Start(1000 + static_cast<int64_t>(seq));
          std::vector<std::string> recs;
          for (int r = 0; r <= (arg >> 2) % 4; r++) {
            recs.push_back(std::to_string(stream) + ":" + std::to_string(seq) + ":" + std::to_string(r) +
                           std::string(arg % 7, 'x'));
            b.Add({reinterpret_cast<const uint8_t*>(recs.back().data()), recs.back().size()});
          }
          WriteBatch wb(store.get());
          wb.PutChunk({stream, shard, seq}, b.Finish());
          wb.PutNextSeq(shard, seq + 1);
          if (!store->Write(&wb, false).ok()) __builtin_trap();
          m.chunks[{stream, shard, seq}] = std::move(recs);
          m.next_seq[shard] = seq + 1;
          break;
        }
        case 1: {  // seal what (stream, shard) has above its last segment
          uint64_t sealed_to = 0;
          for (const auto& [k, d] : m.segments)
            if (d.stream_id == stream && d.shard == shard) sealed_to = std::max(sealed_to, d.last_seq);
          SegmentDescriptor d;
          d.stream_id = stream;
          d.shard = shard;
          for (const auto& [k, recs] : m.chunks) {
            if (std::get<0>(k) != stream || std::get<1>(k) != shard || std::get<2>(k) <= sealed_to) continue;
            if (d.first_seq == 0) d.first_seq = std::get<2>(k);
            d.last_seq = std::get<2>(k);
            d.record_count += static_cast<uint32_t>(recs.size());
          }
          if (d.first_seq == 0) break;
          WriteBatch wb(store.get());
          wb.PutSegment(d);
          if (!store->Write(&wb, false).ok()) __builtin_trap();
          m.segments[{stream, shard, d.first_seq}] = d;
          break;
        }
        case 2: {  // delete the n-th segment (delivered)
          if (m.segments.empty()) break;
          auto it = m.segments.begin();
          std::advance(it, arg % m.segments.size());
          if (!store->DeleteSegment(it->second).ok()) __builtin_trap();
          for (auto c = m.chunks.begin(); c != m.chunks.end();) {
            const auto& [s, h, q] = c->first;
            bool covered = s == it->second.stream_id && h == it->second.shard && q >= it->second.first_seq &&
                           q <= it->second.last_seq;
            c = covered ? m.chunks.erase(c) : std::next(c);
          }
          m.segments.erase(it);
          break;
        }
        case 3: {  // a failed attempt's state
          if (m.segments.empty()) break;
          auto it = m.segments.begin();
          std::advance(it, arg % m.segments.size());
          it->second.attempts++;
          it->second.last_error = std::string(arg % 50, 'e');
          if (!store->UpdateSegment(it->second).ok()) __builtin_trap();
          break;
        }
        case 4:  // restart
          store.reset();
          store = Open(path);
          break;
      }
      Check(store.get(), m);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
