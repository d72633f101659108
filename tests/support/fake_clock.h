// FakeClock: time that moves only when a test says so.
#pragma once

#include <atomic>

#include "base/clock.h"

namespace sluice::test {

// Thread: thread-safe (atomics).
class FakeClock final : public base::Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'764'000'000'000) : ms_(start_ms) {}
  int64_t NowUnixMillis() const override { return ms_.load(); }
  int64_t NowMonoNanos() const override { return ms_.load() * 1'000'000; }
  void Advance(int64_t ms) { ms_.fetch_add(ms); }

 private:
  std::atomic<int64_t> ms_;
};

}  // namespace sluice::test
