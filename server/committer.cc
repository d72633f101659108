// Committer: a shard's writer thread for synced group commits.
#include "server/committer.h"

#include "base/check.h"
#include "base/thread_entry.h"

namespace sluice::server {

Committer::Committer(storage::Store* store, std::function<void()> done) : store_(store), done_fn_(std::move(done)) {}

Committer::~Committer() { Stop(); }

void Committer::Start() {
  thread_ = std::thread([this]() noexcept { base::RunThreadEntry("committer", [this] { Run(); }); });
}

void Committer::Submit(storage::WriteBatch* batch, uint64_t epoch) {
  base::MutexLock lock(mu_);
  SLUICE_CHECK(batch_ == nullptr && !done_.has_value());
  batch_ = batch;
  epoch_ = epoch;
  cv_.notify_one();
}

std::optional<Committer::Done> Committer::TakeDone() {
  base::MutexLock lock(mu_);
  std::optional<Done> d = std::move(done_);
  done_.reset();
  return d;
}

void Committer::Stop() {
  {
    base::MutexLock lock(mu_);
    stop_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void Committer::Run() {
  base::UniqueMutexLock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this]() SLUICE_NO_THREAD_SAFETY_ANALYSIS { return stop_ || batch_ != nullptr; });
    if (batch_ == nullptr) return;  // stopping, nothing in flight
    storage::WriteBatch* batch = batch_;
    lock.unlock();
    base::Status st = store_->Write(batch, true);
    lock.lock();
    batch_ = nullptr;
    done_ = Done{epoch_, std::move(st)};
    // Under the lock: the shard closes the handle `done_fn_` signals only after Stop() joined.
    done_fn_();
  }
}

}  // namespace sluice::server
