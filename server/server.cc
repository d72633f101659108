// Server: startup, the signal-driven main loop, and the ordered shutdown.
#include "server/server.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "base/clock.h"
#include "base/constant_time.h"
#include "base/log.h"

namespace sluice::server {

Server::Server(ServerConfig cfg) : cfg_(std::move(cfg)) {
  SLUICE_CHECK(uv_loop_init(&loop_) == 0);
}

Server::~Server() {
  // Shutdown() has run when Run() returned; on a failed Start, stop what did start.
  for (auto& s : shards_) s->RequestStop();
  for (auto& s : shards_) s->Join();
  shards_.clear();
  pool_.reset();
  if (listener_) listener_->Close();
  if (admin_) admin_->Close();
  uv_run(&loop_, UV_RUN_NOWAIT);  // let close callbacks run
  uv_loop_close(&loop_);
}

base::Status Server::Start() {
  auto lock = storage::DataDirLock::Acquire(cfg_.data_dir);
  if (!lock.ok()) return lock.status();
  lock_.emplace(std::move(lock).value());

  storage::StoreOptions so;
  so.path = cfg_.data_dir + "/db";
  auto store = storage::Store::Open(so);
  if (!store.ok()) return store.status();
  store_ = std::move(store).value();
  RETURN_IF_ERROR(RegisterStreams());
  RETURN_IF_ERROR(SealUnsealedTails());
  pool_ = std::make_unique<DeliveryPool>(store_.get(), &streams_, base::Clock::Real(), cfg_.delivery_threads);
  RETURN_IF_ERROR(pool_->Init([this](const StreamInfo& s) {
    return MakeDestination(s, cfg_.enable_fault_injection, base::Clock::Real());
  }));
  RETURN_IF_ERROR(pool_->Start());

  uint32_t n = cfg_.shards ? cfg_.shards : std::max(1u, std::thread::hardware_concurrency());
  for (uint32_t i = 0; i < n; i++)
    shards_.push_back(
        std::make_unique<Shard>(static_cast<uint16_t>(i), cfg_, store_.get(), &streams_, pool_.get()));
  for (auto& s : shards_) RETURN_IF_ERROR(s->Start());

  listener_ = std::make_unique<Listener>(&loop_, [this](int fd) {
    shards_[next_shard_++ % shards_.size()]->AdoptConnection(fd);
  });
  RETURN_IF_ERROR(listener_->Listen(cfg_.bind, cfg_.port));
  admin_ = std::make_unique<admin::AdminServer>(&loop_, this);
  RETURN_IF_ERROR(admin_->Listen(cfg_.admin_bind, cfg_.admin_port));
  RETURN_IF_ERROR(WritePortFile(cfg_.admin_port_file, admin_->port()));
  RETURN_IF_ERROR(WritePortFile(cfg_.port_file, port()));

  if (cfg_.durability.mode == DurabilityMode::kInterval) syncer_ = std::thread([this] { SyncLoop(); });

  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sigint_);
  uv_signal_init(&loop_, &sigusr1_);
  sigterm_.data = sigint_.data = sigusr1_.data = this;
  uv_signal_start(&sigterm_, OnSignal, SIGTERM);
  uv_signal_start(&sigint_, OnSignal, SIGINT);
  uv_signal_start(&sigusr1_, OnFlushSignal, SIGUSR1);

  start_ms_ = base::Clock::Real()->NowUnixMillis();
  SLUICE_LOG_INFO("server", "sluiced listening on %s:%u, admin on %s:%u (shards=%u, durability=%s, streams=%zu, data_dir=%s)",
                  cfg_.bind.c_str(), port(), cfg_.admin_bind.c_str(), admin_->port(), n,
                  ToString(cfg_.durability).c_str(), streams_.size(), cfg_.data_dir.c_str());
  return base::Status::Ok();
}

base::Status Server::RegisterStreams() {
  int64_t now = base::Clock::Real()->NowUnixMillis();
  for (const StreamConfig& s : cfg_.streams) {
    auto entry = store_->RegisterStream(s.name, s.toml, now);
    if (!entry.ok()) return entry.status().WithContext("register stream " + s.name);
    StreamInfo info{s.name, entry->id, entry->version, &s};
    info.created_ms = entry->created_unix_ms;
    info.updated_ms = entry->updated_unix_ms;
    streams_.Add(std::move(info));
  }
  return base::Status::Ok();
}

base::Status Server::SealUnsealedTails() {
  auto tails = store_->FindUnsealedTails();
  if (!tails.ok()) return tails.status().WithContext("recover open segments");
  if (tails->empty()) return base::Status::Ok();
  int64_t now = base::Clock::Real()->NowUnixMillis();
  storage::WriteBatch batch(store_.get());
  uint64_t records = 0;
  for (storage::SegmentDescriptor& d : tails.value()) {
    const StreamInfo* s = streams_.FindById(d.stream_id);
    d.stream_version = s ? s->version : 0;
    d.sealed_ms = now;
    records += d.record_count;
    batch.PutSegment(d);
  }
  RETURN_IF_ERROR(store_->Write(&batch, true).WithContext("seal recovered segments"));
  SLUICE_LOG_INFO("server", "sealed %zu segments (%llu records) left open by the previous run",
                  tails->size(), static_cast<unsigned long long>(records));
  return base::Status::Ok();
}

base::Status Server::WritePortFile(const std::string& path, uint16_t port) {
  if (path.empty()) return base::Status::Ok();
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) return base::IOError("cannot write port file " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return base::IOError("cannot rename port file to " + path);
  return base::Status::Ok();
}

bool Server::CheckPassword(std::string_view given) const {
  return !cfg_.admin_password.empty() && base::ConstantTimeEquals(given, cfg_.admin_password);
}

void Server::Flush(const StreamInfo* stream) {
  for (auto& s : shards_) s->RequestFlush(stream ? stream->id : 0);
}

void Server::SyncLoop() {
  std::unique_lock<std::mutex> lock(sync_mu_);
  while (!sync_stop_) {
    sync_cv_.wait_for(lock, std::chrono::milliseconds(cfg_.durability.interval_ms));
    if (sync_stop_) break;
    lock.unlock();
    base::Status st = store_->SyncWal();
    if (!st.ok()) SLUICE_LOG_ERROR("server", "periodic WAL sync failed: %s", st.ToString().c_str());
    lock.lock();
  }
}

base::Status Server::Run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  return Shutdown();
}

void Server::OnSignal(uv_signal_t* handle, int signum) noexcept {
  static_cast<Server*>(handle->data)->BeginShutdown(signum);
}

void Server::OnFlushSignal(uv_signal_t* handle, int) noexcept {
  auto* self = static_cast<Server*>(handle->data);
  SLUICE_LOG_INFO("server", "SIGUSR1: flushing every stream");
  for (auto& s : self->shards_) s->RequestFlush();
}

void Server::BeginShutdown(int signum) {
  if (shutting_down_) return;
  shutting_down_ = true;
  SLUICE_LOG_INFO("server", "%s; shutting down",
                  signum == SIGTERM ? "received SIGTERM" : signum == SIGINT ? "received SIGINT" : "SHUTDOWN command");
  // Step 1: stop accepting and let main's loop end (its only handles are these).
  listener_->Close();
  if (admin_) admin_->Close();
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigusr1_), nullptr);
}

// Shutdown sequence (after main's loop returned):
//   1. the listener is closed (BeginShutdown): no new connections;
//   2. every shard commits what it has read, flushes those acks (bounded by a timeout), closes
//      its connections and ends its loop; main joins the threads;
//   3. the delivery pool lets in-flight attempts finish and stops (queued segments stay stored);
//   4. the WAL syncer stops, and a last SyncWal covers durability modes interval and none;
//   5. the store closes (handles, Close, delete: store.h), then the data dir lock is released.
base::Status Server::Shutdown() {
  for (auto& s : shards_) s->RequestStop();
  for (auto& s : shards_) s->Join();
  uint64_t stored = 0;
  for (auto& s : shards_) stored += s->stats().records_stored.load();
  if (pool_) pool_->Stop();
  // Objects are destroyed only after every thread that used them has been joined.
  shards_.clear();
  pool_.reset();
  if (syncer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(sync_mu_);
      sync_stop_ = true;
    }
    sync_cv_.notify_all();
    syncer_.join();
  }
  base::Status st = store_->SyncWal();
  store_.reset();
  lock_.reset();
  SLUICE_LOG_INFO("server", "stopped cleanly (%llu records stored this run)",
                  static_cast<unsigned long long>(stored));
  return st;
}

}  // namespace sluice::server
