// RunThreadEntry: the body of every thread sluiced starts. No exception crosses a thread's
// entry point: one that reaches it is logged as fatal, naming the thread and the exception,
// and the process aborts (a shard or delivery worker in an unknown state must not keep
// acknowledging or deleting records). Callers that can recover (the replay job) catch first.
// The thread takes `name` as its kernel name (truncated to 15 bytes), so `top -H`, `ps -T`,
// perf and /proc/<pid>/task/*/comm tell shards, delivery workers and RocksDB's pools apart.
#pragma once

#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <utility>

#include "base/log.h"

namespace sluice::base {

template <typename Fn>
void RunThreadEntry(const char* name, Fn&& fn) noexcept {
  char comm[16];
  snprintf(comm, sizeof comm, "%s", name);
  pthread_setname_np(pthread_self(), comm);  // only fails for names over 15 bytes
  try {
    std::forward<Fn>(fn)();
  } catch (const std::exception& e) {
    SLUICE_LOG_ERROR("fatal", "uncaught exception in thread %s: %s; aborting", name, e.what());
    std::abort();
  } catch (...) {
    SLUICE_LOG_ERROR("fatal", "uncaught non-standard exception in thread %s; aborting", name);
    std::abort();
  }
}

}  // namespace sluice::base
