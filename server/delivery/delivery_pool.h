// DeliveryPool: the worker threads that move sealed segments to their destinations.
//
// Design: every sealed segment is in storage (segments CF) before the pool hears of it, and the
// pool's queue is rebuilt from storage at start, so a restart resumes exactly where the last run
// stopped, with the persisted attempt count and first-failure time. A worker takes the segment
// whose next attempt is due soonest, reads its records, applies the stream's processors
// (delimiter) and compression, and hands the object to the destination. Then, and only then:
//   kOk    -> (mode "all": also to the backup store) -> records and descriptor deleted in one write
//   kRetry -> attempt state persisted, retried after BackoffMs while within retry_duration_s
//   kFail or budget spent -> segment file + error record to the backup store -> deleted
// If the backup store fails too, the segment stays in storage and the stream pauses (backoff),
// so nothing is ever dropped. A stream never occupies more than threads-1 workers (with two or
// more threads), so one hanging destination cannot starve the other streams; while a stream's
// destination is failing it gets a single attempt at a time, spaced by its backoff.
// Streams change at run time (STREAM CREATE/UPDATE/DELETE, PAUSE): main calls UpsertStream and
// RemoveStream; an attempt in flight keeps the stream version, destination and backup store it
// started with (shared_ptr copies taken under mu_), so an update applies from the next attempt.
// Thread: Submit/Poke/Stop and the stream calls are thread-safe; everything else runs on the
// workers under mu_ or on a segment a worker owns exclusively while it is in flight.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "base/clock.h"
#include "base/histogram.h"
#include "base/status.h"
#include "server/delivery/backup_store.h"
#include "server/delivery/destination.h"
#include "server/delivery/partitions.h"
#include "server/processing/jq_extractor.h"
#include "server/processing/lambda.h"
#include "server/stream_registry.h"
#include "storage/store.h"

namespace sluice::server {

// Per-stream delivery counters (relaxed atomics; Firehose names in comments).
struct DeliveryStats {
  std::atomic<uint64_t> records{0};          // DeliveryTo<Kind>.Records
  std::atomic<uint64_t> bytes{0};            // DeliveryTo<Kind>.Bytes (before compression)
  std::atomic<uint64_t> segments{0};         // DeliveryTo<Kind>.Success numerator
  std::atomic<uint64_t> attempts{0};         // every attempt, ok or not
  std::atomic<uint64_t> failed_attempts{0};
  std::atomic<uint64_t> backup_segments{0};  // BackupTo<Store>.Success numerator
  std::atomic<uint64_t> backup_records{0};   // BackupTo<Store>.Records
  std::atomic<uint64_t> backup_failures{0};
  // Processors (staged streams).
  std::atomic<uint64_t> invocations{0};             // ExecuteProcessing.Success denominator
  std::atomic<uint64_t> invocations_ok{0};          // ExecuteProcessing.Success numerator
  std::atomic<uint64_t> invocation_ms{0};           // ExecuteProcessing.Duration (sum)
  std::atomic<uint64_t> processed_records{0};       // SucceedProcessing.Records (Ok, to partitions)
  std::atomic<uint64_t> processed_bytes{0};         // SucceedProcessing.Bytes
  std::atomic<uint64_t> dropped_records{0};         // the function answered Dropped
  std::atomic<uint64_t> processing_failed_records{0};   // to processing-failed
  std::atomic<uint64_t> partitioning_failed_records{0}; // to partitioning-failed
  std::atomic<uint64_t> partition_exceeded_records{0};  // to activePartitionExceeded
  std::atomic<uint64_t> partition_exceeded{0};      // PartitionCountExceeded: 1 if the last commit refused records
  std::atomic<uint64_t> jq_records{0};              // records the jq query ran on
  std::atomic<uint64_t> jq_us{0};                   // JQProcessing.Duration (sum, microseconds)
  std::atomic<uint64_t> retries{0};                 // failed attempts that were scheduled again
  std::atomic<uint64_t> rejected_records{0};        // records the destination refused (to the backup store)
  // Record format conversion.
  std::atomic<uint64_t> converted_records{0};         // SucceedConversion.Records
  std::atomic<uint64_t> converted_bytes{0};           // SucceedConversion.Bytes
  std::atomic<uint64_t> conversion_failed_records{0}; // FailedConversion.Records (to format-conversion-failed)
  std::atomic<uint64_t> conversion_failed_bytes{0};   // FailedConversion.Bytes
  base::Histogram delivery_duration{base::kDurationBuckets};    // one Deliver call, any outcome
  base::Histogram delivered_age{base::kAgeBuckets};             // oldest record's age when delivered
  base::Histogram processing_duration{base::kDurationBuckets};  // one Lambda invocation

  // The last failed attempt (or backup failure) of the stream: when, and what it said.
  void SetError(int64_t unix_ms, std::string_view message) {
    base::MutexLock lock(error_mu_);
    last_error_ms_ = unix_ms;
    last_error_.assign(message.substr(0, 512));
  }
  std::pair<int64_t, std::string> LastError() const {
    base::MutexLock lock(error_mu_);
    return {last_error_ms_, last_error_};
  }

 private:
  mutable base::Mutex error_mu_;
  int64_t last_error_ms_ SLUICE_GUARDED_BY(error_mu_) = 0;
  std::string last_error_ SLUICE_GUARDED_BY(error_mu_);
};

// The destination a stream's config asks for (wrapped in a FaultDestination when the stream has
// a [stream.fault] section and fault injection is enabled).
std::unique_ptr<Destination> MakeDestination(const StreamInfo& stream, bool enable_fault_injection,
                                             base::Clock* clock);

class DeliveryPool {
 public:
  // `store` and `clock` must outlive the pool. Attempts in flight hold at most `memory_budget`
  // bytes together (AttemptMemory), except that one attempt always runs.
  DeliveryPool(storage::Store* store, base::Clock* clock, uint32_t threads,
               uint64_t memory_budget = uint64_t(256) << 20);
  ~DeliveryPool();

  // Builds a stream's destination. The default (MakeDestination) follows the stream's config;
  // tests pass their own.
  using DestinationFactory = std::function<std::unique_ptr<Destination>(const StreamInfo&)>;
  // Builds each stream's destination and backup store. Main, before Start.
  base::Status Init(const StreamSet& streams, DestinationFactory factory);
  // Adds a stream, or installs a new version of one (new destination when its config changed;
  // pause and force-delete state apply at the next pick). Thread-safe.
  void UpsertStream(StreamPtr stream);
  // Forgets a stream. Returns false (and keeps it) while it has queued or in-flight segments.
  // Thread-safe.
  bool RemoveStream(uint32_t stream_id);
  // Loads every sealed segment from storage and starts the workers. Main.
  base::Status Start();
  // Queues a segment that was just sealed and written. Thread-safe.
  void Submit(storage::SegmentDescriptor d);
  // Wakes the workers to re-check due times (after a FakeClock moved). Thread-safe.
  void Poke();
  // Seals the open partitions of a staged stream (every stream for 0) for delivery now (FLUSH).
  // Thread-safe.
  void FlushPartitions(uint32_t stream_id);
  // Lets in-flight attempts finish and joins the workers; queued segments stay in storage.
  // Waits at most `timeout_ms` for attempts in flight (logging which, every 5 s), then aborts
  // their transfers (AbortAllTransfers: they end as retryable failures, their segments stay
  // stored). Returns false when a worker still did not stop 5 s after that (blocked outside
  // libcurl): its thread is detached and the caller must end the process without destroying
  // the pool or the store.
  bool Stop(uint32_t timeout_ms = UINT32_MAX);

  // Segments queued or in flight (of one stream).
  size_t pending() const;
  // What an attempt of `d` is reckoned to hold: the records (read into one buffer), 40 bytes a
  // record (its view, offset and arrival time), and half the segment again when the stream
  // compresses or converts it (the output). Segments wait in the queue while attempts in flight
  // hold the budget, so delivery's memory is bounded by configuration, not by threads x the
  // largest segment.
  static uint64_t AttemptMemory(const storage::SegmentDescriptor& d, const StreamConfig& cfg);
  // The estimate summed over the attempts in flight, plus the buffers parked for the next one.
  uint64_t memory_in_flight() const;
  // Cluster fencing: this process lost the ownership of its data directory (another node may
  // deliver it now), so no new attempt starts, ever; attempts in flight end as they end (object
  // names are idempotent). Thread-safe.
  void Fence();
  bool fenced() const;
  size_t pending(uint32_t stream_id) const;
  // Copies of the stream's queued and in-flight segments (attempt state included), oldest first.
  std::vector<storage::SegmentDescriptor> PendingSegments(uint32_t stream_id) const;
  // nullptr for an unknown stream id.
  std::shared_ptr<const DeliveryStats> stats(uint32_t stream_id) const;
  // The stream's partition buffers: active partitions (PartitionCount) and the arrival of the
  // oldest record buffered in an open one (0: none). Zeros for an unknown stream.
  struct PartitionSummary {
    size_t active = 0;
    int64_t oldest_open_ms = 0;
  };
  PartitionSummary partitions(uint32_t stream_id) const;
  // Every stream's queued and in-flight segments in one pass under the lock (the monitor's
  // once-a-second view, without copying descriptors).
  struct Backlog {
    uint64_t segments = 0;
    uint64_t records = 0;
    uint64_t bytes = 0;
    uint64_t retrying = 0;         // segments with a failed attempt behind them
    int64_t oldest_arrival_ms = 0;  // 0: none
  };
  std::unordered_map<uint32_t, Backlog> Backlogs() const;

 private:
  struct Runtime {
    StreamPtr info;  // GUARDED_BY(DeliveryPool::mu_)
    std::shared_ptr<Destination> destination;  // GUARDED_BY(DeliveryPool::mu_)
    std::shared_ptr<BackupStore> backup;  // GUARDED_BY(DeliveryPool::mu_)
    std::shared_ptr<LambdaInvoker> lambda;  // GUARDED_BY(DeliveryPool::mu_): null without a Lambda processor
    std::shared_ptr<JqExtractor> jq;  // GUARDED_BY(DeliveryPool::mu_): null without MetadataExtraction
    std::shared_ptr<Partitions> partitions;    // set once; kept across stream versions
    std::shared_ptr<DeliveryStats> stats = std::make_shared<DeliveryStats>();
    uint32_t in_flight = 0;  // GUARDED_BY(DeliveryPool::mu_)
    int64_t paused_until_ms = 0;  // GUARDED_BY(DeliveryPool::mu_): set while its backup store fails
    uint32_t backup_failures = 0;  // GUARDED_BY(DeliveryPool::mu_): consecutive
    // Consecutive failed attempts of the stream (any segment) and, while it is failing, when the
    // next probe may go: a failing destination gets one attempt at a time at the backoff rate,
    // never one per queued segment (no retry storm when it recovers).
    uint32_t failing = 0;  // GUARDED_BY(DeliveryPool::mu_)
    int64_t probe_after_ms = 0;  // GUARDED_BY(DeliveryPool::mu_)
  };
  // What one attempt uses, copied under mu_ when the segment is picked.
  struct Job {
    Runtime* rt;  // stays valid: a stream with a segment in flight is never removed
    StreamPtr info;
    std::shared_ptr<Destination> destination;
    std::shared_ptr<BackupStore> backup;
    std::shared_ptr<LambdaInvoker> lambda;
    std::shared_ptr<JqExtractor> jq;
    std::shared_ptr<Partitions> partitions;
    DeliveryStats* stats;
  };
  using QueueKey = std::pair<int64_t, uint64_t>;  // (next attempt ms, submission order)

  // The buffers of one attempt: the segment's records back to back (with delimiters when the
  // stream appends them), each record's span and arrival time, and the views the destination
  // gets. A finished attempt parks its set for the next one (one set at a time, counted in the
  // memory budget, freed after kSpareKeepMs unused): a fresh set for each 64 MiB segment cost
  // the kernel's page faults, zeroing and unmapping, 46 % of a delivery worker's CPU (perf, 100 B
  // records at 1.05 M/s).
  struct AttemptBuffers {
    std::string raw;
    std::vector<std::pair<size_t, size_t>> spans;
    std::vector<int64_t> arrivals;
    std::vector<std::string_view> records;
    // Empties every buffer and keeps what it allocated.
    void Clear();
    uint64_t capacity() const;
  };

  void WorkerLoop();
  // Chooses the next due segment and hands the parked buffer set, if any, to `buffers`.
  // REQUIRES: mu_ held. Returns false with *wait_ms set otherwise.
  bool PickLocked(int64_t now, storage::SegmentDescriptor* out, int64_t* wait_ms, uint64_t* token,
                  std::unique_ptr<AttemptBuffers>* buffers) SLUICE_REQUIRES(mu_);
  void EnqueueLocked(storage::SegmentDescriptor d) SLUICE_REQUIRES(mu_);
  // Takes the parked buffer set (if any) out of the budget, for the caller to free unlocked.
  std::unique_ptr<AttemptBuffers> TakeSpareLocked() SLUICE_REQUIRES(mu_);
  // One delivery attempt of a segment this worker owns; re-queues it unless it left storage.
  void Attempt(const Job& job, storage::SegmentDescriptor d, AttemptBuffers& buf);
  // Returns true when the segment is safely in the backup store.
  bool Backup(const Job& job, const storage::SegmentDescriptor& d, const std::vector<std::string_view>& records,
              std::string_view type, std::string_view code, std::string_view message);
  void Requeue(storage::SegmentDescriptor d);
  // Stage one of a staged stream: runs the processors over a sealed segment and hands the output
  // to its partitions (process_segment.cc).
  void Process(const Job& job, storage::SegmentDescriptor d, const std::vector<std::string_view>& records,
               const std::vector<int64_t>& arrivals);
  // Seals due partitions of every stream (each worker loop, at most every 100 ms).
  void SealPartitions(int64_t now, uint32_t only_stream, bool all);
  // Queues segments that were just sealed by the pool itself.
  void SubmitAll(std::vector<storage::SegmentDescriptor> sealed);
  // The segment goes to the backup store and leaves storage; if the backup store fails, it is
  // requeued for when the stream's pause ends.
  void GiveUp(const Job& job, storage::SegmentDescriptor d, const std::vector<std::string_view>& records,
              std::string_view type, std::string_view code, const std::string& message);
  std::unique_ptr<Runtime> MakeRuntime(StreamPtr stream) const;

  storage::Store* store_;
  base::Clock* clock_;
  const uint32_t threads_;
  const uint64_t memory_budget_;
  DestinationFactory factory_;  // set by Init

  std::unordered_map<uint32_t, std::unique_ptr<Runtime>> runtimes_ SLUICE_GUARDED_BY(mu_);

  mutable base::Mutex mu_;
  base::CondVar cv_;
  std::multimap<QueueKey, storage::SegmentDescriptor> queue_ SLUICE_GUARDED_BY(mu_);
  uint64_t order_ SLUICE_GUARDED_BY(mu_) = 0;
  size_t in_flight_ SLUICE_GUARDED_BY(mu_) = 0;
  // AttemptMemory of the attempts in flight (at least the capacity of the buffers each took), plus
  // the parked buffer set's capacity.
  uint64_t memory_in_flight_ SLUICE_GUARDED_BY(mu_) = 0;
  std::unique_ptr<AttemptBuffers> spare_ SLUICE_GUARDED_BY(mu_);  // parked by the last attempt
  uint64_t spare_bytes_ SLUICE_GUARDED_BY(mu_) = 0;                // its capacity
  int64_t spare_since_ms_ SLUICE_GUARDED_BY(mu_) = 0;
  bool memory_waiting_ SLUICE_GUARDED_BY(mu_) = false;   // a due segment waits for memory
  uint32_t exited_workers_ SLUICE_GUARDED_BY(mu_) = 0;
  struct InFlight {
    storage::SegmentDescriptor d;
    uint64_t memory;
  };
  std::map<uint64_t, InFlight> in_flight_segments_ SLUICE_GUARDED_BY(mu_);  // by token
  bool stopping_ SLUICE_GUARDED_BY(mu_) = false;
  bool fenced_ SLUICE_GUARDED_BY(mu_) = false;
  int64_t next_partition_seal_ms_ SLUICE_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> workers_;
};

}  // namespace sluice::server
