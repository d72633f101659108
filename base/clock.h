// Clock: the one source of time, so tests and backoff can use a FakeClock.
#pragma once

#include <chrono>
#include <cstdint>

namespace sluice::base {

// Thread: implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch (record arrival timestamps, object names).
  virtual int64_t NowUnixMillis() const = 0;
  // Monotonic nanoseconds (durations, timeouts).
  virtual int64_t NowMonoNanos() const = 0;

  static Clock* Real();
};

class RealClock final : public Clock {
 public:
  int64_t NowUnixMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t NowMonoNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

inline Clock* Clock::Real() {
  static RealClock clock;
  return &clock;
}

}  // namespace sluice::base
