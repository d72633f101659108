// WriteFileAtomically: temp file, fsync, rename, fsync dir.
#include "server/delivery/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace sluice::server {
namespace {
std::atomic<uint64_t> g_tmp_counter{0};

base::Status Errno(const std::string& what) { return base::IOError(what + ": " + std::strerror(errno)); }
}  // namespace

base::Status WriteFileAtomically(const std::string& path, std::string_view data) {
  std::filesystem::path p(path);
  std::error_code ec;
  std::filesystem::create_directories(p.parent_path(), ec);
  if (ec) return base::IOError("cannot create " + p.parent_path().string() + ": " + ec.message());
  std::string tmp = path + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(g_tmp_counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open " + tmp);
  // Written in 256 KiB steps, each handed to writeback after the previous one's writeback is
  // done (sync_file_range WAIT_BEFORE | WRITE over the file so far), so at most a step of this
  // file is queued at the disk at any time: a WAL fdatasync that puts wait for also waits for
  // what the disk has queued, and a 64 MiB object queued at once (non-waiting steps) put
  // 25-50 ms on concurrent WAL syncs (docs/benchmarks.md, "the ack tail").
  constexpr size_t kStep = 256u << 10;
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, std::min(kStep, data.size() - off));
    if (n > 0)
      ::sync_file_range(fd, 0, static_cast<off_t>(off + static_cast<size_t>(n)),
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      base::Status st = Errno("write " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    base::Status st = Errno("fsync " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    base::Status st = Errno("rename " + tmp);
    ::unlink(tmp.c_str());
    return st;
  }
  int dir = ::open(p.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return Errno("open " + p.parent_path().string());
  int rc = ::fsync(dir);
  ::close(dir);
  if (rc != 0) return Errno("fsync " + p.parent_path().string());
  return base::Status::Ok();
}

base::Status CheckRelativePath(std::string_view relative) {
  if (relative.empty()) return base::InvalidArgument("the path is empty");
  if (relative[0] == '/') return base::InvalidArgument("'" + std::string(relative.substr(0, 128)) + "' is absolute");
  for (unsigned char c : relative)
    if (c < 0x20 || c == 0x7f)
      return base::InvalidArgument("'" + std::string(relative.substr(0, 128)) + "' contains a control character");
  size_t start = 0;
  while (start <= relative.size()) {
    size_t slash = relative.find('/', start);
    std::string_view seg = relative.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg == "." || seg == "..")
      return base::InvalidArgument("'" + std::string(relative.substr(0, 128)) + "' has a '" + std::string(seg) + "' segment");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return base::Status::Ok();
}

base::Status WriteFileUnder(const std::string& root, std::string_view relative, std::string_view data) {
  RETURN_IF_ERROR(CheckRelativePath(relative).WithContext("refusing to write outside " + root));
  return WriteFileAtomically(root + "/" + std::string(relative), data);
}

}  // namespace sluice::server
