// Mutex, MutexLock, UniqueMutexLock: std::mutex with Clang thread-safety annotations, so members
// marked SLUICE_GUARDED_BY(mu_) are checked by the compiler (base/thread_annotations.h).
#pragma once

#include <condition_variable>
#include <mutex>

#include "base/thread_annotations.h"

namespace sluice::base {

// A std::mutex the analysis knows. BasicLockable (lock/unlock), so std::condition_variable_any
// can wait on a UniqueMutexLock of it.
class SLUICE_CAPABILITY("mutex") Mutex {
 public:
  void lock() SLUICE_ACQUIRE() { mu_.lock(); }
  void unlock() SLUICE_RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Holds `mu` for its scope (std::lock_guard).
class SLUICE_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) SLUICE_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() SLUICE_RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// Holds `mu` for its scope, and can let go of it for a while (std::unique_lock): for condition
// variables (CondVar) and for sleeping without the lock.
class SLUICE_SCOPED_CAPABILITY UniqueMutexLock {
 public:
  explicit UniqueMutexLock(Mutex& mu) SLUICE_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~UniqueMutexLock() SLUICE_RELEASE() {
    if (held_) mu_.unlock();
  }
  void lock() SLUICE_ACQUIRE() {
    mu_.lock();
    held_ = true;
  }
  void unlock() SLUICE_RELEASE() {
    held_ = false;
    mu_.unlock();
  }
  UniqueMutexLock(const UniqueMutexLock&) = delete;
  UniqueMutexLock& operator=(const UniqueMutexLock&) = delete;

 private:
  Mutex& mu_;
  bool held_ = true;
};

// Waits on a UniqueMutexLock (the lock is held again when a wait returns).
using CondVar = std::condition_variable_any;

}  // namespace sluice::base
