// DataDirLock: one process at a time per data dir, with a message naming the holder.
#pragma once

#include <string>

#include "base/status.h"

namespace sluice::storage {

// Holds an exclusive flock on <dir>/sluiced.lock for its lifetime; the file records the pid.
// The kernel drops the lock when the process dies, so a kill -9 never leaves a stale lock.
// Thread: owned by main.
class DataDirLock {
 public:
  // Creates `dir` if needed and takes the lock. Returns kBusy naming the holder's pid when
  // another live process holds it, kIOError when the directory or file cannot be created.
  static base::Result<DataDirLock> Acquire(const std::string& dir);
  // Returns kBusy when the dir is held by a live process, ok otherwise (also when no lock file).
  static base::Status CheckNotHeld(const std::string& dir);

  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace sluice::storage
