// DeliveryPool: scheduling, attempts, retry with backoff, backup, delete-after-confirm.
#include "server/delivery/delivery_pool.h"

#include <chrono>
#include <algorithm>
#include <random>

#include "base/check.h"
#include "base/fault_point.h"
#include "base/log.h"
#include "base/thread_entry.h"
#include "server/delivery/backoff.h"
#include "server/net/http_client.h"
#include "server/delivery/codec.h"
#include "server/delivery/destinations/registry.h"
#include "server/delivery/fault_destination.h"

namespace sluice::server {
namespace {

constexpr std::string_view kFormatConversionFailed = "format-conversion-failed";

// A segment whose stored records fail their checksum is not retried in a hot loop.
constexpr int64_t kQuarantineRetryMs = 3600 * 1000;
constexpr int64_t kMaxWaitMs = 100;  // workers re-check at least this often (FakeClock tests)
constexpr int64_t kSpareKeepMs = 10000;  // a parked buffer set unused this long is freed

}  // namespace

DeliveryPool::DeliveryPool(storage::Store* store, base::Clock* clock, uint32_t threads, uint64_t memory_budget)
    : store_(store), clock_(clock), threads_(std::max(1u, threads)), memory_budget_(memory_budget) {}

DeliveryPool::~DeliveryPool() { Stop(); }

static std::shared_ptr<BackupStore> MakeBackupStore(const StreamConfig& c) {
  if (const DestinationKind* store = c.backup_kind(); store != nullptr && store->make_backup != nullptr) {
    DestinationContext ctx{c.name, c.settings(store->name), &c.backup.kinds.at(std::string(store->name))};
    return std::make_shared<BackupStore>(store->make_backup(ctx), c.backup.error_output_prefix);
  }
  return std::make_shared<BackupStore>(c.backup.path, c.backup.error_output_prefix);
}

std::unique_ptr<Destination> MakeDestination(const StreamInfo& s, bool enable_fault_injection,
                                             base::Clock* clock) {
  const StreamConfig& c = *s.cfg;
  const DestinationKind* kind = c.kind();
  SLUICE_CHECK(kind != nullptr && kind->make != nullptr);  // ParseStreamConfig refuses unknown kinds
  std::unique_ptr<Destination> dest = kind->make(DestinationContext{s.name, c.settings()});
  if (enable_fault_injection && s.cfg->fault.enabled())
    dest = std::make_unique<FaultDestination>(std::move(dest), s.cfg->fault, clock);
  return dest;
}

std::unique_ptr<DeliveryPool::Runtime> DeliveryPool::MakeRuntime(StreamPtr s) const {
  auto rt = std::make_unique<Runtime>();
  const StreamConfig& c = *s->cfg;
  rt->destination = factory_(*s);
  rt->backup = MakeBackupStore(c);
  if (!c.processing.lambda_url.empty())
    rt->lambda = std::make_shared<LambdaInvoker>(c.processing.lambda_url, c.processing.lambda_timeout_s,
                                                 "arn:sluice:firehose:local:0:deliverystream/" + s->name, "local");
  if (!c.processing.jq_query.empty()) rt->jq = std::make_shared<JqExtractor>(c.processing.jq_query);
  rt->partitions = std::make_shared<Partitions>(store_, s->id);
  rt->info = std::move(s);
  return rt;
}

base::Status DeliveryPool::Init(const StreamSet& streams, DestinationFactory factory) {
  factory_ = std::move(factory);
  base::MutexLock lock(mu_);
  // The analysis does not follow the lock into lambdas: this one runs under `lock` above.
  streams.ForEach([&](const StreamInfo& s) SLUICE_NO_THREAD_SAFETY_ANALYSIS {
    runtimes_[s.id] = MakeRuntime(streams.Get(s.id));
  });
  return base::Status::Ok();
}

void DeliveryPool::UpsertStream(StreamPtr s) {
  // Built outside the lock; installed only if the config changed (same config: same objects).
  std::unique_ptr<Runtime> fresh = MakeRuntime(s);
  const uint32_t id = s->id;
  bool seal = s->status == StreamStatus::kDeleting;
  {
    base::MutexLock lock(mu_);
    auto it = runtimes_.find(s->id);
    if (it == runtimes_.end()) {
      runtimes_[s->id] = std::move(fresh);
    } else {
      Runtime* rt = it->second.get();
      if (rt->info->cfg != s->cfg) {
        rt->destination = std::move(fresh->destination);
        rt->backup = std::move(fresh->backup);
        rt->lambda = std::move(fresh->lambda);
        rt->jq = std::move(fresh->jq);
        seal = true;  // open partitions hold the previous version's output
      }
      rt->info = std::move(s);
    }
  }
  if (seal) SealPartitions(clock_->NowUnixMillis(), id, true);
  cv_.notify_all();
}

bool DeliveryPool::RemoveStream(uint32_t stream_id) {
  base::MutexLock lock(mu_);
  auto it = runtimes_.find(stream_id);
  if (it == runtimes_.end()) return true;
  if (it->second->in_flight > 0) return false;
  for (const auto& [key, d] : queue_)
    if (d.stream_id == stream_id) return false;
  runtimes_.erase(it);
  return true;
}

base::Status DeliveryPool::Start() {
  size_t loaded = 0, orphaned = 0;
  {
    base::MutexLock lock(mu_);
    std::vector<storage::SegmentDescriptor> partition_segments;  // told to Partitions after the scan
    // Runs under `lock` above (the analysis does not follow locks into lambdas).
    RETURN_IF_ERROR(store_->ForEachSegment([&](const storage::SegmentDescriptor& d) SLUICE_NO_THREAD_SAFETY_ANALYSIS {
      if (!runtimes_.count(d.stream_id)) {
        orphaned++;  // its stream is no longer configured: kept in storage, not delivered
        return base::Status::Ok();
      }
      if (d.is_partition()) partition_segments.push_back(d);
      EnqueueLocked(d);
      loaded++;
      return base::Status::Ok();
    }));
    for (const storage::SegmentDescriptor& d : partition_segments) runtimes_.at(d.stream_id)->partitions->Load(d);
  }
  if (loaded || orphaned)
    SLUICE_LOG_INFO("delivery", "resuming %zu sealed segments%s", loaded,
                    orphaned ? " (some belong to streams no longer configured and stay stored)" : "");
  for (uint32_t i = 0; i < threads_; i++)
    workers_.emplace_back([this]() noexcept {
      base::RunThreadEntry("delivery", [this] { WorkerLoop(); });
      base::MutexLock lock(mu_);
      exited_workers_++;
    });
  return base::Status::Ok();
}

void DeliveryPool::Submit(storage::SegmentDescriptor d) {
  {
    base::MutexLock lock(mu_);
    if (!runtimes_.count(d.stream_id)) return;
    EnqueueLocked(std::move(d));
  }
  cv_.notify_one();
}

void DeliveryPool::EnqueueLocked(storage::SegmentDescriptor d) {
  QueueKey key{d.next_attempt_ms, order_++};
  queue_.emplace(key, std::move(d));
}

void DeliveryPool::SubmitAll(std::vector<storage::SegmentDescriptor> sealed) {
  if (sealed.empty()) return;
  {
    base::MutexLock lock(mu_);
    for (storage::SegmentDescriptor& d : sealed) EnqueueLocked(std::move(d));
  }
  cv_.notify_all();
}

void DeliveryPool::SealPartitions(int64_t now, uint32_t only_stream, bool all) {
  std::vector<std::pair<std::shared_ptr<Partitions>, int64_t>> targets;
  {
    base::MutexLock lock(mu_);
    for (const auto& [id, rt] : runtimes_) {
      if (only_stream != 0 && id != only_stream) continue;
      bool deleting = rt->info->status == StreamStatus::kDeleting;
      targets.emplace_back(rt->partitions, deleting ? 0 : int64_t(rt->info->cfg->buffering.interval_s) * 1000);
    }
  }
  std::vector<storage::SegmentDescriptor> sealed;
  for (auto& [partitions, interval_ms] : targets) partitions->SealDue(now, interval_ms, all, &sealed);
  SubmitAll(std::move(sealed));
}

void DeliveryPool::FlushPartitions(uint32_t stream_id) {
  const int64_t now = clock_->NowUnixMillis();
  {
    base::MutexLock lock(mu_);
    for (const auto& [id, rt] : runtimes_)
      if (stream_id == 0 || id == stream_id) rt->partitions->RequestFlush(now);
  }
  SealPartitions(now, stream_id, true);
}

DeliveryPool::PartitionSummary DeliveryPool::partitions(uint32_t stream_id) const {
  std::shared_ptr<Partitions> p;
  {
    base::MutexLock lock(mu_);
    auto it = runtimes_.find(stream_id);
    if (it == runtimes_.end()) return {};
    p = it->second->partitions;
  }
  return {p->active(), p->oldest_open_ms()};
}

void DeliveryPool::Poke() { cv_.notify_all(); }

bool DeliveryPool::Stop(uint32_t timeout_ms) {
  {
    base::MutexLock lock(mu_);
    if (stopping_ && workers_.empty()) return true;
    stopping_ = true;
  }
  cv_.notify_all();
  using Steady = std::chrono::steady_clock;
  const auto start = Steady::now();
  const auto deadline = timeout_ms == UINT32_MAX ? Steady::time_point::max() : start + std::chrono::milliseconds(timeout_ms);
  auto next_log = start;
  bool aborted = false;
  base::UniqueMutexLock lock(mu_);
  // Polled (every 100 ms): a shutdown is the only waiter, and workers need no extra signal.
  while (exited_workers_ < workers_.size()) {
    auto now = Steady::now();
    if (in_flight_ > 0 && now >= next_log) {
      std::string which;
      size_t listed = 0;
      for (const auto& [token, f] : in_flight_segments_)
        if (const storage::SegmentDescriptor& d = f.d; listed++ < 5) which += (which.empty() ? "" : ", ") + std::string("stream ") + std::to_string(d.stream_id) + " segment " + d.Id();
      long waited = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(now - start).count());
      SLUICE_LOG_INFO("delivery", "shutdown: waiting for %zu delivery attempts in flight (%s) for %lds%s", in_flight_,
                      which.c_str(), waited,
                      timeout_ms == UINT32_MAX ? "" : ("; abandoning them after shutdown_timeout_s " + std::to_string(timeout_ms / 1000)).c_str());
      next_log = now + std::chrono::seconds(5);
    }
    if (!aborted && now >= deadline) {
      aborted = true;
      SLUICE_LOG_WARN("delivery", "shutdown: abandoning %zu delivery attempts after %u s; their segments stay stored and are "
                      "delivered after the restart", in_flight_, timeout_ms / 1000);
      AbortAllTransfers();
    }
    if (aborted && now >= deadline + std::chrono::seconds(5)) {
      SLUICE_LOG_ERROR("delivery", "shutdown: %zu delivery workers are still busy outside any transfer; leaving them",
                       workers_.size() - exited_workers_);
      lock.unlock();
      for (auto& t : workers_) t.detach();
      workers_.clear();
      return false;
    }
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    lock.lock();
  }
  lock.unlock();
  for (auto& t : workers_) t.join();
  workers_.clear();
  return true;
}

uint64_t DeliveryPool::AttemptMemory(const storage::SegmentDescriptor& d, const StreamConfig& cfg) {
  const uint64_t output = cfg.compression != Compression::kNone || cfg.conversion.on() ? d.bytes / 2 : 0;
  return d.bytes + uint64_t(d.record_count) * 40 + output;
}

uint64_t DeliveryPool::memory_in_flight() const {
  base::MutexLock lock(mu_);
  return memory_in_flight_;
}

size_t DeliveryPool::pending() const {
  base::MutexLock lock(mu_);
  return queue_.size() + in_flight_;
}

size_t DeliveryPool::pending(uint32_t stream_id) const {
  base::MutexLock lock(mu_);
  size_t n = 0;
  for (const auto& [token, f] : in_flight_segments_) n += f.d.stream_id == stream_id;
  for (const auto& [key, d] : queue_) n += d.stream_id == stream_id;
  return n;
}

std::unordered_map<uint32_t, DeliveryPool::Backlog> DeliveryPool::Backlogs() const {
  std::unordered_map<uint32_t, Backlog> out;
  auto add = [&out](const storage::SegmentDescriptor& d) {
    Backlog& b = out[d.stream_id];
    b.segments++;
    b.records += d.record_count;
    b.bytes += d.bytes;
    b.retrying += d.attempts > 0;
    if (b.oldest_arrival_ms == 0 || d.oldest_arrival_ms < b.oldest_arrival_ms) b.oldest_arrival_ms = d.oldest_arrival_ms;
  };
  base::MutexLock lock(mu_);
  for (const auto& [token, f] : in_flight_segments_) add(f.d);
  for (const auto& [key, d] : queue_) add(d);
  return out;
}

std::shared_ptr<const DeliveryStats> DeliveryPool::stats(uint32_t stream_id) const {
  base::MutexLock lock(mu_);
  auto it = runtimes_.find(stream_id);
  return it == runtimes_.end() ? nullptr : it->second->stats;
}

std::vector<storage::SegmentDescriptor> DeliveryPool::PendingSegments(uint32_t stream_id) const {
  base::MutexLock lock(mu_);
  std::vector<storage::SegmentDescriptor> out;
  for (const auto& [token, f] : in_flight_segments_)
    if (f.d.stream_id == stream_id) out.push_back(f.d);
  for (const auto& [key, d] : queue_)
    if (d.stream_id == stream_id) out.push_back(d);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.oldest_arrival_ms < b.oldest_arrival_ms; });
  return out;
}

void DeliveryPool::AttemptBuffers::Clear() {
  raw.clear();
  spans.clear();
  arrivals.clear();
  records.clear();
}

uint64_t DeliveryPool::AttemptBuffers::capacity() const {
  return raw.capacity() + spans.capacity() * sizeof(spans[0]) + arrivals.capacity() * sizeof(arrivals[0]) +
         records.capacity() * sizeof(records[0]);
}

bool DeliveryPool::PickLocked(int64_t now, storage::SegmentDescriptor* out, int64_t* wait_ms, uint64_t* token,
                              std::unique_ptr<AttemptBuffers>* buffers) {
  // A stream never holds every worker: one that hangs must leave a worker for the others,
  // including streams whose next segment has not arrived yet.
  const uint32_t per_stream_limit = threads_ > 1 ? threads_ - 1 : 1;
  auto chosen = queue_.end();
  uint64_t memory = 0;
  *wait_ms = kMaxWaitMs;
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    int64_t due = it->first.first;
    if (due > now) {
      *wait_ms = std::min(*wait_ms, due - now);
      break;  // ordered by due time: nothing later is due either
    }
    Runtime* rt = runtimes_.at(it->second.stream_id).get();
    if (rt->info->paused && !rt->info->force_delete) continue;  // PAUSE: stays queued
    if (rt->paused_until_ms > now) {
      *wait_ms = std::min(*wait_ms, rt->paused_until_ms - now);
      continue;
    }
    if (rt->failing > 0 && rt->probe_after_ms > now) {
      *wait_ms = std::min(*wait_ms, rt->probe_after_ms - now);
      continue;
    }
    if (rt->in_flight < (rt->failing > 0 ? 1u : per_stream_limit)) {
      // The memory budget: the oldest eligible segment waits until it fits (nothing overtakes
      // it, so a large segment is not starved by small ones); one attempt always runs.
      // The attempt takes the parked buffers: it holds their capacity or its estimate, whichever
      // is larger, and the parked bytes are no longer counted apart.
      memory = std::max(AttemptMemory(it->second, *rt->info->cfg), spare_bytes_);
      if (in_flight_ > 0 && memory_in_flight_ - spare_bytes_ + memory > memory_budget_) {
        memory_waiting_ = true;
        break;
      }
      chosen = it;
      break;
    }
  }
  if (chosen == queue_.end()) return false;
  *out = std::move(chosen->second);
  queue_.erase(chosen);
  *token = order_++;
  memory_in_flight_ = memory_in_flight_ - spare_bytes_ + memory;
  *buffers = std::move(spare_);
  spare_bytes_ = 0;
  in_flight_segments_.emplace(*token, InFlight{*out, memory});
  runtimes_.at(out->stream_id)->in_flight++;
  in_flight_++;
  return true;
}

void DeliveryPool::WorkerLoop() {
  base::UniqueMutexLock lock(mu_);
  while (!stopping_) {
    storage::SegmentDescriptor d;
    int64_t wait_ms = kMaxWaitMs;
    uint64_t token = 0;
    const int64_t now = clock_->NowUnixMillis();
    if (now >= next_partition_seal_ms_) {  // one worker at a time seals due partitions
      next_partition_seal_ms_ = now + kMaxWaitMs;
      lock.unlock();
      SealPartitions(now, 0, false);
      lock.lock();
      continue;
    }
    if (fenced_) {
      cv_.wait_for(lock, std::chrono::milliseconds(kMaxWaitMs));
      continue;
    }
    std::unique_ptr<AttemptBuffers> buf;
    if (!PickLocked(now, &d, &wait_ms, &token, &buf)) {
      if (spare_ && now - spare_since_ms_ >= kSpareKeepMs) {
        std::unique_ptr<AttemptBuffers> drop = TakeSpareLocked();
        lock.unlock();
        drop.reset();  // without the lock: unmapping a segment's buffers takes milliseconds
        lock.lock();
        continue;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(std::clamp<int64_t>(wait_ms, 1, kMaxWaitMs)));
      continue;
    }
    Runtime* rt = runtimes_.at(d.stream_id).get();
    Job job{rt, rt->info, rt->destination, rt->backup, rt->lambda, rt->jq, rt->partitions, rt->stats.get()};
    lock.unlock();
    if (!buf) buf = std::make_unique<AttemptBuffers>();
    Attempt(job, std::move(d), *buf);
    job = Job{};  // release the stream version before taking the lock
    buf->Clear();
    const uint64_t kept = buf->capacity();
    lock.lock();
    rt->in_flight--;
    in_flight_--;
    auto done = in_flight_segments_.find(token);
    memory_in_flight_ -= done->second.memory;
    in_flight_segments_.erase(done);
    if (!spare_ && !stopping_ && memory_in_flight_ + kept <= memory_budget_) {
      spare_ = std::move(buf);
      spare_bytes_ = kept;
      spare_since_ms_ = clock_->NowUnixMillis();
      memory_in_flight_ += kept;
    }
    if (memory_waiting_) {  // a segment waits for memory: every idle worker may pick again
      memory_waiting_ = false;
      cv_.notify_all();
    }
    if (buf) {  // not parked: freed without the lock (unmapping a segment's buffers takes ms)
      lock.unlock();
      buf.reset();
      lock.lock();
    }
  }
  std::unique_ptr<AttemptBuffers> drop = TakeSpareLocked();
  lock.unlock();
  drop.reset();
  lock.lock();
}

std::unique_ptr<DeliveryPool::AttemptBuffers> DeliveryPool::TakeSpareLocked() {
  memory_in_flight_ -= spare_bytes_;
  spare_bytes_ = 0;
  if (memory_waiting_) {
    memory_waiting_ = false;
    cv_.notify_all();
  }
  return std::move(spare_);
}

void DeliveryPool::Fence() {
  {
    base::MutexLock lock(mu_);
    fenced_ = true;
  }
  cv_.notify_all();
}

bool DeliveryPool::fenced() const {
  base::MutexLock lock(mu_);
  return fenced_;
}

void DeliveryPool::Requeue(storage::SegmentDescriptor d) {
  base::Status st = store_->UpdateSegment(d);
  if (!st.ok()) SLUICE_LOG_WARN("delivery", "segment %s: cannot persist attempt state: %s", d.Id().c_str(), st.ToString().c_str());
  {
    base::MutexLock lock(mu_);
    EnqueueLocked(std::move(d));
  }
  cv_.notify_one();
}

bool DeliveryPool::Backup(const Job& job, const storage::SegmentDescriptor& d,
                          const std::vector<std::string_view>& records, std::string_view type,
                          std::string_view code, std::string_view message) {
  BackupReason why{type, code, message, clock_->NowUnixMillis()};
  base::Status st = job.backup->Write(job.info->name, d, records, why);
  Runtime* rt = job.rt;
  if (st.ok()) {
    job.stats->backup_segments.fetch_add(1, std::memory_order_relaxed);
    job.stats->backup_records.fetch_add(records.size(), std::memory_order_relaxed);
    base::MutexLock lock(mu_);
    rt->backup_failures = 0;
    return true;
  }
  job.stats->backup_failures.fetch_add(1, std::memory_order_relaxed);
  job.stats->SetError(clock_->NowUnixMillis(), "backup store: " + st.ToString());
  SLUICE_LOG_ERROR_CTX("delivery", ({job.info->name, d.Id(), job.destination->kind()}),
                       "stream %s: backup of segment %s failed, pausing the stream: %s", job.info->name.c_str(),
                       d.Id().c_str(), st.ToString().c_str());
  base::MutexLock lock(mu_);
  rt->backup_failures++;
  rt->paused_until_ms = clock_->NowUnixMillis() + BackoffMs(rt->backup_failures, BackoffUnit());
  return false;
}

void DeliveryPool::Attempt(const Job& job, storage::SegmentDescriptor d, AttemptBuffers& buf) {
  const StreamConfig& cfg = *job.info->cfg;
  const std::string& name = job.info->name;
  DeliveryStats& stats = *job.stats;
  const std::string id = d.Id();
  // One copy of the segment: the records back to back, with the newline after each when the
  // stream appends one, so the buffer is also the uncompressed object body; `records` are views
  // into it (without the newlines). Reserved up front: growing by doubling would hold twice the
  // segment for a moment.
  std::string& raw = buf.raw;
  std::vector<std::pair<size_t, size_t>>& spans = buf.spans;
  const bool staged = !d.is_partition() && cfg.processing.staged();
  const bool delimit = cfg.append_delimiter && !staged && !cfg.conversion.on();
  std::vector<int64_t>& arrivals = buf.arrivals;
  spans.reserve(d.record_count);
  arrivals.reserve(d.record_count);
  raw.reserve(d.bytes + (delimit ? d.record_count : 0));
  base::Status read = store_->ReadSegment(d, [&](const storage::RecordKey&, const storage::ChunkView& c) {
    c.ForEach([&](std::string_view r) {
      spans.emplace_back(raw.size(), r.size());
      arrivals.push_back(c.arrival_unix_ms());  // processors, and the error records of rejected records
      raw.append(r);
      if (delimit) raw.push_back('\n');
    });
    return base::Status::Ok();
  });
  if (!read.ok()) {
    SLUICE_LOG_ERROR_CTX("delivery", ({name, id, job.destination->kind()}),
                         "stream %s: segment %s cannot be read, quarantined for 1 h: %s", name.c_str(), id.c_str(),
                         read.ToString().c_str());
    d.last_error = "unreadable: " + read.ToString();
    d.next_attempt_ms = clock_->NowUnixMillis() + kQuarantineRetryMs;
    Requeue(std::move(d));
    return;
  }
  std::vector<std::string_view>& records = buf.records;
  records.reserve(spans.size());
  for (auto [off, len] : spans) records.emplace_back(raw.data() + off, len);

  const int64_t retry_ms = int64_t(cfg.retry_duration_s) * 1000;
  int64_t now = clock_->NowUnixMillis();
  bool budget_spent = d.first_failure_ms != 0 && now - d.first_failure_ms >= retry_ms;
  DeliveryResult result = DeliveryResult::Fail("retry budget spent");
  if (job.info->force_delete) {
    // STREAM DELETE FORCE: what was not delivered yet goes to the backup store, never dropped.
    GiveUp(job, std::move(d), records, "stream-deleted", "DeliveryStreamDeleted",
           "the delivery stream was deleted with FORCE before this segment was delivered");
    return;
  }
  if (staged) {
    Process(job, std::move(d), records, arrivals);
    return;
  }
  if (!budget_spent) {
    const bool needs_body = job.destination->needs_body();
    const bool convert = needs_body && cfg.conversion.on();
    ConvertedObject conv;
    base::Result<std::string> compressed{std::string()};
    if (convert) {
      // Record format conversion: the records that do not convert go to the error output first
      // (a later attempt writes them again under the same names), then the Parquet object.
      conv = ConvertRecords(cfg.conversion, records);
      if (!conv.failures.empty()) {
        std::vector<RecordFailure> failures;
        failures.reserve(conv.failures.size());
        for (const ConvertedObject::Failure& f : conv.failures)
          failures.push_back({records[f.index], arrivals[f.index], "DataFormatConversion.MalformedData", f.message, f.index});
        base::Status st = job.backup->WriteRecordFailures(name, d, kFormatConversionFailed, failures, d.attempts + 1,
                                                          "", clock_->NowUnixMillis());
        if (!st.ok()) {
          stats.backup_failures.fetch_add(1, std::memory_order_relaxed);
          stats.SetError(now, "backup store: " + st.ToString());
          d.next_attempt_ms = now + BackoffMs(1, BackoffUnit());
          Requeue(std::move(d));
          return;
        }
      }
      compressed = std::move(conv.body);
    } else if (needs_body && cfg.compression != Compression::kNone) {
      compressed = Compress(cfg.compression, raw);
    }
    // The object: the Parquet file, the compressed body, or the records buffer itself.
    std::string_view body;
    if (needs_body && (convert || cfg.compression != Compression::kNone)) {
      if (compressed.ok()) body = compressed.value();
    } else if (needs_body) {
      body = raw;
    }
    if (!compressed.ok()) {
      result = DeliveryResult::Retry(compressed.status().ToString());
    } else if (convert && conv.rows == 0) {
      result = DeliveryResult::Ok();  // no record converted: nothing to deliver
    } else {
      const std::string& configured_ext = cfg.file_extension();
      std::string_view ext = !configured_ext.empty() ? std::string_view(configured_ext)
                             : convert              ? std::string_view(".parquet")
                                                    : CompressionExtension(cfg.compression);
      DeliveryObject obj{name, d.stream_version, id, d.oldest_arrival_ms, d.record_count,
                         body, records, arrivals, ext, convert ? "" : ContentEncoding(cfg.compression),
                         d.is_partition(), d.partition};
      stats.attempts.fetch_add(1, std::memory_order_relaxed);
      const int64_t began_ns = base::Clock::Real()->NowMonoNanos();
      result = job.destination->Deliver(obj);
      stats.delivery_duration.ObserveMicros((base::Clock::Real()->NowMonoNanos() - began_ns) / 1000);
    }
    now = clock_->NowUnixMillis();
    if (result.outcome == Outcome::kOk && !result.rejected.empty()) {
      // Records the destination refused for themselves: error records and a segment file of just
      // them in the backup store (for REPLAY after a fix), before the segment leaves storage.
      // Should that write fail, the segment stays and the next attempt reports the same records
      // (a destination that delivers exactly once remembers them; the others deliver again).
      std::vector<RecordFailure> failures;
      failures.reserve(result.rejected.size());
      for (const RejectedRecord& r : result.rejected)
        if (r.index < records.size()) failures.push_back({records[r.index], arrivals[r.index], r.code, r.message});
      base::Status st = job.backup->WriteRecordFailures(name, d, job.destination->error_output_type(), failures,
                                                        d.attempts + 1, "", now);
      if (!st.ok()) {
        job.stats->backup_failures.fetch_add(1, std::memory_order_relaxed);
        stats.SetError(now, "backup store: " + st.ToString());
        d.next_attempt_ms = now + BackoffMs(1, BackoffUnit());
        Requeue(std::move(d));
        return;
      }
      stats.rejected_records.fetch_add(failures.size(), std::memory_order_relaxed);
      stats.backup_records.fetch_add(failures.size(), std::memory_order_relaxed);
      stats.SetError(now, failures.front().code + ": " + failures.front().message);
      SLUICE_LOG_WARN_CTX("delivery", ({name, id, job.destination->kind()}),
                          "stream %s: segment %s: %zu of %u records refused by the destination, in the backup store "
                          "(first: %s: %s)",
                          name.c_str(), id.c_str(), failures.size(), d.record_count, failures.front().code.c_str(),
                          failures.front().message.c_str());
    }
    if (result.outcome == Outcome::kOk) {
      // Source-record backup: a partition segment holds processed records, its source was backed up.
      if (cfg.backup.mode == "all" && !d.is_partition() &&
          !Backup(job, d, records, "source-records", "", "")) {
        d.next_attempt_ms = now + BackoffMs(1, BackoffUnit());  // delivered, but "all" needs the copy too
        Requeue(std::move(d));
        return;
      }
      SLUICE_FAULT_POINT("deliver.before_delete");
      base::Status del = store_->DeleteSegment(d);
      if (!del.ok())  // delivered; a later attempt redelivers to the same name (idempotent)
        SLUICE_LOG_ERROR("delivery", "segment %s delivered but not deleted: %s", id.c_str(), del.ToString().c_str());
      if (d.is_partition()) job.partitions->Done(d);
      const uint64_t not_delivered = result.rejected.size() + conv.failures.size();
      stats.records.fetch_add(d.record_count - std::min<uint64_t>(d.record_count, not_delivered), std::memory_order_relaxed);
      if (convert) {
        uint64_t failed_bytes = 0;
        for (const ConvertedObject::Failure& f : conv.failures) failed_bytes += records[f.index].size();
        stats.converted_records.fetch_add(records.size() - conv.failures.size(), std::memory_order_relaxed);
        stats.converted_bytes.fetch_add(conv.converted_bytes, std::memory_order_relaxed);
        stats.conversion_failed_records.fetch_add(conv.failures.size(), std::memory_order_relaxed);
        stats.conversion_failed_bytes.fetch_add(failed_bytes, std::memory_order_relaxed);
        stats.backup_records.fetch_add(conv.failures.size(), std::memory_order_relaxed);
        if (!conv.failures.empty()) {
          stats.SetError(now, "DataFormatConversion.MalformedData: " + conv.failures.front().message);
          SLUICE_LOG_WARN_CTX("delivery", ({name, id, job.destination->kind()}),
                              "stream %s: segment %s: %zu of %u records did not convert, in the error output as %s "
                              "(first: %s)",
                              name.c_str(), id.c_str(), conv.failures.size(), d.record_count,
                              std::string(kFormatConversionFailed).c_str(), conv.failures.front().message.c_str());
        }
      }
      stats.bytes.fetch_add(d.bytes, std::memory_order_relaxed);
      stats.segments.fetch_add(1, std::memory_order_relaxed);
      stats.delivered_age.ObserveMicros((now - d.oldest_arrival_ms) * 1000);
      {
        base::MutexLock lock(mu_);
        job.rt->failing = 0;
      }
      cv_.notify_all();  // the stream's other segments may go again, all at once
      return;
    }
    stats.failed_attempts.fetch_add(1, std::memory_order_relaxed);
    stats.SetError(now, result.message);
    {
      // Only a destination that asks for a retry (down, timing out, 5xx) slows the stream to
      // one probe at a time; a permanent answer (413, a bad record) means it is up and answering.
      base::MutexLock lock(mu_);
      if (result.outcome == Outcome::kRetry) {
        job.rt->failing++;
        job.rt->probe_after_ms = now + BackoffMs(job.rt->failing, BackoffUnit());
      } else {
        job.rt->failing = 0;
      }
    }
    d.attempts++;
    d.last_error = result.message;
    if (d.first_failure_ms == 0) d.first_failure_ms = now;
    if (result.outcome == Outcome::kRetry && now - d.first_failure_ms < retry_ms) {
      d.next_attempt_ms = now + BackoffMs(d.attempts, BackoffUnit());
      stats.retries.fetch_add(1, std::memory_order_relaxed);
      SLUICE_LOG_WARN_CTX("delivery", ({name, id, job.destination->kind()}),
                          "stream %s: segment %s attempt %u failed, retrying in %lld ms: %s", name.c_str(), id.c_str(),
                          d.attempts, static_cast<long long>(d.next_attempt_ms - now), result.message.c_str());
      Requeue(std::move(d));
      return;
    }
  }
  // Permanent failure or budget spent: the backup store takes it, or the stream waits.
  std::string code = std::string(job.destination->kind()) +
                     (result.outcome == Outcome::kFail && !budget_spent ? ".PermanentFailure" : ".RetriesExhausted");
  std::string message = d.last_error.empty() ? result.message : d.last_error;
  GiveUp(job, std::move(d), records, job.destination->error_output_type(), code, message);
}

void DeliveryPool::GiveUp(const Job& job, storage::SegmentDescriptor d, const std::vector<std::string_view>& records,
                          std::string_view type, std::string_view code, const std::string& message) {
  const std::string id = d.Id();
  if (Backup(job, d, records, type, code, message)) {
    SLUICE_LOG_WARN_CTX("delivery", ({job.info->name, id, job.destination->kind()}),
                        "stream %s: segment %s (%u records) moved to the backup store after %u attempts: %s",
                        job.info->name.c_str(), id.c_str(), d.record_count, d.attempts, message.c_str());
    SLUICE_FAULT_POINT("backup.before_delete");
    base::Status del = store_->DeleteSegment(d);
    if (!del.ok()) SLUICE_LOG_ERROR("delivery", "segment %s backed up but not deleted: %s", id.c_str(), del.ToString().c_str());
    if (d.is_partition()) job.partitions->Done(d);
    return;
  }
  {
    base::MutexLock lock(mu_);
    d.next_attempt_ms = job.rt->paused_until_ms;  // the backup store failed: the stream waits
  }
  Requeue(std::move(d));
}

}  // namespace sluice::server
