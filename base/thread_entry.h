// RunThreadEntry: the body of every thread sluiced starts. No exception crosses a thread's
// entry point: one that reaches it is logged as fatal, naming the thread and the exception,
// and the process aborts (a shard or delivery worker in an unknown state must not keep
// acknowledging or deleting records). Callers that can recover (the replay job) catch first.
#pragma once

#include <cstdlib>
#include <exception>
#include <utility>

#include "base/log.h"

namespace sluice::base {

template <typename Fn>
void RunThreadEntry(const char* name, Fn&& fn) noexcept {
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
