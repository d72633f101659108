// Replay: segment files -> pipelined PutRecordBatch requests.
#include "sluice/replay.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "protocol/error_codes.h"
#include "protocol/segment_file.h"
#include "sluice/client.h"

namespace sluice::client {
namespace {

constexpr size_t kMaxInFlight = 8;

bool ReadAll(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return static_cast<bool>(in) || in.eof();
}

}  // namespace

base::Result<std::vector<std::string>> CollectSegmentFiles(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (auto it = std::filesystem::recursive_directory_iterator(p, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file() && it->path().extension() == ".sseg") files.push_back(it->path().string());
      if (ec) return base::IOError("cannot list " + p + ": " + ec.message());
    } else if (std::filesystem::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      return base::NotFound("no such file or directory: " + p);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

ReplayProgress ReplayFiles(Client& c, const std::vector<std::string>& files, const std::string& stream,
                           const ReplayFileFn& on_file) {
  ReplayProgress p;
  p.files_total = files.size();
  const proto::Limits& limits = c.server_limits();
  auto note_error = [&](const std::string& e) {
    if (p.first_error.empty()) p.first_error = e;
  };
  size_t in_flight = 0;
  uint64_t file_failed = 0;  // records of the current file not acked
  auto receive_one = [&]() -> bool {
    auto r = c.ReceivePutResult();
    in_flight--;
    if (!r.ok()) {
      note_error(r.status().ToString());
      return false;
    }
    for (const auto& rec : r->records) {
      if (rec.ok()) {
        p.records_acked++;
      } else {
        p.records_failed++;
        file_failed++;
        note_error(std::string(proto::WireErrorName(static_cast<proto::WireError>(rec.error_code))) + ": " +
                   rec.error_message);
      }
    }
    return true;
  };
  for (const std::string& path : files) {
    std::string bytes;
    if (!ReadAll(path, &bytes)) {
      p.files_bad++;
      note_error("cannot read " + path);
      continue;
    }
    auto seg = proto::ParseSegmentFile(bytes);
    if (!seg.ok()) {
      p.files_bad++;
      note_error(path + ": " + seg.status().ToString());
      continue;
    }
    file_failed = 0;
    std::string target = stream.empty() ? std::string(seg->stream) : stream;
    std::vector<std::string_view> batch;
    uint64_t batch_bytes = 0;
    auto send = [&]() {
      if (batch.empty() || !p.connection_ok) return;
      if (in_flight >= kMaxInFlight && !(p.connection_ok = receive_one())) return;
      auto sent = c.SendPutRecordBatch(target, batch);
      if (!sent.ok()) {
        note_error(sent.status().ToString());
        p.records_failed += batch.size();
        file_failed += batch.size();
        if (sent.status().code() == base::Code::kUnavailable) p.connection_ok = false;
      } else {
        in_flight++;
      }
      batch.clear();
      batch_bytes = 0;
    };
    seg->ForEach([&](std::string_view r) {
      if (r.size() > limits.max_record_bytes) {
        p.records_failed++;
        file_failed++;
        note_error(path + ": a record of " + std::to_string(r.size()) + " bytes exceeds the server's limit");
        return;
      }
      if (batch.size() >= limits.max_batch_records || batch_bytes + r.size() > limits.max_batch_bytes) send();
      batch.push_back(r);
      batch_bytes += r.size();
    });
    send();
    while (in_flight > 0 && p.connection_ok) p.connection_ok = receive_one();
    if (!p.connection_ok) break;
    p.files_done++;
    if (on_file) on_file(path, file_failed == 0, p);
  }
  return p;
}

}  // namespace sluice::client
