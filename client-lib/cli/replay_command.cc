// `sluice replay`: re-put the records of backed-up segment files through the normal put path.
// `sluice inspect --segment-file`: print one segment file.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "client-lib/cli/put_command.h"
#include "protocol/error_codes.h"
#include "protocol/segment_file.h"
#include "sluice/client.h"
#include "sluice/replay.h"

namespace sluice::cli {
namespace {

bool ReadAll(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace

int RunReplay(const ReplayOptions& opts) {
  auto files = client::CollectSegmentFiles(opts.paths);
  if (!files.ok() || files->empty()) {
    std::fprintf(stderr, "sluice replay: %s\n", files.ok() ? "no .sseg files found" : files.status().message().c_str());
    return 2;
  }
  std::unique_ptr<client::Client> connected = ConnectOrExplain("sluice replay", opts.addr, opts.auth_token);
  if (!connected) return 2;
  const bool tty = isatty(STDERR_FILENO);
  client::ReplayProgress p = client::ReplayFiles(
      *connected, files.value(), opts.stream, [&](const std::string&, bool, const client::ReplayProgress& p) {
        if (tty)
          std::fprintf(stderr, "\rsluice replay: %llu/%zu files, %llu records acked, %llu failed",
                       static_cast<unsigned long long>(p.files_done), p.files_total,
                       static_cast<unsigned long long>(p.records_acked),
                       static_cast<unsigned long long>(p.records_failed));
      });
  if (tty) std::fputc('\n', stderr);
  std::fprintf(stderr, "sluice replay: %llu of %zu files replayed, %llu records acked, %llu failed, %llu files unreadable\n",
               static_cast<unsigned long long>(p.files_done), p.files_total,
               static_cast<unsigned long long>(p.records_acked), static_cast<unsigned long long>(p.records_failed),
               static_cast<unsigned long long>(p.files_bad));
  if (!p.first_error.empty()) std::fprintf(stderr, "sluice replay: first error: %s\n", p.first_error.c_str());
  return (p.records_failed == 0 && p.files_bad == 0 && p.connection_ok && p.files_done == p.files_total) ? 0 : 1;
}

int RunInspectSegmentFile(const std::string& path, bool dump) {
  std::string bytes;
  if (!ReadAll(path, &bytes)) {
    std::fprintf(stderr, "sluice inspect: cannot read %s\n", path.c_str());
    return 2;
  }
  auto seg = proto::ParseSegmentFile(bytes);
  if (!seg.ok()) {
    std::fprintf(stderr, "sluice inspect: %s: %s\n", path.c_str(), seg.status().ToString().c_str());
    return 1;
  }
  if (dump) {
    seg->ForEach([](std::string_view r) {
      std::fwrite(r.data(), 1, r.size(), stdout);
      std::fputc('\n', stdout);
    });
    return 0;
  }
  std::printf("stream:     %.*s\nsegment:    %.*s\nrecords:    %u\nbytes:      %zu\nmetadata:   %.*s\n",
              static_cast<int>(seg->stream.size()), seg->stream.data(), static_cast<int>(seg->segment_id.size()),
              seg->segment_id.data(), seg->record_count, seg->payload.size() - 4 * size_t(seg->record_count),
              static_cast<int>(seg->metadata_json.size()), seg->metadata_json.data());
  return 0;
}

}  // namespace sluice::cli
