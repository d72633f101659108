// WriteFileAtomically: temp file, fsync, rename, fsync dir.
#include "server/delivery/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

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
  // O_DIRECT where the file system takes it: the bytes go from an aligned staging buffer straight
  // to the disk instead of through the page cache, whose copy cost the delivery workers more CPU
  // than anything else they do (perf, 4 KiB records: copying into cached pages was 17 % of the
  // server's CPU, and the flusher's writeback came on top). Each write waits for its I/O, so at
  // most one step of this file is queued at the disk: a WAL fdatasync that puts wait for also
  // waits for what the disk has queued, and a 64 MiB object queued at once put 25-50 ms on
  // concurrent WAL syncs (docs/benchmarks.md, "the ack tail"). Where O_DIRECT is refused (tmpfs,
  // some network file systems) or for the unaligned tail, buffered writes follow the same steps,
  // each handed to writeback after the previous one's writeback is done (sync_file_range
  // WAIT_BEFORE | WRITE over the file so far).
  constexpr size_t kStep = 256u << 10;
  constexpr size_t kAlign = 4096;  // a multiple of every logical block size Linux supports
  bool direct = data.size() >= kStep;
  int fd = direct ? ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644) : -1;
  if (fd < 0) {
    direct = false;
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  }
  if (fd < 0) return Errno("open " + tmp);
  struct FreeStaging {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, FreeStaging> staging(direct ? static_cast<char*>(std::aligned_alloc(kAlign, kStep)) : nullptr);
  if (!staging) direct = false;
  auto fail = [&](const std::string& what) {
    base::Status st = Errno(what + " " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  };
  size_t off = 0;
  while (off < data.size()) {
    size_t len = std::min(kStep, data.size() - off);
    if (direct && len % kAlign != 0) len -= len % kAlign;  // the tail goes buffered, below
    if (direct && len == 0) {
      direct = false;
      if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_DIRECT) != 0) return fail("fcntl");
      continue;
    }
    ssize_t n;
    if (direct) {
      std::memcpy(staging.get(), data.data() + off, len);
      n = ::write(fd, staging.get(), len);
      if (n < 0 && errno == EINVAL) {  // the file system took the open but not the write
        direct = false;
        if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_DIRECT) != 0) return fail("fcntl");
        continue;
      }
    } else {
      n = ::write(fd, data.data() + off, len);
      if (n > 0)
        ::sync_file_range(fd, 0, static_cast<off_t>(off + static_cast<size_t>(n)),
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE);
    }
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
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
