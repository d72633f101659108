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

namespace sluice::cli {
namespace {

std::vector<std::string> CollectFiles(const std::vector<std::string>& paths, std::string* error) {
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (auto& e : std::filesystem::recursive_directory_iterator(p, ec))
        if (e.is_regular_file() && e.path().extension() == ".sseg") files.push_back(e.path().string());
    } else if (std::filesystem::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      *error = "no such file or directory: " + p;
      return {};
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

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
  std::string error;
  std::vector<std::string> files = CollectFiles(opts.paths, &error);
  if (!error.empty() || files.empty()) {
    std::fprintf(stderr, "sluice replay: %s\n", error.empty() ? "no .sseg files found" : error.c_str());
    return 2;
  }
  std::unique_ptr<client::Client> connected = ConnectOrExplain("sluice replay", opts.addr, opts.auth_token);
  if (!connected) return 2;
  client::Client& c = *connected;
  const proto::Limits& limits = c.server_limits();
  const bool tty = isatty(STDERR_FILENO);
  uint64_t acked = 0, failed = 0, files_done = 0, files_bad = 0;
  std::string first_error;
  auto note_error = [&](const std::string& e) {
    if (first_error.empty()) first_error = e;
  };
  // Pipelined: keep up to 8 batches in flight on the one connection.
  size_t in_flight = 0;
  auto receive_one = [&]() -> bool {
    auto r = c.ReceivePutResult();
    in_flight--;
    if (!r.ok()) {
      note_error(r.status().ToString());
      return false;
    }
    for (const auto& rec : r->records) {
      if (rec.ok()) {
        acked++;
      } else {
        failed++;
        note_error(std::string(proto::WireErrorName(static_cast<proto::WireError>(rec.error_code))) + ": " +
                   rec.error_message);
      }
    }
    return true;
  };
  bool connection_ok = true;
  for (const std::string& path : files) {
    std::string bytes;
    if (!ReadAll(path, &bytes)) {
      files_bad++;
      note_error("cannot read " + path);
      continue;
    }
    auto seg = proto::ParseSegmentFile(bytes);
    if (!seg.ok()) {
      files_bad++;
      note_error(path + ": " + seg.status().ToString());
      continue;
    }
    std::string stream = opts.stream.empty() ? std::string(seg->stream) : opts.stream;
    std::vector<std::string_view> batch;
    uint64_t batch_bytes = 0;
    auto send = [&]() {
      if (batch.empty() || !connection_ok) return;
      if (in_flight >= 8 && !(connection_ok = receive_one())) return;
      auto sent = c.SendPutRecordBatch(stream, batch);
      if (!sent.ok()) {
        note_error(sent.status().ToString());
        failed += batch.size();
        connection_ok = sent.status().code() != base::Code::kUnavailable;
      } else {
        in_flight++;
      }
      batch.clear();
      batch_bytes = 0;
    };
    seg->ForEach([&](std::string_view r) {
      if (r.size() > limits.max_record_bytes) {
        failed++;
        note_error(path + ": a record of " + std::to_string(r.size()) + " bytes exceeds the server's limit");
        return;
      }
      if (batch.size() >= limits.max_batch_records || batch_bytes + r.size() > limits.max_batch_bytes) send();
      batch.push_back(r);
      batch_bytes += r.size();
    });
    send();
    while (in_flight > 0 && connection_ok) connection_ok = receive_one();
    files_done++;
    if (tty)
      std::fprintf(stderr, "\rsluice replay: %llu/%zu files, %llu records acked, %llu failed",
                   static_cast<unsigned long long>(files_done), files.size(),
                   static_cast<unsigned long long>(acked), static_cast<unsigned long long>(failed));
    if (!connection_ok) break;
  }
  if (tty) std::fputc('\n', stderr);
  std::fprintf(stderr, "sluice replay: %llu of %zu files replayed, %llu records acked, %llu failed, %llu files unreadable\n",
               static_cast<unsigned long long>(files_done), files.size(), static_cast<unsigned long long>(acked),
               static_cast<unsigned long long>(failed), static_cast<unsigned long long>(files_bad));
  if (!first_error.empty()) std::fprintf(stderr, "sluice replay: first error: %s\n", first_error.c_str());
  return (failed == 0 && files_bad == 0 && connection_ok && files_done == files.size()) ? 0 : 1;
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
