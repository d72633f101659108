// Histogram: fixed buckets of a duration, counted with relaxed atomics, so any thread may
// observe and any thread may read (a reader sees each bucket at some recent value; the totals
// may be a few observations apart, which Prometheus tolerates).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace sluice::base {

// Upper bounds in seconds, ascending; +Inf is implied.
inline constexpr double kLatencyBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
inline constexpr double kDurationBuckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                              1,     2.5,   5,    10,    30,   60,  120, 300};
// Counts, not seconds (records per commit).
inline constexpr double kBatchBuckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
inline constexpr double kAgeBuckets[] = {0.1, 0.5, 1,   2.5,  5,    10,   30,   60,
                                         120, 300, 600, 900, 1800, 3600, 7200, 86400};

class Histogram {
 public:
  static constexpr size_t kMaxBuckets = 16;
  explicit Histogram(std::span<const double> bounds) : bounds_(bounds) {}

  // A count (kBatchBuckets): kept as micro-units, so bounds and sum() stay in one unit.
  void ObserveCount(uint64_t n) { ObserveMicros(static_cast<int64_t>(n) * 1000000); }

  void ObserveMicros(int64_t us) {
    if (us < 0) us = 0;
    const double s = static_cast<double>(us) / 1e6;
    size_t i = 0;
    while (i < bounds_.size() && s > bounds_[i]) i++;
    counts_[i].fetch_add(1, std::memory_order_relaxed);  // i == size(): the +Inf bucket
    sum_us_.fetch_add(static_cast<uint64_t>(us), std::memory_order_relaxed);
  }

  std::span<const double> bounds() const { return bounds_; }
  // Observations in bucket i alone (not cumulative); i == bounds().size() is +Inf.
  uint64_t bucket(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  uint64_t count() const {
    uint64_t n = 0;
    for (size_t i = 0; i <= bounds_.size(); i++) n += bucket(i);
    return n;
  }
  // In the unit of the bounds (seconds, or counts).
  double sum() const { return static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6; }

 private:
  std::span<const double> bounds_;
  std::atomic<uint64_t> counts_[kMaxBuckets + 1]{};
  std::atomic<uint64_t> sum_us_{0};
};

}  // namespace sluice::base
