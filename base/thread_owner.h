// ThreadOwner: records the thread that owns an object; debug builds assert every call is on it.
#pragma once

#include <thread>

#include "base/check.h"

namespace sluice::base {

// Thread: set by the owner; IsOwner may be called from any thread.
class ThreadOwner {
 public:
  ThreadOwner() : id_(std::this_thread::get_id()) {}
  // Re-binds ownership to the calling thread (a shard adopts its objects when its thread starts).
  void Rebind() { id_ = std::this_thread::get_id(); }
  bool IsOwner() const { return id_ == std::this_thread::get_id(); }

 private:
  std::thread::id id_;
};

}  // namespace sluice::base

#define SLUICE_DCHECK_OWNER(owner) SLUICE_DCHECK((owner).IsOwner())
