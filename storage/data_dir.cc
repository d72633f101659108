// Data dir locking with flock(2).
#include "storage/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace sluice::storage {
namespace {

std::string LockPath(const std::string& dir) { return dir + "/sluiced.lock"; }

std::string ReadPid(int fd) {
  char buf[32] = {};
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  std::string pid = n > 0 ? std::string(buf, n) : "unknown";
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid;
}

base::Status BusyStatus(const std::string& dir, int fd) {
  return {base::Code::kBusy, "data dir " + dir + " is held by a running sluiced (pid " +
                                 ReadPid(fd) + "); stop it first or inspect through its admin port"};
}

}  // namespace

base::Result<DataDirLock> DataDirLock::Acquire(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return base::IOError("cannot create data dir " + dir + ": " + ec.message());
  int fd = ::open(LockPath(dir).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return base::IOError("cannot open " + LockPath(dir) + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    base::Status st = errno == EWOULDBLOCK ? BusyStatus(dir, fd)
                                           : base::IOError("flock " + LockPath(dir) + ": " +
                                                           std::strerror(errno));
    ::close(fd);
    return st;
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    ::close(fd);
    return base::IOError("cannot write " + LockPath(dir) + ": " + std::strerror(errno));
  }
  return DataDirLock(fd);
}

base::Status DataDirLock::CheckNotHeld(const std::string& dir) {
  int fd = ::open(LockPath(dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::Status::Ok();
  base::Status st;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) st = BusyStatus(dir, fd);
  ::close(fd);  // also drops our shared lock
  return st;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace sluice::storage
