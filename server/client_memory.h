// ClientMemory: the bytes every put connection holds, across all shards, against one budget.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice::server {

// Receive buffers (their capacity) and queued responses (staged, then in libuv's write queue)
// of every put connection are charged here. Over the budget, connections take no new frame and
// grow no receive buffer until enough is released: memory stays bounded whatever clients do
// (a client that never reads, thousands that stall mid-frame). Each connection is also bounded
// on its own (connection_output_budget, one frame of input), and stalled ones are closed by
// read_timeout_s / write_timeout_s, so a budget held by stalled clients is given back.
// Thread: thread-safe (relaxed atomics: the budget is a soft bound checked before each frame).
class ClientMemory {
 public:
  explicit ClientMemory(uint64_t budget) : budget_(budget) {}
  void Add(int64_t delta) { used_.fetch_add(delta, std::memory_order_relaxed); }
  bool Over() const { return used_.load(std::memory_order_relaxed) >= static_cast<int64_t>(budget_); }
  int64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t budget() const { return budget_; }
  // Connections held back because the budget was spent (INFO shards).
  std::atomic<uint64_t> pauses{0};

 private:
  const uint64_t budget_;
  std::atomic<int64_t> used_{0};
};

}  // namespace sluice::server
