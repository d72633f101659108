// Shard: thread and loop lifecycle, the Post door, the group commit, and orderly stop.
#include "server/shard.h"

#include <unistd.h>

#include <algorithm>

#include "base/fault_point.h"
#include "base/thread_entry.h"
#include "base/log.h"
#include "server/connection.h"
#include "server/http/http_connection.h"
#include "server/delivery/delivery_pool.h"

namespace sluice::server {
namespace {
// How long a stopping shard waits for clients to take their last acks.
constexpr uint64_t kStopDrainTimeoutMs = 5000;
constexpr uint64_t kSealTickMs = 100;
}  // namespace

Shard::Shard(uint16_t id, const ServerConfig& cfg, storage::Store* store,
             const StreamRegistry* streams, DeliveryPool* pool, ClientMemory* memory)
    : id_(id), cfg_(cfg), store_(store), streams_(streams), seen_generation_(streams_->generation()),
      puts_(id, cfg, store, &streams_), segmenter_(id, &streams_), pool_(pool),
      own_memory_(memory ? nullptr : std::make_unique<ClientMemory>(cfg.max_client_memory_bytes)),
      memory_(memory ? memory : own_memory_.get()) {
  // The loop and its handles are initialised here, on main, before the thread exists; from
  // Start() on they are touched only by the shard thread (and async_ through uv_async_send).
  SLUICE_CHECK(uv_loop_init(&loop_) == 0);
  SLUICE_CHECK(uv_async_init(&loop_, &async_, OnAsync) == 0);
  async_.data = this;
  SLUICE_CHECK(uv_check_init(&loop_, &check_) == 0);
  check_.data = this;
  SLUICE_CHECK(uv_idle_init(&loop_, &idle_) == 0);
  idle_.data = this;
  SLUICE_CHECK(uv_timer_init(&loop_, &stop_timer_) == 0);
  stop_timer_.data = this;
  SLUICE_CHECK(uv_timer_init(&loop_, &seal_timer_) == 0);
  seal_timer_.data = this;
  SLUICE_CHECK(uv_timer_start(&seal_timer_, OnSealTimer, kSealTickMs, kSealTickMs) == 0);
  SLUICE_CHECK(uv_check_start(&check_, OnCheck) == 0);
}

Shard::~Shard() {
  SLUICE_CHECK(!thread_.joinable());
  if (!handles_closed_) {
    // The thread never ran (startup failed after this shard was built): close the handles here.
    handles_closed_ = true;
    for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&async_), reinterpret_cast<uv_handle_t*>(&check_),
                           reinterpret_cast<uv_handle_t*>(&idle_), reinterpret_cast<uv_handle_t*>(&stop_timer_),
                           reinterpret_cast<uv_handle_t*>(&seal_timer_)})
      uv_close(h, nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  int rc = uv_loop_close(&loop_);
  if (rc != 0) SLUICE_LOG_ERROR("shard", "shard %u: loop close: %s", id_, uv_strerror(rc));
}

base::Status Shard::Start() {
  RETURN_IF_ERROR(puts_.Init());
  thread_ = std::thread([this]() noexcept { base::RunThreadEntry("shard", [this] { Run(); }); });
  return base::Status::Ok();
}

void Shard::Run() noexcept {
  owner_.Rebind();
  uv_run(&loop_, UV_RUN_DEFAULT);
  SLUICE_LOG_DEBUG("shard", "shard %u stopped", id_);
}

void Shard::Join() {
  if (thread_.joinable()) thread_.join();
}

bool Shard::Post(std::function<void()> fn) {
  // The send happens under the lock so it can never race with MaybeFinishStop closing async_.
  base::MutexLock lock(post_mu_);
  if (!accepting_posts_) return false;
  posted_.push_back(std::move(fn));
  uv_async_send(&async_);
  return true;
}

void Shard::OnAsync(uv_async_t* handle) noexcept {
  static_cast<Shard*>(handle->data)->DrainPosted();
}

void Shard::DrainPosted() {
  SLUICE_DCHECK_OWNER(owner_);
  std::vector<std::function<void()>> work;
  {
    base::MutexLock lock(post_mu_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

void Shard::AdoptConnection(int fd, PortProtocol protocol) {
  bool posted = Post([this, fd, protocol] {
    if (stopping_) {
      ::close(fd);
      return;
    }
    const uint64_t id = stats_.connections_accepted.fetch_add(1) + 1;
    ShardConnection* conn = nullptr;
    if (protocol == PortProtocol::kHttp) conn = new HttpConnection(this, id);
    else conn = new Connection(this, id);
    connections_.insert(conn);
    stats_.connections_open.fetch_add(1, std::memory_order_relaxed);
    // The context of this moment (SIGHUP may swap it; a session keeps the one it began with).
    std::shared_ptr<TlsContext> tls;
    if (tls_ != nullptr && (protocol == PortProtocol::kHttp ? tls_http_ : tls_put_)) tls = tls_->Get();
    base::Status st = conn->Open(fd, tls ? tls->ctx() : nullptr);
    if (!st.ok()) {
      SLUICE_LOG_WARN("shard", "shard %u: cannot adopt connection: %s", id_, st.ToString().c_str());
      if (!conn->handle_open()) {
        connections_.erase(conn);
        stats_.connections_open.fetch_sub(1, std::memory_order_relaxed);
        delete conn;
      }
    }
  });
  if (!posted) ::close(fd);
}

void Shard::CompleteControl(uint64_t conn_id, uint64_t token, std::string response) {
  SLUICE_DCHECK_OWNER(owner_);
  // Handed over in Commit, after the stream set was refreshed: a request after it may use the
  // stream it made, and what the connection stages then joins the next commit.
  control_answers_.push_back({conn_id, token, std::move(response)});
}

void Shard::RequestFlush(uint32_t stream_id) {
  Post([this, stream_id] {
    if (!stopping_) SealAndSubmit(true, stream_id);
  });
}

void Shard::MarkDirty(ShardConnection* conn) {
  if (conn->in_dirty_list) return;
  conn->in_dirty_list = true;
  dirty_.push_back(conn);
}

bool Shard::OverCommitBudget() const { return puts_.pending_bytes() >= cfg_.shard_commit_budget; }

void Shard::PauseForBudget(ShardConnection* conn) {
  stats_.budget_pauses.fetch_add(1, std::memory_order_relaxed);
  if (conn->in_budget_list) return;
  conn->in_budget_list = true;
  budget_paused_.push_back(conn);
}

void Shard::PauseForMemory(ShardConnection* conn) {
  if (conn->in_memory_list) return;
  conn->in_memory_list = true;
  memory_paused_.push_back(conn);
}

void Shard::OnConnectionClosed(ShardConnection* conn) {
  SLUICE_DCHECK_OWNER(owner_);
  connections_.erase(conn);
  stats_.connections_open.fetch_sub(1, std::memory_order_relaxed);
  if (conn->in_dirty_list) dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), conn), dirty_.end());
  if (conn->in_budget_list)
    budget_paused_.erase(std::remove(budget_paused_.begin(), budget_paused_.end(), conn), budget_paused_.end());
  if (conn->in_memory_list)
    memory_paused_.erase(std::remove(memory_paused_.begin(), memory_paused_.end(), conn), memory_paused_.end());
  if (stopping_) MaybeFinishStop();
}

void Shard::OnCheck(uv_check_t* handle) noexcept { static_cast<Shard*>(handle->data)->Commit(); }

void Shard::Commit() {
  SLUICE_DCHECK_OWNER(owner_);
  base::Status st;
  if (puts_.has_pending()) {
    st = puts_.Commit();
    stats_.commits.fetch_add(1, std::memory_order_relaxed);
    stats_.commit_failing.store(!st.ok(), std::memory_order_relaxed);
    if (!st.ok()) {
      stats_.commit_failures.fetch_add(1, std::memory_order_relaxed);
      SLUICE_LOG_ERROR("shard", "shard %u: commit failed, failing its puts: %s", id_,
                       st.ToString().c_str());
    }
    if (st.ok()) SLUICE_FAULT_POINT("commit.after_write");
    uint64_t records = 0;  // committed() is empty after a failed commit
    for (const AppendedChunk& c : puts_.committed()) {
      segmenter_.OnCommitted(c);
      StreamCounters& counters = *c.stream->counters;
      counters.incoming_records.fetch_add(c.records, std::memory_order_relaxed);
      counters.incoming_bytes.fetch_add(c.bytes, std::memory_order_relaxed);
      counters.incoming_put_requests.fetch_add(1, std::memory_order_relaxed);
      records += c.records;
    }
    if (st.ok()) stats_.commit_records.ObserveCount(records);
  }
  RefreshStreams();
  std::vector<ShardConnection*> dirty;
  dirty.swap(dirty_);
  for (ShardConnection* c : dirty) c->in_dirty_list = false;
  for (ShardConnection* c : dirty) c->Flush(st);
  if (segmenter_.AnyOverSize()) SealAndSubmit(false);
  std::vector<ShardConnection*> paused;
  paused.swap(budget_paused_);
  for (ShardConnection* c : paused) c->in_budget_list = false;
  for (ShardConnection* c : paused) c->ResumeAfterBudget();
  std::vector<ControlAnswer> answers;
  answers.swap(control_answers_);
  for (ControlAnswer& a : answers) {
    // Control-plane calls are rare (Firehose allows 5 a second): a scan beats an index kept for them.
    for (ShardConnection* c : connections_)
      if (c->id() == a.conn_id) {
        c->CompleteControl(a.token, std::move(a.response));
        break;
      }
  }
  // Work staged outside the read phase (by resumed connections) must not wait for new I/O.
  if (puts_.has_pending() || !dirty_.empty())
    uv_idle_start(&idle_, OnIdle);
  else
    uv_idle_stop(&idle_);
  if (stopping_) MaybeFinishStop();
}

void Shard::RequestStop() {
  base::MutexLock lock(post_mu_);
  if (!accepting_posts_) return;
  posted_.push_back([this] { OpStop(); });
  accepting_posts_ = false;  // OpStop is the last work this shard takes
  uv_async_send(&async_);
}

void Shard::OpStop() {
  SLUICE_DCHECK_OWNER(owner_);
  if (stopping_) return;
  stopping_ = true;
  // Commit what was read, send those acks, then close each connection once its output drained.
  Commit();
  SealAndSubmit(true);
  std::vector<ShardConnection*> conns(connections_.begin(), connections_.end());
  for (ShardConnection* c : conns) c->BeginDrainAndClose();
  uv_timer_start(&stop_timer_, OnStopTimer, kStopDrainTimeoutMs, 0);
  MaybeFinishStop();
}

void Shard::OnStopTimer(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Shard*>(handle->data);
  SLUICE_LOG_WARN("shard", "shard %u: %zu clients did not take their acks in time; closing",
                  self->id_, self->connections_.size());
  std::vector<ShardConnection*> conns(self->connections_.begin(), self->connections_.end());
  for (ShardConnection* c : conns) c->Close();
}

void Shard::MaybeFinishStop() {
  if (!stopping_ || handles_closed_ || !connections_.empty() || puts_.has_pending()) return;
  handles_closed_ = true;
  DrainPosted();  // run (and so close the fds of) anything posted before the door shut
  {
    base::MutexLock lock(post_mu_);
    accepting_posts_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&stop_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&seal_timer_), nullptr);
}

void Shard::OnSealTimer(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Shard*>(handle->data);
  if (self->stopping_) return;
  self->SealAndSubmit(false);
  // Connections held back for client memory take frames again once there is room.
  if (!self->memory_paused_.empty() && !self->memory_->Over()) {
    std::vector<ShardConnection*> paused;
    paused.swap(self->memory_paused_);
    for (ShardConnection* c : paused) c->in_memory_list = false;
    for (ShardConnection* c : paused) c->ResumeAfterBudget();
  }
  // Once a second: close connections stalled mid-frame or not reading their responses.
  if (++self->ticks_ % 10 == 0) {
    int64_t now = base::Clock::Real()->NowUnixMillis();
    std::vector<ShardConnection*> conns(self->connections_.begin(), self->connections_.end());
    for (ShardConnection* c : conns) c->CheckTimeouts(now);
  }
}

void Shard::RefreshStreams() {
  // Acks of the commit above are encoded from StagedPut, not from stream pointers, and the
  // committed chunks were consumed, so nothing refers into the old set past this point except
  // the segmenter's lookups, which SealAndSubmit finishes before `old` is released.
  StreamSetPtr old = streams_.Refresh();
  if (old == nullptr) return;
  SealAndSubmit(false, 0, old.get());
  seen_generation_.store(streams_->generation(), std::memory_order_release);
}

void Shard::SealAndSubmit(bool all, uint32_t only_stream, const StreamSet* changed_since) {
  SLUICE_DCHECK_OWNER(owner_);
  std::vector<storage::SegmentDescriptor> sealed;
  sealed.swap(unwritten_seals_);
  int64_t now = base::Clock::Real()->NowUnixMillis();
  if (changed_since) segmenter_.SealChanged(*changed_since, now, &sealed);
  segmenter_.SealDue(now, all, &sealed, only_stream);
  if (sealed.empty()) return;
  SLUICE_FAULT_POINT("seal.before_write");
  storage::WriteBatch batch(store_);
  for (const auto& d : sealed) batch.PutSegment(d);
  // Not synced: the records are already durable, and a lost descriptor is re-created at start
  // (Store::FindUnsealedTails). The next synced put makes it durable anyway (one WAL).
  base::Status st = store_->Write(&batch, false);
  if (!st.ok()) {
    stats_.seal_failures.fetch_add(1, std::memory_order_relaxed);
    SLUICE_LOG_ERROR("shard", "shard %u: cannot write %zu segment descriptors, retrying: %s", id_,
                     sealed.size(), st.ToString().c_str());
    unwritten_seals_ = std::move(sealed);
    return;
  }
  stats_.segments_sealed.fetch_add(sealed.size(), std::memory_order_relaxed);
  if (pool_ == nullptr) return;
  for (auto& d : sealed) pool_->Submit(std::move(d));
}

}  // namespace sluice::server
