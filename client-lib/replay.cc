// Replay: segment files -> pipelined PutRecordBatch requests.
#include "client-lib/replay.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "protocol/error_codes.h"
#include "protocol/segment_file.h"
#include "client-lib/client.h"

namespace sluice::client {
namespace {

constexpr size_t kMaxInFlight = 8;
// A directory walk stops after this many entries, so REPLAY of a huge tree (say, /) ends.
constexpr size_t kMaxEntriesWalked = 1'000'000;

// What a non-regular file is, for the error that refuses it.
std::string KindOf(std::filesystem::file_type t) {
  switch (t) {
    case std::filesystem::file_type::directory: return "a directory";
    case std::filesystem::file_type::fifo: return "a FIFO";
    case std::filesystem::file_type::character: return "a character device";
    case std::filesystem::file_type::block: return "a block device";
    case std::filesystem::file_type::socket: return "a socket";
    case std::filesystem::file_type::symlink: return "a symbolic link";
    default: return "not a regular file";
  }
}

}  // namespace

base::Status ReadSegmentFileBytes(const std::string& path, std::string* out) {
  // O_NONBLOCK: a FIFO swapped in after the walk must not block the reader; fstat decides.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return base::IOError("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  base::Status result;
  if (::fstat(fd, &st) != 0) {
    result = base::IOError("cannot stat " + path + ": " + std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    result = base::InvalidArgument(path + " is " +
                                   KindOf(S_ISFIFO(st.st_mode)   ? std::filesystem::file_type::fifo
                                          : S_ISCHR(st.st_mode)  ? std::filesystem::file_type::character
                                          : S_ISBLK(st.st_mode)  ? std::filesystem::file_type::block
                                          : S_ISSOCK(st.st_mode) ? std::filesystem::file_type::socket
                                          : S_ISDIR(st.st_mode)  ? std::filesystem::file_type::directory
                                                                 : std::filesystem::file_type::unknown) +
                                   ", not a segment file");
  } else if (static_cast<uint64_t>(st.st_size) > kMaxSegmentFileBytes) {
    result = base::InvalidArgument(path + " is " + std::to_string(st.st_size) + " bytes, more than a segment file can be (" +
                                   std::to_string(kMaxSegmentFileBytes) + ")");
  } else {
    out->resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < out->size()) {
      ssize_t n = ::read(fd, out->data() + got, out->size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        result = base::IOError("cannot read " + path + ": " + std::strerror(errno));
        break;
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    out->resize(got);
  }
  ::close(fd);
  return result;
}

base::Result<std::vector<std::string>> CollectSegmentFiles(const std::vector<std::string>& paths,
                                                           std::vector<std::string>* skipped) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  auto skip = [&](const std::string& what) {
    if (skipped != nullptr && skipped->size() < 100) skipped->push_back(what);
  };
  for (const std::string& p : paths) {
    // Every call here is a non-throwing overload: an entry that cannot be stat'ed (a symlink
    // loop, a vanished file, /proc) is an error to report, never an exception.
    std::error_code ec;
    fs::file_status status = fs::status(p, ec);
    if (ec || !fs::exists(status)) {
      if (ec && ec != std::errc::no_such_file_or_directory)
        return base::IOError("cannot stat " + p + ": " + ec.message());
      return base::NotFound("no such file or directory: " + p);
    }
    if (fs::is_regular_file(status)) {
      files.push_back(p);
      continue;
    }
    if (!fs::is_directory(status))
      return base::InvalidArgument(p + " is " + KindOf(status.type()) + "; REPLAY reads .sseg files and directories of them");
    size_t walked = 0;
    fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec);
    if (ec) return base::IOError("cannot list " + p + ": " + ec.message());
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) return base::IOError("cannot list " + p + ": " + ec.message());
      if (++walked > kMaxEntriesWalked)
        return base::InvalidArgument(p + " holds more than " + std::to_string(kMaxEntriesWalked) + " entries; name a smaller directory");
      const fs::path& entry = it->path();
      if (entry.extension() != ".sseg") continue;
      std::error_code entry_ec;
      fs::file_status s = it->status(entry_ec);  // follows a symlink, without throwing
      if (entry_ec) {
        skip(entry.string() + ": " + entry_ec.message());
      } else if (!fs::is_regular_file(s)) {
        skip(entry.string() + " is " + KindOf(s.type()));
      } else {
        files.push_back(entry.string());
      }
    }
    if (ec) return base::IOError("cannot list " + p + ": " + ec.message());
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

ReplayProgress ReplayFiles(Client& c, const std::vector<std::string>& files, const std::string& stream,
                           bool mark_replayed, const ReplayFileFn& on_file) {
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
    if (base::Status read = ReadSegmentFileBytes(path, &bytes); !read.ok()) {
      p.files_bad++;
      note_error(read.message());
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
    // A file whose every record was acked is renamed so no replay puts it twice; it is kept
    // (not deleted) so an operator can still look at it.
    if (file_failed == 0 && mark_replayed) {
      std::string done = path + ".replayed";
      if (std::rename(path.c_str(), done.c_str()) == 0)
        p.files_renamed++;
      else
        note_error("cannot rename " + path + " to " + done + ": " + std::strerror(errno));
    }
    if (on_file) on_file(path, file_failed == 0, p);
  }
  return p;
}

}  // namespace sluice::client
