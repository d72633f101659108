// Shard: one thread running one libuv loop that owns its connections and their commits.
//
// Design: connections are handed to a shard by the listener (Post) and stay there. Within one
// loop iteration the shard reads every readable connection, verifies each frame, and appends
// every accepted record to one storage::WriteBatch (the put path, put_handler.h). In the check
// phase, right after the I/O poll, it writes that batch once, with sync=true under the default
// durability, and only then encodes and sends the acks it staged: this is group commit in the
// manner of Redis's `appendfsync always` (the loop blocks on the fsync; while it does, more
// requests collect in the kernel's socket buffers and join the next batch). Shards commit
// concurrently and RocksDB merges their writes into shared fsyncs.
// Memory stays bounded: a connection is not read while its unsent output exceeds
// connection_output_budget, and the shard stops reading for the rest of an iteration once its
// batch exceeds shard_commit_budget.
// Thread: everything here runs on the shard's own thread except Post() and the constructor /
// Start() / Join() (main).
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/histogram.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_owner.h"
#include "protocol/messages.h"
#include "server/client_memory.h"
#include "server/config.h"
#include "server/put_handler.h"
#include "server/segmenter.h"
#include "server/shard_connection.h"
#include "server/tls.h"
#include "server/stream_registry.h"
#include "storage/store.h"

namespace sluice::server {

class ShardConnection;
class DeliveryPool;
namespace admin {
class StreamControl;
}
namespace monitor {
class Monitor;
}

// The shards' one door into main's thread: the Firehose API's control-plane operations run there,
// where the StreamManager lives, and their answers come back through Shard::Post.
class MainDoor {
 public:
  virtual ~MainDoor() = default;
  // Runs `fn` on main's loop; false (fn dropped) once the server is shutting down. Thread-safe.
  virtual bool PostToMain(std::function<void()> fn) = 0;
  // Main's thread only (inside a posted fn).
  virtual admin::StreamControl& stream_control() = 0;
  virtual monitor::Monitor& monitor() = 0;
  // The answer to DescribeCluster: this node's id, whether it is in a cluster, and the live
  // members (a single node: just itself). Thread-safe (reads the cluster agent's view).
  virtual void DescribeCluster(std::string* node, bool* cluster, std::vector<proto::MemberInfo>* members) = 0;
};

// Counters of one shard; written by the shard thread, read by anyone (relaxed atomics).
struct ShardStats {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> put_requests{0};
  std::atomic<uint64_t> records_stored{0};
  std::atomic<uint64_t> bytes_stored{0};
  std::atomic<uint64_t> records_failed{0};
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> commit_failures{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> budget_pauses{0};
  std::atomic<uint64_t> segments_sealed{0};
  std::atomic<uint64_t> seal_failures{0};
  std::atomic<uint64_t> timeouts{0};  // connections closed by read_timeout_s / write_timeout_s
  std::atomic<uint64_t> auth_failures{0};  // Firehose API requests refused for their signature
  std::atomic<bool> commit_failing{false};  // the last commit failed (GET /ready says not ready)
  // From a put request's records being staged to its ack being handed to the socket (both ports).
  base::Histogram put_ack_latency{base::kLatencyBuckets};
  // Records per group commit (the batch size the fsync is amortised over).
  base::Histogram commit_records{base::kBatchBuckets};
};

class Shard {
 public:
  // Created and destroyed by main. `store`, `streams`, `cfg` and `pool` must outlive the shard.
  // Sealed segments are written to storage, then handed to `pool` (may be null in tests).
  // `memory` (shared by every shard; may be null: the shard then has its own) bounds what
  // put connections hold.
  Shard(uint16_t id, const ServerConfig& cfg, storage::Store* store, const StreamRegistry* streams,
        DeliveryPool* pool, ClientMemory* memory = nullptr);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Loads this shard's next sequence number and starts the thread. Main only.
  base::Status Start();
  // Asks the shard to stop: no more reads; in-flight commits finish, their acks are flushed
  // (bounded by a timeout), connections close, the loop ends. Thread-safe.
  void RequestStop();
  // Waits for the thread to end. Main only, after RequestStop.
  void Join();

  // Runs fn on the shard's thread. The only thread-safe entry into a shard: an MPSC queue plus
  // one uv_async_t (libuv coalesces wake-ups, so the callback drains the whole queue).
  // Returns false (fn not run) once the shard has stopped.
  bool Post(std::function<void()> fn);

  // Seals the open segment of `stream_id` (0: of every stream) now and hands it to the delivery
  // pool (FLUSH). Thread-safe.
  void RequestFlush(uint32_t stream_id = 0);

  // Adopts an accepted socket speaking `protocol`. Thread-safe (posts to the shard). Closes fd
  // if the shard stopped.
  void AdoptConnection(int fd, PortProtocol protocol = PortProtocol::kSluice);

  uint16_t id() const { return id_; }
  const ShardStats& stats() const { return stats_; }
  // The registry generation this shard has taken up: puts are checked against it, and the open
  // segments of streams it changed are sealed and submitted. Thread-safe.
  uint64_t seen_generation() const { return seen_generation_.load(std::memory_order_acquire); }

  // Main's door for control-plane requests (may be null: they are then refused). Main, before Start.
  void set_main_door(MainDoor* door) { main_door_ = door; }
  // TLS for the put port and the Firehose API port (null: plain). Main, before Start.
  void set_tls(const TlsContextHolder* holder, bool put, bool http) {
    tls_ = holder;
    tls_put_ = put;
    tls_http_ = http;
  }
  MainDoor* main_door() const { return main_door_; }
  // Hands a control-plane answer to connection `conn_id` (if it is still open). Shard thread.
  void CompleteControl(uint64_t conn_id, uint64_t token, std::string response);

  // --- Shard-thread API used by its connections ---
  const ServerConfig& cfg() const { return cfg_; }
  PutHandler& puts() { return puts_; }
  // The stream set this shard has taken up (puts are checked against it).
  const StreamView& stream_view() const { return streams_; }
  ShardStats& mutable_stats() { return stats_; }
  uv_loop_t* loop() { return &loop_; }
  proto::PutResponseEncoder& response_encoder() { return response_encoder_; }
  // Marks `conn` as having staged responses to send after the next commit.
  void MarkDirty(ShardConnection* conn);
  // True when this iteration's batch is over shard_commit_budget: stop reading until commit.
  bool OverCommitBudget() const;
  // Remembers a connection whose reading was stopped for the commit budget.
  void PauseForBudget(ShardConnection* conn);
  // Remembers a connection held back because client memory is over budget; the seal tick
  // resumes it once the budget has room.
  void PauseForMemory(ShardConnection* conn);
  ClientMemory& client_memory() { return *memory_; }
  const ClientMemory& client_memory_view() const { return *memory_; }
  void OnConnectionClosed(ShardConnection* conn);
  bool stopping() const { return stopping_; }

 private:
  static void OnAsync(uv_async_t* handle) noexcept;
  static void OnCheck(uv_check_t* handle) noexcept;
  static void OnStopTimer(uv_timer_t* handle) noexcept;
  static void OnSealTimer(uv_timer_t* handle) noexcept;
  // Seals what the buffering hints say is due (everything when `all`), writes the descriptors
  // and hands them to the delivery pool. Descriptors that fail to write are retried next tick.
  void SealAndSubmit(bool all, uint32_t only_stream = 0, const StreamSet* changed_since = nullptr);
  // Takes up a newer stream set, if any (between commits, so no staged chunk points into the old).
  void RefreshStreams();
  static void OnIdle(uv_idle_t* handle) noexcept {}
  void Run() noexcept;
  void DrainPosted();
  // Writes the staged batch, then sends (or fails) every staged response. The group commit.
  void Commit();
  void OpStop();
  void MaybeFinishStop();

  const uint16_t id_;
  const ServerConfig& cfg_;
  storage::Store* store_;
  StreamView streams_;  // the shard thread's hold on the registry (refreshed in Commit)
  std::atomic<uint64_t> seen_generation_;
  base::ThreadOwner owner_;
  uv_loop_t loop_;
  uv_async_t async_;
  uv_check_t check_;
  uv_idle_t idle_;  // active while work is staged outside the read phase: keeps poll from blocking
  uv_timer_t stop_timer_;
  uv_timer_t seal_timer_;  // ~100 ms tick for interval-based sealing
  std::thread thread_;
  ShardStats stats_;

  base::Mutex post_mu_;
  std::vector<std::function<void()>> posted_ SLUICE_GUARDED_BY(post_mu_);
  bool accepting_posts_ SLUICE_GUARDED_BY(post_mu_) = true;

  MainDoor* main_door_ = nullptr;
  const TlsContextHolder* tls_ = nullptr;
  bool tls_put_ = false;
  bool tls_http_ = false;
  struct ControlAnswer {
    uint64_t conn_id;
    uint64_t token;
    std::string response;
  };
  std::vector<ControlAnswer> control_answers_;  // from main, handed over in Commit
  PutHandler puts_;
  Segmenter segmenter_;
  DeliveryPool* pool_;
  std::vector<storage::SegmentDescriptor> unwritten_seals_;  // sealed, descriptor write failed
  proto::PutResponseEncoder response_encoder_;
  std::unordered_set<ShardConnection*> connections_;
  std::vector<ShardConnection*> dirty_;
  std::vector<ShardConnection*> budget_paused_;
  std::vector<ShardConnection*> memory_paused_;
  std::unique_ptr<ClientMemory> own_memory_;  // when none was given
  ClientMemory* memory_;
  uint32_t ticks_ = 0;
  bool stopping_ = false;
  bool handles_closed_ = false;
};

}  // namespace sluice::server
