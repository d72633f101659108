// FaultDestination: wraps a destination and fails on purpose, for tests of retry and backup.
// Enabled only when sluiced runs with --enable-fault-injection (see [stream.fault] in
// docs/operations.md); a production config that names it is refused otherwise.
#pragma once

#include <atomic>
#include <memory>

#include "base/clock.h"
#include "server/delivery/destination.h"

namespace sluice::server {

struct FaultConfig {
  uint32_t fail_attempts = 0;  // the first N attempts fail (kRetry)
  uint32_t fail_for_s = 0;     // every attempt within T s of the first one fails (kRetry)
  bool permanent = false;      // every attempt fails with kFail
  bool enabled() const { return fail_attempts || fail_for_s || permanent; }
};

// Thread: thread-safe (atomics).
class FaultDestination final : public Destination {
 public:
  FaultDestination(std::unique_ptr<Destination> inner, FaultConfig cfg, base::Clock* clock)
      : inner_(std::move(inner)), cfg_(cfg), clock_(clock) {}
  DeliveryResult Deliver(const DeliveryObject& object) override {
    uint32_t n = attempts_.fetch_add(1);
    int64_t now = clock_->NowUnixMillis();
    int64_t expected = 0;
    first_ms_.compare_exchange_strong(expected, now);
    if (cfg_.permanent) return DeliveryResult::Fail("injected permanent failure");
    if (n < cfg_.fail_attempts)
      return DeliveryResult::Retry("injected failure " + std::to_string(n + 1) + " of " +
                                   std::to_string(cfg_.fail_attempts));
    if (cfg_.fail_for_s && now - first_ms_.load() < int64_t(cfg_.fail_for_s) * 1000)
      return DeliveryResult::Retry("injected outage");
    return inner_->Deliver(object);
  }
  std::string_view kind() const override { return inner_->kind(); }
  std::string_view error_output_type() const override { return inner_->error_output_type(); }

 private:
  std::unique_ptr<Destination> inner_;
  const FaultConfig cfg_;
  base::Clock* clock_;
  std::atomic<uint32_t> attempts_{0};
  std::atomic<int64_t> first_ms_{0};
};

}  // namespace sluice::server
