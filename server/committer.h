// Committer: the thread that writes a shard's group commits under fsync durability, so the
// shard's loop reads and verifies the next batch while the last one syncs.
//
// Design: one batch in flight at a time (the shard owns the pipelining; see shard.h). Submit
// hands over a WriteBatch the shard no longer touches; the committer writes it with sync=true,
// keeps the result, and calls `done` (the shard's uv_async_send) under its lock. The shard takes
// the result with TakeDone from its loop, and only then touches the batch again.
// Thread: Submit / TakeDone / Stop from the owning shard's thread (Stop also from its owner on
// main once the shard's thread ended); the writing on the committer's own thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <thread>

#include "base/mutex.h"
#include "base/status.h"
#include "storage/store.h"

namespace sluice::server {

class Committer {
 public:
  struct Done {
    uint64_t epoch;
    base::Status status;
  };
  // `done` is called on the committer's thread after each write; it must only wake the shard.
  Committer(storage::Store* store, std::function<void()> done);
  ~Committer();  // Stop()
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  void Start();
  // Writes `batch` (sync) and then reports `epoch` with its result. REQUIRES: nothing in flight;
  // `batch` is not touched by the caller until TakeDone returned this epoch.
  void Submit(storage::WriteBatch* batch, uint64_t epoch);
  // The finished write, if any (nullopt: still writing, or nothing was submitted).
  std::optional<Done> TakeDone();
  // Ends the thread after the write in flight, if any. Idempotent.
  void Stop();

 private:
  void Run();

  storage::Store* const store_;
  const std::function<void()> done_fn_;
  std::thread thread_;
  base::Mutex mu_;
  base::CondVar cv_;
  storage::WriteBatch* batch_ SLUICE_GUARDED_BY(mu_) = nullptr;
  uint64_t epoch_ SLUICE_GUARDED_BY(mu_) = 0;
  std::optional<Done> done_ SLUICE_GUARDED_BY(mu_);
  bool stop_ SLUICE_GUARDED_BY(mu_) = false;
};

}  // namespace sluice::server
