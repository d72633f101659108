// Gathers a stream's figures for STATS, /metrics, the status page and `sluice top`.
#include "server/monitor/snapshot.h"

#include <algorithm>

namespace sluice::server::monitor {

StreamSnapshot TakeSnapshot(StreamPtr stream, const DeliveryPool& pool, const DeliveryPool::Backlog& backlog) {
  static const auto kNoStats = std::make_shared<const DeliveryStats>();
  StreamSnapshot s;
  const StreamCounters& in = *stream->counters;
  s.destination = stream->cfg->kind() ? stream->cfg->kind()->metric_name : "";
  s.backup_store = stream->cfg->backup_kind() ? stream->cfg->backup_kind()->metric_name : "Directory";
  s.delivery = pool.stats(stream->id);
  if (s.delivery == nullptr) s.delivery = kNoStats;
  s.incoming_records = in.incoming_records.load(std::memory_order_relaxed);
  s.incoming_bytes = in.incoming_bytes.load(std::memory_order_relaxed);
  s.incoming_put_requests = in.incoming_put_requests.load(std::memory_order_relaxed);
  s.throttled_records = in.throttled_records.load(std::memory_order_relaxed);
  s.backlog = backlog;
  const DeliveryPool::PartitionSummary parts = pool.partitions(stream->id);
  s.partitions_active = parts.active;
  int64_t oldest = backlog.oldest_arrival_ms;
  auto older = [&oldest](int64_t v) {
    if (v != 0 && (oldest == 0 || v < oldest)) oldest = v;
  };
  for (const auto& slot : in.open_oldest_ms) older(slot.load(std::memory_order_relaxed));
  older(parts.oldest_open_ms);
  s.oldest_undelivered_ms = oldest;
  s.info = std::move(stream);
  return s;
}

std::vector<StreamSnapshot> TakeSnapshots(const StreamSet& set, const DeliveryPool& pool) {
  const auto backlogs = pool.Backlogs();
  std::vector<StreamSnapshot> out;
  out.reserve(set.size());
  set.ForEach([&](const StreamInfo& st) {
    auto it = backlogs.find(st.id);
    out.push_back(TakeSnapshot(set.Get(st.id), pool, it == backlogs.end() ? DeliveryPool::Backlog{} : it->second));
  });
  return out;
}

}  // namespace sluice::server::monitor
