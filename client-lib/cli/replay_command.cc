// `sluice replay`: re-put the records of backed-up segment files through the normal put path.
// `sluice inspect --segment-file`: print one segment file.
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "client-lib/cli/put_command.h"
#include "protocol/error_codes.h"
#include "protocol/segment_file.h"
#include "client-lib/client.h"
#include "client-lib/replay.h"

namespace sluice::cli {
namespace {

}  // namespace

int RunReplay(const ReplayOptions& opts) {
  std::vector<std::string> skipped;
  auto files = client::CollectSegmentFiles(opts.paths, &skipped);
  for (const std::string& s : skipped) std::fprintf(stderr, "sluice replay: skipped %s\n", s.c_str());
  if (!files.ok() || files->empty()) {
    std::fprintf(stderr, "sluice replay: %s\n", files.ok() ? "no .sseg files found" : files.status().message().c_str());
    return 2;
  }
  std::unique_ptr<client::Client> connected = ConnectOrExplain("sluice replay", opts.addr, opts.auth_token, opts.tls);
  if (!connected) return 2;
  const bool tty = isatty(STDERR_FILENO);
  client::ReplayProgress p = client::ReplayFiles(
      *connected, files.value(), opts.stream, /*mark_replayed=*/true, [&](const std::string&, bool, const client::ReplayProgress& p) {
        if (tty)
          std::fprintf(stderr, "\rsluice replay: %llu/%zu files, %llu records acked, %llu failed",
                       static_cast<unsigned long long>(p.files_done), p.files_total,
                       static_cast<unsigned long long>(p.records_acked),
                       static_cast<unsigned long long>(p.records_failed));
      });
  if (tty) std::fputc('\n', stderr);
  std::fprintf(stderr,
               "sluice replay: %llu of %zu files replayed, %llu records acked, %llu failed, %llu files unreadable; "
               "%llu fully acked files renamed to *.sseg.replayed (a second replay skips them)\n",
               static_cast<unsigned long long>(p.files_done), p.files_total,
               static_cast<unsigned long long>(p.records_acked), static_cast<unsigned long long>(p.records_failed),
               static_cast<unsigned long long>(p.files_bad), static_cast<unsigned long long>(p.files_renamed));
  if (!p.first_error.empty()) std::fprintf(stderr, "sluice replay: first error: %s\n", p.first_error.c_str());
  return (p.records_failed == 0 && p.files_bad == 0 && p.connection_ok && p.files_done == p.files_total) ? 0 : 1;
}

int RunInspectSegmentFile(const std::string& path, bool dump) {
  std::string bytes;
  if (base::Status read = client::ReadSegmentFileBytes(path, &bytes); !read.ok()) {
    std::fprintf(stderr, "sluice inspect: %s\n", read.message().c_str());
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
