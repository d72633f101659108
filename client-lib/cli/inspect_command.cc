// `sluice inspect`: offline view of a data dir (streams, counts, segments, record dump).
#include <cstdio>
#include <map>
#include <set>

#include "client-lib/cli/put_command.h"
#include "storage/data_dir.h"
#include "storage/store.h"

namespace sluice::cli {

int RunInspect(const InspectOptions& opts) {
  if (base::Status st = storage::DataDirLock::CheckNotHeld(opts.data_dir); !st.ok()) {
    std::fprintf(stderr, "sluice inspect: %s\n", st.message().c_str());
    return 2;
  }
  storage::StoreOptions so;
  so.path = opts.data_dir + "/db";
  so.read_only = true;
  auto store = storage::Store::Open(so);
  if (!store.ok()) {
    std::fprintf(stderr, "sluice inspect: %s\n", store.status().ToString().c_str());
    return 2;
  }
  auto streams = store.value()->ListStreams();
  if (!streams.ok()) {
    std::fprintf(stderr, "sluice inspect: %s\n", streams.status().ToString().c_str());
    return 2;
  }
  bool found = opts.stream.empty();
  if (!opts.dump) std::printf("%-32s %6s %12s %14s %8s %8s %8s\n", "stream", "id", "records", "bytes", "chunks", "open", "sealed");
  for (const storage::StreamEntry& s : streams.value()) {
    if (!opts.stream.empty() && s.name != opts.stream) continue;
    found = true;
    uint64_t records = 0, bytes = 0, chunks = 0;
    base::Status st = store.value()->ScanStream(
        s.id, [&](const storage::RecordKey& key, const storage::ChunkView& chunk) {
          records += chunk.count();
          bytes += chunk.payload_bytes();
          chunks++;
          if (opts.dump) {
            chunk.ForEach([](std::string_view r) {
              std::fwrite(r.data(), 1, r.size(), stdout);
              std::fputc('\n', stdout);
            });
          }
          return base::Status::Ok();
        });
    if (!st.ok()) {
      std::fprintf(stderr, "sluice inspect: stream %s: %s\n", s.name.c_str(), st.ToString().c_str());
      return 1;
    }
    auto sealed = store.value()->CountSealedSegments(s.id);
    if (!sealed.ok()) {
      std::fprintf(stderr, "sluice inspect: stream %s: %s\n", s.name.c_str(), sealed.status().ToString().c_str());
      return 1;
    }
    // Open: the (stream, shard) record runs past the last sealed segment, as recovery sees them.
    size_t open = 0;
    if (!opts.dump) {
      auto tails = store.value()->FindUnsealedTails();
      if (!tails.ok()) {
        std::fprintf(stderr, "sluice inspect: stream %s: %s\n", s.name.c_str(), tails.status().ToString().c_str());
        return 1;
      }
      for (const auto& t : tails.value()) open += t.stream_id == s.id;
      std::printf("%-32s %6u %12llu %14llu %8llu %8zu %8llu\n", s.name.c_str(), s.id,
                  static_cast<unsigned long long>(records), static_cast<unsigned long long>(bytes),
                  static_cast<unsigned long long>(chunks), open, static_cast<unsigned long long>(sealed.value()));
    }
  }
  if (!found) {
    std::fprintf(stderr, "sluice inspect: no stream named '%s' in %s\n", opts.stream.c_str(), opts.data_dir.c_str());
    return 1;
  }
  return 0;
}

}  // namespace sluice::cli
