// Delivery backoff: Firehose's HTTP rule, used for every destination.
#pragma once

#include <cstdint>
#include <random>

namespace sluice::server {

// Delay before the next attempt after `failures` consecutive failures (>= 1):
// min(120 s, 1 s x 2^(failures-1)) x jitter, with jitter in [0.85, 1.15] drawn from `unit`
// (a number in [0, 1)). Pure, so tests check the spacing exactly.
inline int64_t BackoffMs(uint32_t failures, double unit) {
  int64_t base_ms = 120'000;
  if (failures >= 1 && failures <= 7) base_ms = int64_t(1000) << (failures - 1);
  double jitter = 0.85 + 0.30 * unit;
  return static_cast<int64_t>(static_cast<double>(base_ms) * jitter);
}

// A uniform number in [0, 1) for BackoffMs's jitter (per-thread generator).
inline double BackoffUnit() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace sluice::server
