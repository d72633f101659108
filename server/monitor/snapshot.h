// StreamSnapshot: one stream's figures at one moment, gathered from the places that count them
// (the shards' StreamCounters, the delivery pool's DeliveryStats, backlog and partitions). The
// admin port's STATS, /metrics, the status page and `sluice top` all read them from here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/delivery/delivery_pool.h"
#include "server/stream_registry.h"

namespace sluice::server::monitor {

struct StreamSnapshot {
  StreamPtr info;
  std::string destination;   // the kind's metric name: "S3", "HttpEndpoint", "Directory"
  std::string backup_store;  // "S3" or "Directory"
  std::shared_ptr<const DeliveryStats> delivery;  // never null (zeros for a stream the pool lacks)
  uint64_t incoming_records = 0;
  uint64_t incoming_bytes = 0;
  uint64_t incoming_put_requests = 0;
  uint64_t throttled_records = 0;
  DeliveryPool::Backlog backlog;       // sealed segments queued or in flight
  size_t partitions_active = 0;        // PartitionCount
  int64_t oldest_undelivered_ms = 0;   // open segments, open partitions and the backlog; 0: none

  // DataFreshness: seconds since the oldest record not yet delivered arrived (0: nothing waits).
  double data_freshness_s(int64_t now_ms) const {
    return oldest_undelivered_ms == 0 ? 0.0 : static_cast<double>(std::max<int64_t>(0, now_ms - oldest_undelivered_ms)) / 1e3;
  }
};

// One stream; `backlog` from DeliveryPool::Backlogs (or a single-stream count).
StreamSnapshot TakeSnapshot(StreamPtr stream, const DeliveryPool& pool, const DeliveryPool::Backlog& backlog);
// Every stream of `set`, in stream id order, with one pass over the pool's queue.
std::vector<StreamSnapshot> TakeSnapshots(const StreamSet& set, const DeliveryPool& pool);

}  // namespace sluice::server::monitor
