// Fuzz target: untrusted bytes -> ParseSegmentFile (backup files are read back by sluice replay,
// sluice inspect and REPLAY). A parse that succeeds must describe records inside the input.
#include <cstdint>
#include <string_view>

#include "protocol/segment_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto seg = sluice::proto::ParseSegmentFile(in);
  if (!seg.ok()) return 0;
  uint32_t n = 0;
  size_t bytes = 0;
  seg->ForEach([&](std::string_view r) {
    if (r.data() < in.data() || r.data() + r.size() > in.data() + in.size()) __builtin_trap();
    n++;
    bytes += r.size();
  });
  if (n != seg->record_count || bytes > size) __builtin_trap();
  // A valid file re-written by the writer parses to the same records.
  sluice::proto::SegmentFileWriter w;
  w.Begin(seg->stream, seg->segment_id, seg->metadata_json);
  seg->ForEach([&](std::string_view r) { w.Add(r); });
  auto again = sluice::proto::ParseSegmentFile(w.Finish());
  if (!again.ok() || again->record_count != n) __builtin_trap();
  return 0;
}
