// Monitor: /metrics, /ready, the status JSON, and the 1 s sampler behind their rates.
#include "server/monitor/monitor.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_set>

#include "base/clock.h"
#include "server/encoding/json_escape.h"
#include "server/monitor/process_stats.h"
#include "server/monitor/prometheus.h"

namespace sluice::server::monitor {
namespace {

int64_t MonoNanos() { return base::Clock::Real()->NowMonoNanos(); }

// One per-stream family of /metrics: a counter or gauge read from the snapshot.
struct StreamMetric {
  const char* name;
  const char* type;  // "counter" or "gauge"
  const char* help;
  uint64_t (*value)(const StreamSnapshot&);
  bool staged_only = false;  // only streams with processors (Lambda, de-aggregation, partitioning)
  bool conversion_only = false;  // only streams with record format conversion
};

uint64_t Load(const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); }

const StreamMetric kStreamMetrics[] = {
    {"sluice_incoming_records_total", "counter", "IncomingRecords: records stored durably (acknowledged)",
     [](const StreamSnapshot& s) { return s.incoming_records; }},
    {"sluice_incoming_bytes_total", "counter", "IncomingBytes: bytes of the records stored durably",
     [](const StreamSnapshot& s) { return s.incoming_bytes; }},
    {"sluice_incoming_put_requests_total", "counter", "IncomingPutRequests: put requests with records stored",
     [](const StreamSnapshot& s) { return s.incoming_put_requests; }},
    {"sluice_throttled_records_total", "counter", "ThrottledRecords: records refused for a limit",
     [](const StreamSnapshot& s) { return s.throttled_records; }},
    {"sluice_delivery_records_total", "counter", "DeliveryTo<destination>.Records: records delivered",
     [](const StreamSnapshot& s) { return Load(s.delivery->records); }},
    {"sluice_delivery_bytes_total", "counter", "DeliveryTo<destination>.Bytes: bytes delivered (before compression)",
     [](const StreamSnapshot& s) { return Load(s.delivery->bytes); }},
    {"sluice_delivery_objects_total", "counter",
     "DeliveryTo<destination>.ObjectCount: segments delivered (objects, files or HTTP requests)",
     [](const StreamSnapshot& s) { return Load(s.delivery->segments); }},
    {"sluice_delivery_attempts_total", "counter", "delivery attempts, successful or not",
     [](const StreamSnapshot& s) { return Load(s.delivery->attempts); }},
    {"sluice_delivery_failed_attempts_total", "counter", "delivery attempts that failed",
     [](const StreamSnapshot& s) { return Load(s.delivery->failed_attempts); }},
    {"sluice_delivery_retries_total", "counter", "failed attempts scheduled again (within retry_duration_s)",
     [](const StreamSnapshot& s) { return Load(s.delivery->retries); }},
    {"sluice_delivery_rejected_records_total", "counter",
     "records the destination refused for themselves (rows, documents) while taking the rest; in the backup store",
     [](const StreamSnapshot& s) { return Load(s.delivery->rejected_records); }},
    {"sluice_backup_records_total", "counter", "BackupTo<store>.Records: records written to the backup store",
     [](const StreamSnapshot& s) { return Load(s.delivery->backup_records); }},
    {"sluice_backup_segments_total", "counter", "segments written to the backup store",
     [](const StreamSnapshot& s) { return Load(s.delivery->backup_segments); }},
    {"sluice_backup_failures_total", "counter", "writes to the backup store that failed (the stream pauses)",
     [](const StreamSnapshot& s) { return Load(s.delivery->backup_failures); }},
    {"sluice_backlog_records", "gauge", "records in sealed segments waiting for delivery (queued or in flight)",
     [](const StreamSnapshot& s) { return s.backlog.records; }},
    {"sluice_backlog_bytes", "gauge", "bytes in sealed segments waiting for delivery",
     [](const StreamSnapshot& s) { return s.backlog.bytes; }},
    {"sluice_backlog_segments", "gauge", "sealed segments waiting for delivery",
     [](const StreamSnapshot& s) { return s.backlog.segments; }},
    {"sluice_retrying_segments", "gauge", "waiting segments with a failed attempt behind them",
     [](const StreamSnapshot& s) { return s.backlog.retrying; }},
    {"sluice_stream_paused", "gauge", "1 while delivery is paused (PAUSE; puts continue)",
     [](const StreamSnapshot& s) { return uint64_t(s.info->paused ? 1 : 0); }},
    {"sluice_execute_processing_invocations_total", "counter", "ExecuteProcessing: Lambda invocations",
     [](const StreamSnapshot& s) { return Load(s.delivery->invocations); }, true},
    {"sluice_execute_processing_success_total", "counter", "ExecuteProcessing.Success numerator: invocations that succeeded",
     [](const StreamSnapshot& s) { return Load(s.delivery->invocations_ok); }, true},
    {"sluice_succeed_processing_records_total", "counter", "SucceedProcessing.Records",
     [](const StreamSnapshot& s) { return Load(s.delivery->processed_records); }, true},
    {"sluice_succeed_processing_bytes_total", "counter", "SucceedProcessing.Bytes",
     [](const StreamSnapshot& s) { return Load(s.delivery->processed_bytes); }, true},
    {"sluice_dropped_processing_records_total", "counter", "records the function answered Dropped",
     [](const StreamSnapshot& s) { return Load(s.delivery->dropped_records); }, true},
    {"sluice_failed_processing_records_total", "counter", "records sent to processing-failed/",
     [](const StreamSnapshot& s) { return Load(s.delivery->processing_failed_records); }, true},
    {"sluice_failed_partitioning_records_total", "counter", "records sent to partitioning-failed/",
     [](const StreamSnapshot& s) { return Load(s.delivery->partitioning_failed_records); }, true},
    {"sluice_partition_count", "gauge", "PartitionCount: active partitions",
     [](const StreamSnapshot& s) { return uint64_t(s.partitions_active); }, true},
    {"sluice_partition_count_exceeded", "gauge", "PartitionCountExceeded: 1 if the last commit met the partition limit",
     [](const StreamSnapshot& s) { return Load(s.delivery->partition_exceeded); }, true},
    {"sluice_partition_exceeded_records_total", "counter", "records sent to activePartitionExceeded/",
     [](const StreamSnapshot& s) { return Load(s.delivery->partition_exceeded_records); }, true},
    {"sluice_jq_processing_records_total", "counter", "records the MetadataExtraction jq query ran on",
     [](const StreamSnapshot& s) { return Load(s.delivery->jq_records); }, true},
    {"sluice_succeed_conversion_records_total", "counter", "SucceedConversion.Records: records converted to Parquet and delivered",
     [](const StreamSnapshot& s) { return Load(s.delivery->converted_records); }, false, true},
    {"sluice_succeed_conversion_bytes_total", "counter", "SucceedConversion.Bytes: their bytes as put",
     [](const StreamSnapshot& s) { return Load(s.delivery->converted_bytes); }, false, true},
    {"sluice_failed_conversion_records_total", "counter", "FailedConversion.Records: records sent to format-conversion-failed/",
     [](const StreamSnapshot& s) { return Load(s.delivery->conversion_failed_records); }, false, true},
    {"sluice_failed_conversion_bytes_total", "counter", "FailedConversion.Bytes: their bytes",
     [](const StreamSnapshot& s) { return Load(s.delivery->conversion_failed_bytes); }, false, true},
};

// Appends v to a JSON document, as an integer when it is one.
void Num(std::string* o, double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  auto [end, ec] = std::abs(v) < 9e15 && v == std::floor(v)
                       ? std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v))
                       : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 3);
  o->append(buf, ec == std::errc() ? end : buf);
}

void Key(std::string* o, std::string_view k) { o->append("\"").append(k).append("\":"); }
void Str(std::string* o, std::string_view k, std::string_view v) {
  Key(o, k);
  o->append("\"").append(JsonEscape(v)).append("\",");
}
void Field(std::string* o, std::string_view k, double v) {
  Key(o, k);
  Num(o, v);
  o->push_back(',');
}
void EndObject(std::string* o) {
  if (!o->empty() && o->back() == ',') o->back() = '}';
  else o->push_back('}');
}

// The last `filled` values of a ring whose next write goes to `next`, oldest first.
template <typename T>
void Ring(std::string* o, std::string_view k, const std::vector<T>& ring, size_t next, size_t filled) {
  Key(o, k);
  o->push_back('[');
  const size_t n = ring.size();
  for (size_t i = 0; i < filled; i++) {
    if (i) o->push_back(',');
    Num(o, static_cast<double>(ring[(next + n - filled + i) % n]));
  }
  o->append("],");
}

}  // namespace

// --- sampler ------------------------------------------------------------------------------

void Monitor::Start(uv_loop_t* loop) {
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  uv_timer_start(&timer_, OnTimer, 1000, 1000);
  started_ = true;
  Sample();
}

void Monitor::Close() {
  if (!started_) return;
  started_ = false;
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void Monitor::OnTimer(uv_timer_t* t) noexcept { static_cast<Monitor*>(t->data)->Sample(); }

void Monitor::Sample() {
  const int64_t now_ns = MonoNanos();
  const double dt = last_sample_mono_ns_ == 0 ? 0 : static_cast<double>(now_ns - last_sample_mono_ns_) / 1e9;
  last_sample_mono_ns_ = now_ns;
  const int64_t now_ms = base::Clock::Real()->NowUnixMillis();
  auto rate = [dt](uint64_t now, uint64_t before) {
    return dt > 0 && now >= before ? static_cast<double>(now - before) / dt : 0.0;
  };

  StreamSetPtr set = services_.streams.streams();
  const std::vector<StreamSnapshot> snaps = TakeSnapshots(*set, services_.status.pool());
  double in_total = 0, out_total = 0, freshness_max = 0;
  uint64_t backlog_total = 0;
  std::unordered_set<uint32_t> live;
  for (const StreamSnapshot& s : snaps) {
    live.insert(s.info->id);
    StreamTrack& t = streams_[s.info->id];
    if (t.in_history.empty()) {
      t.in_history.assign(kStreamHistory, 0);
      t.out_history.assign(kStreamHistory, 0);
    }
    const uint64_t out_records = Load(s.delivery->records), out_bytes = Load(s.delivery->bytes);
    if (t.seen) {
      t.rates = {rate(s.incoming_records, t.in_records), rate(s.incoming_bytes, t.in_bytes), rate(out_records, t.out_records),
                 rate(out_bytes, t.out_bytes)};
    }
    t.seen = true;
    t.in_records = s.incoming_records;
    t.in_bytes = s.incoming_bytes;
    t.out_records = out_records;
    t.out_bytes = out_bytes;
    t.attempts.emplace_back(Load(s.delivery->attempts), Load(s.delivery->segments));
    if (t.attempts.size() > kSuccessWindow) t.attempts.erase(t.attempts.begin());
    t.in_history[stream_next_] = static_cast<float>(t.rates.in_records);
    t.out_history[stream_next_] = static_cast<float>(t.rates.out_records);
    t.filled = std::min(t.filled + 1, kStreamHistory);
    in_total += t.rates.in_records;
    out_total += t.rates.out_records;
    backlog_total += s.backlog.records;
    freshness_max = std::max(freshness_max, s.data_freshness_s(now_ms));
  }
  stream_next_ = (stream_next_ + 1) % kStreamHistory;
  for (auto it = streams_.begin(); it != streams_.end();) it = live.count(it->first) ? std::next(it) : streams_.erase(it);

  const auto& shards = services_.status.shards();
  shards_.resize(shards.size());
  for (size_t i = 0; i < shards.size(); i++) {
    const ShardStats& st = shards[i]->stats();
    const uint64_t commits = Load(st.commits), records = Load(st.records_stored);
    ShardTrack& t = shards_[i];
    t.commits_per_s = rate(commits, t.commits);
    t.records_per_commit = commits > t.commits ? static_cast<double>(records - t.records) / static_cast<double>(commits - t.commits) : 0;
    t.commits = commits;
    t.records = records;
  }

  if (t_history_.empty()) {
    t_history_.assign(kServerHistory, 0);
    in_history_.assign(kServerHistory, 0);
    out_history_.assign(kServerHistory, 0);
    backlog_history_.assign(kServerHistory, 0);
    freshness_history_.assign(kServerHistory, 0);
  }
  t_history_[server_next_] = now_ms;
  in_history_[server_next_] = static_cast<float>(in_total);
  out_history_[server_next_] = static_cast<float>(out_total);
  backlog_history_[server_next_] = static_cast<float>(backlog_total);
  freshness_history_[server_next_] = static_cast<float>(freshness_max);
  server_next_ = (server_next_ + 1) % kServerHistory;
  server_filled_ = std::min(server_filled_ + 1, kServerHistory);
}

double Monitor::SuccessRatio(const StreamTrack& t) const {
  if (t.attempts.size() < 2) return 1.0;
  const auto& [a0, s0] = t.attempts.front();
  const auto& [a1, s1] = t.attempts.back();
  if (a1 <= a0) return 1.0;  // no attempt in the window: nothing failed
  return std::min(1.0, static_cast<double>(s1 - s0) / static_cast<double>(a1 - a0));
}

// --- /ready -------------------------------------------------------------------------------

Readiness Monitor::Ready() {
  if (facts_.shutting_down()) return {false, "shutting down"};
  const ServerConfig& cfg = services_.status.config();
  const uint64_t free = services_.status.store().FreeBytes();
  if (free < cfg.min_free_bytes)
    return {false, "puts refused: " + std::to_string(free >> 20) + " MiB free on the data directory's disk, below min_free_mib " +
                       std::to_string(cfg.min_free_bytes >> 20)};
  for (const auto& shard : services_.status.shards())
    if (shard->stats().commit_failing.load(std::memory_order_relaxed))
      return {false, "storage refuses writes: shard " + std::to_string(shard->id()) + "'s last commit failed (see the log)"};
  return {true, ""};
}

// --- /metrics -----------------------------------------------------------------------------

std::string Monitor::Metrics() {
  std::string out;
  const StreamSetPtr set = services_.streams.streams();
  const std::vector<StreamSnapshot> snaps = TakeSnapshots(*set, services_.status.pool());
  out.reserve(4096 + snaps.size() * 4096);
  // In a cluster every sample carries node="<id>", so one Prometheus scraping every node keeps
  // them apart (and sums across them by dropping the label).
  const std::string& node = services_.status.config().cluster.node_id;
  PrometheusWriter w(&out, services_.status.config().cluster.enabled() ? Label{"node", node} : Label{});
  const int64_t now_ms = base::Clock::Real()->NowUnixMillis();

  w.Family("sluice_build_info", "gauge", "the running build (value 1)");
  w.Sample("sluice_build_info", {{"version", SLUICE_VERSION}}, uint64_t(1));
  const Readiness ready = Ready();
  w.Family("sluice_ready", "gauge", "1 when GET /ready answers 200 (storage open, disk space, not shutting down)");
  w.Sample("sluice_ready", {}, uint64_t(ready.ready ? 1 : 0));

  // Per stream, family by family (a family's samples must be consecutive).
  w.Family("sluice_stream_info", "gauge", "one per delivery stream (value 1): destination, status, version");
  for (const StreamSnapshot& s : snaps) {
    const std::string version = std::to_string(s.info->version);
    w.Sample("sluice_stream_info",
             {{"stream", s.info->name}, {"destination", s.destination}, {"status", s.info->accepts_puts() ? "ACTIVE" : "DELETING"},
              {"version", version}},
             uint64_t(1));
  }
  for (const StreamMetric& m : kStreamMetrics) {
    bool any = false;
    for (const StreamSnapshot& s : snaps) {
      if (m.staged_only && !s.info->cfg->processing.staged()) continue;
      if (m.conversion_only && !s.info->cfg->conversion.on()) continue;
      if (!any) w.Family(m.name, m.type, m.help);
      any = true;
      w.Sample(m.name, {{"stream", s.info->name}, {"destination", s.destination}}, m.value(s));
    }
  }
  w.Family("sluice_data_freshness_seconds", "gauge",
           "DataFreshness: age of the oldest record not yet delivered (open, partitioned or waiting; 0: none)");
  for (const StreamSnapshot& s : snaps)
    w.Sample("sluice_data_freshness_seconds", {{"stream", s.info->name}, {"destination", s.destination}}, s.data_freshness_s(now_ms));
  w.Family("sluice_delivery_success_ratio", "gauge",
           "DeliveryTo<destination>.Success: delivered / attempted over the last 10 s (1 without attempts)");
  for (const StreamSnapshot& s : snaps) {
    auto it = streams_.find(s.info->id);
    w.Sample("sluice_delivery_success_ratio", {{"stream", s.info->name}, {"destination", s.destination}},
             it == streams_.end() ? 1.0 : SuccessRatio(it->second));
  }
  w.Family("sluice_delivery_last_error_timestamp_seconds", "gauge",
           "Unix time of the stream's last failed attempt, processing or backup failure (0: none)");
  for (const StreamSnapshot& s : snaps)
    w.Sample("sluice_delivery_last_error_timestamp_seconds", {{"stream", s.info->name}, {"destination", s.destination}},
             static_cast<double>(s.delivery->LastError().first) / 1e3);
  bool any_jq = false;
  for (const StreamSnapshot& s : snaps) {
    if (s.info->cfg->processing.jq_query.empty()) continue;
    if (!any_jq) w.Family("sluice_jq_processing_seconds_total", "counter", "JQProcessing.Duration: time spent in the jq query");
    any_jq = true;
    w.Sample("sluice_jq_processing_seconds_total", {{"stream", s.info->name}, {"destination", s.destination}},
             static_cast<double>(Load(s.delivery->jq_us)) / 1e6);
  }
  // Histograms appear for a stream once it has an observation (as a client library's labelled
  // series appear on first use), so a thousand idle streams do not cost 57 lines each.
  auto histograms = [&](const char* name, const char* help, const base::Histogram DeliveryStats::*field) {
    bool any = false;
    for (const StreamSnapshot& s : snaps) {
      const base::Histogram& h = s.delivery.get()->*field;
      if (h.count() == 0) continue;
      if (!any) w.Family(name, "histogram", help);
      any = true;
      w.Histogram(name, {{"stream", s.info->name}, {"destination", s.destination}}, h);
    }
  };
  histograms("sluice_delivery_duration_seconds", "one delivery attempt (Deliver call), any outcome",
             &DeliveryStats::delivery_duration);
  histograms("sluice_delivered_data_age_seconds",
             "DataFreshness at delivery: age of a delivered segment's oldest record when it was delivered",
             &DeliveryStats::delivered_age);
  histograms("sluice_execute_processing_duration_seconds", "ExecuteProcessing.Duration: one Lambda invocation",
             &DeliveryStats::processing_duration);
  w.Family("sluice_streams", "gauge", "delivery streams (ResourceCount)");
  w.Sample("sluice_streams", {}, uint64_t(snaps.size()));

  // Per shard.
  const auto& shards = services_.status.shards();
  struct ShardCounter {
    const char* name;
    const char* help;
    const std::atomic<uint64_t> ShardStats::*field;
  };
  static const ShardCounter kShardCounters[] = {
      {"sluice_shard_connections_accepted_total", "connections accepted (put port and Firehose API port)", &ShardStats::connections_accepted},
      {"sluice_shard_put_requests_total", "put requests received", &ShardStats::put_requests},
      {"sluice_shard_records_stored_total", "records acknowledged as stored", &ShardStats::records_stored},
      {"sluice_shard_bytes_stored_total", "bytes acknowledged as stored", &ShardStats::bytes_stored},
      {"sluice_shard_records_failed_total", "records answered with an error", &ShardStats::records_failed},
      {"sluice_shard_commits_total", "group commits (one WAL write, fsync'd under durability fsync)", &ShardStats::commits},
      {"sluice_shard_commit_failures_total", "group commits that failed (their puts were answered with errors)", &ShardStats::commit_failures},
      {"sluice_shard_protocol_errors_total", "malformed requests (the connection was closed)", &ShardStats::protocol_errors},
      {"sluice_shard_budget_pauses_total", "times a connection paused for the shard's commit budget", &ShardStats::budget_pauses},
      {"sluice_shard_segments_sealed_total", "segments sealed", &ShardStats::segments_sealed},
      {"sluice_shard_seal_failures_total", "segment descriptor writes that failed (retried)", &ShardStats::seal_failures},
      {"sluice_shard_timeouts_total", "connections closed by read_timeout_s or write_timeout_s", &ShardStats::timeouts},
      {"sluice_shard_auth_failures_total", "Firehose API requests refused for their signature", &ShardStats::auth_failures},
  };
  w.Family("sluice_shard_connections_open", "gauge", "open connections");
  for (const auto& shard : shards)
    w.Sample("sluice_shard_connections_open", {{"shard", std::to_string(shard->id())}}, Load(shard->stats().connections_open));
  for (const ShardCounter& c : kShardCounters) {
    w.Family(c.name, "counter", c.help);
    for (const auto& shard : shards) w.Sample(c.name, {{"shard", std::to_string(shard->id())}}, Load(shard->stats().*c.field));
  }
  w.Family("sluice_put_ack_latency_seconds", "histogram",
           "PutRecord/PutRecordBatch latency: from a request's records being staged to its acknowledgement being sent");
  for (const auto& shard : shards)
    w.Histogram("sluice_put_ack_latency_seconds", {{"shard", std::to_string(shard->id())}}, shard->stats().put_ack_latency);
  w.Family("sluice_commit_batch_records", "histogram", "records per group commit");
  for (const auto& shard : shards)
    w.Histogram("sluice_commit_batch_records", {{"shard", std::to_string(shard->id())}}, shard->stats().commit_records);

  // Server-wide.
  if (!shards.empty()) {
    const ClientMemory& mem = shards.front()->client_memory_view();
    w.Family("sluice_client_memory_bytes", "gauge", "bytes held for clients (receive buffers, decoded records, responses)");
    w.Sample("sluice_client_memory_bytes", {}, uint64_t(std::max<int64_t>(0, mem.used())));
    w.Family("sluice_client_memory_budget_bytes", "gauge", "client_memory_mib");
    w.Sample("sluice_client_memory_budget_bytes", {}, uint64_t(mem.budget()));
    w.Family("sluice_client_memory_pauses_total", "counter", "times reading paused for the client memory budget");
    w.Sample("sluice_client_memory_pauses_total", {}, Load(mem.pauses));
  }
  w.Family("sluice_refused_connections_total", "counter", "connections refused past max_connections");
  w.Sample("sluice_refused_connections_total", {}, facts_.refused_connections());
  const DeliveryPool& pool = services_.status.pool();
  w.Family("sluice_delivery_threads", "gauge", "delivery worker threads");
  w.Sample("sluice_delivery_threads", {}, uint64_t(services_.status.config().delivery_threads));
  w.Family("sluice_delivery_memory_bytes", "gauge",
           "memory the delivery attempts in flight are reckoned to hold (delivery_memory_mib bounds it)");
  w.Sample("sluice_delivery_memory_bytes", {}, services_.status.pool().memory_in_flight());
  w.Family("sluice_delivery_pending_segments", "gauge", "segments queued or in flight, all streams");
  w.Sample("sluice_delivery_pending_segments", {}, uint64_t(pool.pending()));

  storage::Store& store = services_.status.store();
  const storage::Store::Counters rc = store.counters();
  auto counter = [&w](const char* name, const char* help, double v) {
    w.Family(name, "counter", help);
    w.Sample(name, {}, v);
  };
  auto gauge = [&w](const char* name, const char* help, double v) {
    w.Family(name, "gauge", help);
    w.Sample(name, {}, v);
  };
  counter("sluice_rocksdb_wal_syncs_total", "RocksDB WAL fsyncs", double(rc.wal_syncs));
  counter("sluice_rocksdb_wal_bytes_total", "bytes written to RocksDB's WAL", double(rc.wal_bytes));
  counter("sluice_rocksdb_bytes_written_total", "bytes of writes RocksDB took (keys and values)", double(rc.bytes_written));
  counter("sluice_rocksdb_flush_bytes_total", "bytes RocksDB wrote flushing memtables to SST files", double(rc.flush_write_bytes));
  counter("sluice_rocksdb_compaction_written_bytes_total", "bytes RocksDB wrote compacting", double(rc.compact_write_bytes));
  counter("sluice_rocksdb_compaction_read_bytes_total", "bytes RocksDB read compacting", double(rc.compact_read_bytes));
  counter("sluice_rocksdb_stall_seconds_total", "time writes were delayed or stopped by RocksDB (write stalls)",
          double(rc.stall_micros) / 1e6);
  gauge("sluice_rocksdb_memtable_bytes", "bytes in RocksDB memtables (all column families)",
        double(store.IntProperty("rocksdb.cur-size-all-mem-tables")));
  gauge("sluice_rocksdb_sst_bytes", "bytes of live SST files (all column families)", double(store.IntProperty("rocksdb.live-sst-files-size")));
  gauge("sluice_rocksdb_pending_compaction_bytes", "RocksDB's estimate of bytes compaction has to rewrite",
        double(store.IntProperty("rocksdb.estimate-pending-compaction-bytes")));
  gauge("sluice_rocksdb_write_stopped", "1 while RocksDB stops writes", double(store.IntProperty("rocksdb.is-write-stopped") ? 1 : 0));
  gauge("sluice_disk_free_bytes", "free bytes on the data directory's disk (puts stop below min_free_mib)", double(store.FreeBytes()));

  const ReplayJob::Snapshot replay = services_.replay.replay_status();
  gauge("sluice_replay_running", "1 while a REPLAY runs", replay.running ? 1 : 0);
  counter("sluice_replay_records_acked_total", "records the current or last REPLAY re-put", double(replay.progress.records_acked));
  counter("sluice_replay_records_failed_total", "records the current or last REPLAY could not re-put", double(replay.progress.records_failed));

  const ProcessStats proc = ReadProcessStats();
  counter("process_cpu_seconds_total", "user and system CPU time", proc.cpu_seconds);
  gauge("process_resident_memory_bytes", "resident memory", double(proc.rss_bytes));
  gauge("process_virtual_memory_bytes", "virtual memory", double(proc.virtual_bytes));
  gauge("process_open_fds", "open file descriptors", double(proc.open_fds));
  gauge("process_max_fds", "the file descriptor limit", double(proc.max_fds));
  gauge("process_start_time_seconds", "Unix time the server started", static_cast<double>(services_.status.start_unix_ms()) / 1e3);
  return out;
}

// --- status JSON --------------------------------------------------------------------------

std::string Monitor::StatusJson(std::string_view stream) {
  const StreamSetPtr set = services_.streams.streams();
  const std::vector<StreamSnapshot> snaps = TakeSnapshots(*set, services_.status.pool());
  const int64_t now_ms = base::Clock::Real()->NowUnixMillis();
  std::string o;
  o.reserve(1024 + snaps.size() * 640);
  o.push_back('{');
  Str(&o, "version", SLUICE_VERSION);
  Field(&o, "now_ms", static_cast<double>(now_ms));
  Field(&o, "uptime_s", static_cast<double>(now_ms - services_.status.start_unix_ms()) / 1e3);
  const Readiness ready = Ready();
  Key(&o, "ready");
  o.append(ready.ready ? "true," : "false,");
  Str(&o, "ready_reason", ready.reason);
  const ProcessStats proc = ReadProcessStats();
  Field(&o, "rss_bytes", static_cast<double>(proc.rss_bytes));
  Field(&o, "disk_free_bytes", static_cast<double>(services_.status.store().FreeBytes()));

  double in_r = 0, in_b = 0, out_r = 0;
  uint64_t backlog_r = 0, backlog_b = 0;
  Key(&o, "streams");
  o.push_back('[');
  for (const StreamSnapshot& s : snaps) {
    auto it = streams_.find(s.info->id);
    const StreamTrack* t = it == streams_.end() ? nullptr : &it->second;
    const Rates r = t ? t->rates : Rates{};
    in_r += r.in_records;
    in_b += r.in_bytes;
    out_r += r.out_records;
    backlog_r += s.backlog.records;
    backlog_b += s.backlog.bytes;
    const DeliveryStats& d = *s.delivery;
    auto [error_ms, error] = d.LastError();
    o.push_back('{');
    Str(&o, "name", s.info->name);
    Str(&o, "destination", s.destination);
    Str(&o, "status", s.info->accepts_puts() ? "ACTIVE" : "DELETING");
    Key(&o, "paused");
    o.append(s.info->paused ? "true," : "false,");
    Field(&o, "incoming_records_per_s", r.in_records);
    Field(&o, "incoming_bytes_per_s", r.in_bytes);
    Field(&o, "delivered_records_per_s", r.out_records);
    Field(&o, "delivered_bytes_per_s", r.out_bytes);
    Field(&o, "incoming_records", static_cast<double>(s.incoming_records));
    Field(&o, "delivered_records", static_cast<double>(Load(d.records)));
    Field(&o, "backlog_records", static_cast<double>(s.backlog.records));
    Field(&o, "backlog_bytes", static_cast<double>(s.backlog.bytes));
    Field(&o, "backlog_segments", static_cast<double>(s.backlog.segments));
    Field(&o, "retrying_segments", static_cast<double>(s.backlog.retrying));
    Field(&o, "data_freshness_s", s.data_freshness_s(now_ms));
    Field(&o, "success_ratio", t ? SuccessRatio(*t) : 1.0);
    Field(&o, "retries", static_cast<double>(Load(d.retries)));
    Field(&o, "backup_records", static_cast<double>(Load(d.backup_records)));
    Field(&o, "backup_segments", static_cast<double>(Load(d.backup_segments)));
    Field(&o, "last_error_ms", static_cast<double>(error_ms));
    Str(&o, "last_error", error);
    EndObject(&o);
    o.push_back(',');
  }
  if (o.back() == ',') o.pop_back();
  o.append("],");

  Key(&o, "totals");
  o.push_back('{');
  Field(&o, "streams", static_cast<double>(snaps.size()));
  Field(&o, "incoming_records_per_s", in_r);
  Field(&o, "incoming_bytes_per_s", in_b);
  Field(&o, "delivered_records_per_s", out_r);
  Field(&o, "backlog_records", static_cast<double>(backlog_r));
  Field(&o, "backlog_bytes", static_cast<double>(backlog_b));
  EndObject(&o);
  o.push_back(',');

  Key(&o, "shards");
  o.push_back('[');
  const auto& shards = services_.status.shards();
  for (size_t i = 0; i < shards.size(); i++) {
    const ShardTrack t = i < shards_.size() ? shards_[i] : ShardTrack{};
    o.push_back('{');
    Field(&o, "id", shards[i]->id());
    Field(&o, "commits_per_s", t.commits_per_s);
    Field(&o, "records_per_commit", t.records_per_commit);
    Field(&o, "connections", static_cast<double>(Load(shards[i]->stats().connections_open)));
    EndObject(&o);
    if (i + 1 < shards.size()) o.push_back(',');
  }
  o.append("],");

  Key(&o, "history");
  o.push_back('{');
  Field(&o, "interval_ms", 1000);
  Ring(&o, "t_ms", t_history_, server_next_, server_filled_);
  Ring(&o, "incoming_records_per_s", in_history_, server_next_, server_filled_);
  Ring(&o, "delivered_records_per_s", out_history_, server_next_, server_filled_);
  Ring(&o, "backlog_records", backlog_history_, server_next_, server_filled_);
  Ring(&o, "data_freshness_s", freshness_history_, server_next_, server_filled_);
  EndObject(&o);
  if (!stream.empty()) {
    const StreamInfo* info = set->Find(stream);
    auto it = info ? streams_.find(info->id) : streams_.end();
    if (it != streams_.end()) {
      o.push_back(',');
      Key(&o, "stream_history");
      o.push_back('{');
      Str(&o, "name", info->name);
      Ring(&o, "incoming_records_per_s", it->second.in_history, stream_next_, it->second.filled);
      Ring(&o, "delivered_records_per_s", it->second.out_history, stream_next_, it->second.filled);
      EndObject(&o);
    }
  }
  o.push_back('}');
  return o;
}

}  // namespace sluice::server::monitor
