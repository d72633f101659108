// DeliveryPool::Process: stage one of a staged stream (processors -> partitions).
//
//   records -> RecordDeAggregation -> Lambda invocations (<= 6 MiB each) -> MetadataExtraction
//   (jq) -> evaluated prefix -> Partitions::Commit (records appended, source deleted, one write)
// Records that fail go to the backup store's error output before the commit, grouped by type:
// processing-failed (de-aggregation, the function's ProcessingFailed, failed invocations once
// NumberOfRetries is spent), partitioning-failed (not JSON, jq error, missing key, unsafe prefix)
// and activePartitionExceeded. A failed invocation with retries left requeues the whole segment
// with the pool's backoff: its records are sent to the function again (at-least-once, as
// Firehose). Nothing leaves storage before every record is in a partition or the error output.
#include <chrono>

#include "base/mutex.h"
#include "base/fault_point.h"
#include "base/log.h"
#include "server/delivery/backoff.h"
#include "server/delivery/delivery_pool.h"
#include "server/delivery/object_key.h"
#include "server/processing/deaggregate.h"

namespace sluice::server {
namespace {

constexpr std::string_view kProcessingFailed = "processing-failed";
constexpr std::string_view kPartitioningFailed = "partitioning-failed";
constexpr std::string_view kPartitionExceeded = "activePartitionExceeded";
constexpr size_t kMaxRecordsPerInvocation = 10'000;

// One record on its way through the processors.
struct Item {
  std::string_view raw;    // the (sub-)record as put
  int64_t arrival_ms = 0;
  std::string_view data;   // current data: raw, or the function's output (in `owned`)
  std::string owned;
  PartitionKeys lambda_keys;
  PartitionKeys query_keys;
  std::string prefix;
  bool alive = true;
};

}  // namespace

void DeliveryPool::Process(const Job& job, storage::SegmentDescriptor d, const std::vector<std::string_view>& records,
                           const std::vector<int64_t>& arrivals) {
  const StreamConfig& cfg = *job.info->cfg;
  const ProcessingSpec& spec = cfg.processing;
  const std::string& name = job.info->name;
  DeliveryStats& stats = *job.stats;
  const std::string id = d.Id();
  std::map<std::string_view, std::vector<RecordFailure>> failures;  // by error output type
  auto fail = [&](std::string_view type, const Item& it, std::string code, std::string message) {
    failures[type].push_back(RecordFailure{it.raw, it.arrival_ms, std::move(code), std::move(message)});
  };

  // 1. De-aggregation.
  std::vector<Item> items;
  items.reserve(records.size());
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < records.size(); i++) {
    pieces.clear();
    base::Status st = DeAggregate(spec.deaggregation, spec.delimiter, records[i], &pieces);
    if (!st.ok()) {
      Item whole;
      whole.raw = records[i];
      whole.arrival_ms = arrivals[i];
      fail(kProcessingFailed, whole, "RecordDeAggregation.Failed", st.message());
      continue;
    }
    for (std::string_view p : pieces) {
      Item it;
      it.raw = p;
      it.data = p;
      it.arrival_ms = arrivals[i];
      items.push_back(std::move(it));
    }
  }

  // 2. The function, in invocations of at most 6 MiB each way.
  if (job.lambda) {
    std::vector<LambdaInput> inputs;
    std::vector<std::string> ids;
    std::vector<LambdaOutput> outputs;
    std::vector<std::pair<size_t, size_t>> batches;  // [begin, end) of items
    size_t begin = 0, bytes = 512;
    for (size_t i = 0; i < items.size(); i++) {
      size_t add = LambdaEventRecordBytes(items[i].data.size()) + id.size();
      if (i > begin && (bytes + add > kMaxLambdaPayloadBytes || i - begin >= kMaxRecordsPerInvocation)) {
        batches.emplace_back(begin, i);
        begin = i;
        bytes = 512;
      }
      bytes += add;
    }
    if (begin < items.size()) batches.emplace_back(begin, items.size());
    for (size_t b = 0; b < batches.size(); b++) {
      auto [lo, hi] = batches[b];
      inputs.clear();
      ids.clear();
      for (size_t i = lo; i < hi; i++) {
        inputs.push_back({items[i].data, items[i].arrival_ms});
        ids.push_back(id + "-" + std::to_string(i));
      }
      LambdaFailure failure;
      const auto t0 = std::chrono::steady_clock::now();
      std::string invocation = id + "-" + std::to_string(b) + "-" + std::to_string(d.attempts);
      bool ok = job.lambda->Invoke(invocation, inputs, ids, &outputs, &failure);
      stats.invocations.fetch_add(1, std::memory_order_relaxed);
      const auto took = std::chrono::steady_clock::now() - t0;
      stats.invocation_ms.fetch_add(
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
      stats.processing_duration.ObserveMicros(std::chrono::duration_cast<std::chrono::microseconds>(took).count());
      if (!ok) {
        stats.SetError(clock_->NowUnixMillis(), "processing: " + failure.message);
        {
          // An unreachable function gets one probe at a time, like a failing destination; one
          // that answers (wrongly) is up, and its other segments go on.
          base::MutexLock lock(mu_);
          if (failure.unavailable) {
            job.rt->failing++;
            job.rt->probe_after_ms = clock_->NowUnixMillis() + BackoffMs(job.rt->failing, BackoffUnit());
          } else {
            job.rt->failing = 0;
          }
        }
        if (d.attempts < spec.lambda_retries) {
          // Retry the segment later; the pool's backoff spaces the attempts.
          const int64_t now = clock_->NowUnixMillis();
          d.attempts++;
          if (d.first_failure_ms == 0) d.first_failure_ms = now;
          d.last_error = failure.code + ": " + failure.message;
          d.next_attempt_ms = now + BackoffMs(d.attempts, BackoffUnit());
          stats.failed_attempts.fetch_add(1, std::memory_order_relaxed);
          SLUICE_LOG_WARN("processing", "stream %s: segment %s: invocation %zu of %zu failed (attempt %u of %u), retrying in %lld ms: %s",
                          name.c_str(), id.c_str(), b + 1, batches.size(), d.attempts, spec.lambda_retries + 1,
                          static_cast<long long>(d.next_attempt_ms - now), d.last_error.c_str());
          Requeue(std::move(d));
          return;
        }
        SLUICE_LOG_WARN("processing", "stream %s: segment %s: invocation failed after %u attempts, %zu records to %s: %s: %s",
                        name.c_str(), id.c_str(), d.attempts + 1, hi - lo, std::string(kProcessingFailed).c_str(),
                        failure.code.c_str(), failure.message.c_str());
        for (size_t i = lo; i < hi; i++) {
          fail(kProcessingFailed, items[i], failure.code, failure.message);
          items[i].alive = false;
        }
        continue;
      }
      stats.invocations_ok.fetch_add(1, std::memory_order_relaxed);
      {
        base::MutexLock lock(mu_);
        job.rt->failing = 0;
      }
      for (size_t i = lo; i < hi; i++) {
        LambdaOutput& o = outputs[i - lo];
        Item& it = items[i];
        if (o.result == LambdaOutput::Result::kDropped) {
          stats.dropped_records.fetch_add(1, std::memory_order_relaxed);
          it.alive = false;
        } else if (o.result == LambdaOutput::Result::kProcessingFailed) {
          fail(kProcessingFailed, it, "Lambda.ProcessingFailed", "the function returned result ProcessingFailed");
          it.alive = false;
        } else {
          it.owned = std::move(o.data);
          it.data = it.owned;
          it.lambda_keys = std::move(o.keys);
        }
      }
    }
  }

  // 3. Metadata extraction and 4. the evaluated prefix.
  const bool partitioned = cfg.partitioned();
  const std::string tmpl = partitioned ? EffectivePartitionPrefix(cfg.prefix()) : EffectivePrefix(cfg.prefix());
  for (Item& it : items) {
    if (!it.alive) continue;
    if (job.jq) {
      const auto t0 = std::chrono::steady_clock::now();
      auto keys = job.jq->Extract(it.data);
      stats.jq_us.fetch_add(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count()));
      stats.jq_records.fetch_add(1, std::memory_order_relaxed);
      if (!keys.ok()) {
        fail(kPartitioningFailed, it, "DynamicPartitioning.MetadataExtractionFailed", keys.status().message());
        it.alive = false;
        continue;
      }
      it.query_keys = std::move(keys).value();
    }
    PrefixContext ctx{it.arrival_ms, id, "", &it.query_keys, &it.lambda_keys};
    if (partitioned) {
      auto prefix = EvaluatePartitionPrefix(tmpl, ctx);
      if (!prefix.ok()) {
        fail(kPartitioningFailed, it,
             prefix.status().message().find("is missing") != std::string::npos ? "DynamicPartitioning.MissingPartitionKey"
                                                                               : "DynamicPartitioning.InvalidPrefix",
             prefix.status().message());
        it.alive = false;
        continue;
      }
      it.prefix = std::move(prefix).value();
    } else {
      it.prefix = EvaluatePrefix(tmpl, ctx);
    }
  }

  // 5. Hand-over: errors first, then the partitions and the source's delete in one write.
  std::vector<Partitions::Record> out;
  std::vector<size_t> out_items;
  for (size_t i = 0; i < items.size(); i++) {
    if (!items[i].alive) continue;
    out.push_back({items[i].prefix, items[i].data, items[i].arrival_ms});
    out_items.push_back(i);
  }
  const uint32_t attempts_made = d.attempts + 1;
  const std::string lambda_arn = job.lambda ? job.lambda->url() : "";
  std::vector<size_t> refused;  // indexes into `out` beyond the active-partition limit
  auto before_write = [&](const std::vector<size_t>& exceeded) -> base::Status {
    auto all = failures;  // a copy: a failed write must leave `failures` as it was for the retry
    for (size_t e : exceeded)
      all[kPartitionExceeded].push_back(RecordFailure{items[out_items[e]].raw, items[out_items[e]].arrival_ms,
                                                      "DynamicPartitioning.ActivePartitionExceeded",
                                                      "more than " + std::to_string(cfg.active_partition_limit) +
                                                          " partitions are active; this record's prefix '" +
                                                          std::string(out[e].prefix.substr(0, 256)) + "' would be another"});
    refused = exceeded;
    const int64_t now = clock_->NowUnixMillis();
    for (const auto& [type, list] : all)
      RETURN_IF_ERROR(job.backup->WriteRecordFailures(name, d, type, list, attempts_made,
                                                      type == kProcessingFailed ? lambda_arn : "", now));
    if (cfg.backup.mode == "all") {  // S3BackupMode Enabled: the untransformed source records
      BackupReason why{"source-records", "", "", now};
      RETURN_IF_ERROR(job.backup->Write(name, d, records, why));
    }
    SLUICE_FAULT_POINT("process.before_commit");
    return base::Status::Ok();
  };
  std::vector<storage::SegmentDescriptor> sealed;
  base::Status st = job.partitions->Commit(d, out, d.stream_version, cfg.active_partition_limit,
                                           uint64_t(cfg.buffering.size_mib) << 20, clock_->NowUnixMillis(),
                                           before_write, &sealed);
  if (!st.ok()) {
    // The error output or storage failed: nothing changed; the stream waits and tries again.
    stats.backup_failures.fetch_add(1, std::memory_order_relaxed);
    int64_t now = clock_->NowUnixMillis();
    {
      base::MutexLock lock(mu_);
      job.rt->backup_failures++;
      job.rt->paused_until_ms = now + BackoffMs(job.rt->backup_failures, BackoffUnit());
      d.next_attempt_ms = job.rt->paused_until_ms;
    }
    SLUICE_LOG_ERROR("processing", "stream %s: segment %s: cannot hand over the processed records, retrying: %s",
                     name.c_str(), id.c_str(), st.ToString().c_str());
    Requeue(std::move(d));
    return;
  }
  {
    base::MutexLock lock(mu_);
    job.rt->backup_failures = 0;
  }
  const size_t exceeded_count = refused.size();
  uint64_t ok_bytes = 0;
  for (const auto& r : out) ok_bytes += r.data.size();
  for (size_t e : refused) ok_bytes -= out[e].data.size();
  stats.processed_records.fetch_add(out.size() - exceeded_count, std::memory_order_relaxed);
  stats.processed_bytes.fetch_add(ok_bytes, std::memory_order_relaxed);
  stats.partition_exceeded.store(exceeded_count ? 1 : 0, std::memory_order_relaxed);
  stats.partition_exceeded_records.fetch_add(exceeded_count, std::memory_order_relaxed);
  size_t failed_processing = failures.count(kProcessingFailed) ? failures[kProcessingFailed].size() : 0;
  size_t failed_partitioning = failures.count(kPartitioningFailed) ? failures[kPartitioningFailed].size() : 0;
  stats.processing_failed_records.fetch_add(failed_processing, std::memory_order_relaxed);
  stats.partitioning_failed_records.fetch_add(failed_partitioning, std::memory_order_relaxed);
  if (failed_processing + failed_partitioning + exceeded_count > 0)
    SLUICE_LOG_WARN("processing", "stream %s: segment %s: %zu records to the error output (%zu processing-failed, %zu partitioning-failed, %zu activePartitionExceeded)",
                    name.c_str(), id.c_str(), failed_processing + failed_partitioning + exceeded_count,
                    failed_processing, failed_partitioning, exceeded_count);
  SubmitAll(std::move(sealed));
  cv_.notify_all();  // a stream gated by a failing function may go again
}

}  // namespace sluice::server
