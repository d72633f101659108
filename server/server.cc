// Server: startup, the signal-driven main loop, and the ordered shutdown.
#include "server/server.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "sluice/replay.h"

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
  so.min_free_bytes = cfg_.min_free_bytes / 4;
  auto store = storage::Store::Open(so);
  if (!store.ok()) return store.status();
  store_ = std::move(store).value();
  RETURN_IF_ERROR(RegisterStreams());
  RETURN_IF_ERROR(SealUnsealedTails());
  pool_ = std::make_unique<DeliveryPool>(store_.get(), base::Clock::Real(), cfg_.delivery_threads);
  RETURN_IF_ERROR(pool_->Init(*streams_.Current(), [this](const StreamInfo& s) {
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

  uv_timer_init(&loop_, &reaper_);
  reaper_.data = this;
  uv_timer_start(&reaper_, OnReaperTimer, 100, 100);
  uv_unref(reinterpret_cast<uv_handle_t*>(&reaper_));  // never what keeps the loop alive
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
                  ToString(cfg_.durability).c_str(), streams_.Current()->size(), cfg_.data_dir.c_str());
  return base::Status::Ok();
}

namespace {
StreamInfo InfoFromEntry(const storage::StreamEntry& e, std::shared_ptr<const StreamConfig> cfg) {
  StreamInfo info;
  info.name = e.name;
  info.id = e.id;
  info.version = e.version;
  info.cfg = std::move(cfg);
  info.created_ms = e.created_unix_ms;
  info.updated_ms = e.updated_unix_ms;
  ApplyFlags(e.flags, &info);
  return info;
}
storage::StreamEntry EntryFromInfo(const StreamInfo& s) {
  storage::StreamEntry e;
  e.name = s.name;
  e.id = s.id;
  e.version = s.version;
  e.created_unix_ms = s.created_ms;
  e.updated_unix_ms = s.updated_ms;
  e.flags = FlagsOf(s);
  e.config = s.cfg->toml;
  return e;
}
}  // namespace

// The config file's streams are registered (or updated) from the file; streams created with
// STREAM CREATE come back from the catalog. A catalog stream whose stored settings no longer
// validate is left out loudly: its records stay stored until it is fixed (STREAM CREATE with
// the same name adopts them again).
base::Status Server::RegisterStreams() {
  int64_t now = base::Clock::Real()->NowUnixMillis();
  std::set<std::string> declared;
  for (const StreamConfig& s : cfg_.streams) {
    auto entry = store_->RegisterStream(s.name, s.toml, now);
    if (!entry.ok()) return entry.status().WithContext("register stream " + s.name);
    if (!(entry->flags & kStreamFromConfig)) {
      if (entry->version > 1 || entry->flags)
        SLUICE_LOG_INFO("server", "stream %s is declared in the config file again; its settings come from there",
                        s.name.c_str());
      entry->flags = (entry->flags | kStreamFromConfig) & ~(kStreamDeleting | kStreamForceDelete);
      RETURN_IF_ERROR(store_->PutStreamEntry(entry.value()).WithContext("register stream " + s.name));
    }
    streams_.Put(InfoFromEntry(entry.value(), std::make_shared<const StreamConfig>(s)));
    declared.insert(s.name);
  }
  auto all = store_->ListStreams();
  if (!all.ok()) return all.status().WithContext("read catalog");
  for (const storage::StreamEntry& e : all.value()) {
    if (declared.count(e.name) || (e.flags & kStreamFromConfig)) continue;  // config-file streams
    auto parsed = ParseStreamConfig(e.config, "catalog stream " + e.name, cfg_);
    if (!parsed.ok()) {
      SLUICE_LOG_ERROR("server", "stream %s (created at run time) is not loaded, its records stay stored: %s",
                       e.name.c_str(), parsed.status().ToString().c_str());
      continue;
    }
    streams_.Put(InfoFromEntry(e, std::make_shared<const StreamConfig>(std::move(parsed).value())));
  }
  return base::Status::Ok();
}

base::Result<StreamPtr> Server::PersistAndPublish(StreamInfo info) {
  RETURN_IF_ERROR(store_->PutStreamEntry(EntryFromInfo(info)).WithContext("write catalog"));
  uint32_t id = info.id;
  streams_.Put(std::move(info));
  StreamPtr published = streams_.Current()->Get(id);
  pool_->UpsertStream(published);
  return published;
}

base::Result<StreamPtr> Server::CreateStream(const std::string& name, const Settings& settings) {
  if (!IsValidStreamName(name))
    return base::InvalidArgument("stream name '" + name.substr(0, 80) + "' must be 1..64 characters of [a-zA-Z0-9_.-]");
  if (const StreamInfo* existing = streams_.Current()->Find(name))
    return base::Status(base::Code::kAlreadyExists,
                        "stream '" + name + "' exists" + (existing->accepts_puts() ? "" : " and is being deleted"));
  ASSIGN_OR_RETURN(std::string text, ApplyStreamSettings("", name, settings));
  ASSIGN_OR_RETURN(StreamConfig parsed, ParseStreamConfig(text, "STREAM CREATE", cfg_));
  int64_t now = base::Clock::Real()->NowUnixMillis();
  auto entry = store_->CreateStream(name, parsed.toml, 0, now);
  if (!entry.ok() && entry.status().code() == base::Code::kAlreadyExists) {
    // In the catalog but not loaded (a config-file stream removed from the file, or a stream
    // whose stored settings stopped validating): adopt it, with its id and stored records.
    entry = store_->RegisterStream(name, parsed.toml, now);
    if (entry.ok()) entry->flags = 0;
    SLUICE_LOG_INFO("server", "STREAM CREATE %s adopts the stream of that name left in the catalog", name.c_str());
  }
  if (!entry.ok()) return entry.status();
  StreamInfo info = InfoFromEntry(entry.value(), std::make_shared<const StreamConfig>(std::move(parsed)));
  SLUICE_LOG_INFO("server", "stream %s created (id %u)", name.c_str(), info.id);
  return PersistAndPublish(std::move(info));
}

base::Result<StreamPtr> Server::UpdateStream(const std::string& name, uint32_t expected_version,
                                             const Settings& settings) {
  StreamSetPtr set = streams_.Current();
  const StreamInfo* s = set->Find(name);
  if (s == nullptr) return base::NotFound("no delivery stream named '" + name.substr(0, 128) + "'");
  if (!s->accepts_puts()) return base::InvalidArgument("stream '" + name + "' is being deleted");
  if (expected_version != 0 && expected_version != s->version)
    return base::InvalidArgument("VERSION " + std::to_string(expected_version) +
                                 " is not the stream's current version " + std::to_string(s->version) +
                                 " (it changed since you read it: STREAM DESCRIBE, then retry)");
  ASSIGN_OR_RETURN(std::string text, ApplyStreamSettings(s->cfg->toml, name, settings));
  ASSIGN_OR_RETURN(StreamConfig parsed, ParseStreamConfig(text, "STREAM UPDATE", cfg_));
  StreamInfo info = *s;
  if (parsed.toml == s->cfg->toml) return set->Get(s->id);  // nothing changed: same version
  info.version++;
  info.updated_ms = base::Clock::Real()->NowUnixMillis();
  info.cfg = std::make_shared<const StreamConfig>(std::move(parsed));
  SLUICE_LOG_INFO("server", "stream %s updated to version %u%s", name.c_str(), info.version,
                  info.from_config ? " (declared in the config file: the file's settings return at restart)" : "");
  return PersistAndPublish(std::move(info));
}

base::Status Server::DeleteStream(const std::string& name, bool force) {
  StreamSetPtr set = streams_.Current();
  const StreamInfo* s = set->Find(name);
  if (s == nullptr) return base::NotFound("no delivery stream named '" + name.substr(0, 128) + "'");
  if (s->from_config)
    return base::InvalidArgument("stream '" + name + "' is declared in the config file: remove it there and restart");
  if (!s->accepts_puts() && (s->force_delete || !force))
    return base::InvalidArgument("stream '" + name + "' is already being deleted");
  if (!force) {
    size_t segments = pool_->pending(s->id);
    bool open = false;
    for (const auto& slot : s->counters->open_oldest_ms) open |= slot.load(std::memory_order_relaxed) != 0;
    if (segments > 0 || open)
      return base::InvalidArgument("stream '" + name + "' has undelivered records (" + std::to_string(segments) +
                                   " sealed segments" + (open ? ", plus open ones" : "") +
                                   "): FLUSH it and wait for delivery, or STREAM DELETE " + name +
                                   " FORCE to move them to the backup store");
  }
  StreamInfo info = *s;
  info.status = StreamStatus::kDeleting;
  info.force_delete = force;
  info.updated_ms = base::Clock::Real()->NowUnixMillis();
  SLUICE_LOG_INFO("server", "stream %s: deleting%s", name.c_str(),
                  force ? " (FORCE: undelivered records go to the backup store)" : "");
  return PersistAndPublish(std::move(info)).status();
}

base::Status Server::SetPaused(const std::string& name, bool paused) {
  StreamSetPtr set = streams_.Current();
  const StreamInfo* s = set->Find(name);
  if (s == nullptr) return base::NotFound("no delivery stream named '" + name.substr(0, 128) + "'");
  if (s->paused == paused) return base::Status::Ok();
  StreamInfo info = *s;
  info.paused = paused;
  SLUICE_LOG_INFO("server", "stream %s: delivery %s", name.c_str(), paused ? "paused" : "resumed");
  return PersistAndPublish(std::move(info)).status();
}

void Server::OnReaperTimer(uv_timer_t* handle) noexcept { static_cast<Server*>(handle->data)->ReapDeletedStreams(); }

void Server::ReapDeletedStreams() {
  StreamSetPtr set = streams_.Current();
  uint64_t seen = UINT64_MAX;
  for (auto& sh : shards_) seen = std::min(seen, sh->seen_generation());
  set->ForEach([&](const StreamInfo& s) {
    if (s.accepts_puts()) return;
    // Every shard refuses its puts and has sealed its open segment: what remains is in the pool
    // or, if a descriptor write failed, still in storage; it goes only when both are empty.
    if (seen < set->generation() || pool_->pending(s.id) > 0) return;
    auto has = store_->HasRecords(s.id);
    if (!has.ok() || has.value()) return;
    if (!pool_->RemoveStream(s.id)) return;
    base::Status st = store_->DeleteStreamEntry(s.name);
    if (!st.ok()) {
      SLUICE_LOG_ERROR("server", "stream %s: cannot remove its catalog entry, retrying: %s", s.name.c_str(),
                       st.ToString().c_str());
      pool_->UpsertStream(set->Get(s.id));
      return;
    }
    streams_.Remove(s.id);
    SLUICE_LOG_INFO("server", "stream %s deleted", s.name.c_str());
  });
}

base::Result<size_t> Server::StartReplay(const std::string& target) {
  std::vector<std::string> paths;
  StreamSetPtr set = streams_.Current();
  if (const StreamInfo* s = set->Find(target)) {
    if (s->cfg->backup.store == "s3")
      return base::InvalidArgument("stream '" + target + "' backs up to the bucket " +
                                   (s->cfg->backup.bucket.empty() ? s->cfg->s3.bucket : s->cfg->backup.bucket) +
                                   "; REPLAY reads local files: download its .sseg files and REPLAY that directory");
    paths.push_back(s->cfg->backup.path);
  } else {
    paths.push_back(target);
  }
  std::error_code ec;
  if (paths[0] != target && !std::filesystem::exists(paths[0], ec)) return size_t{0};
  ASSIGN_OR_RETURN(std::vector<std::string> files, client::CollectSegmentFiles(paths));
  if (files.empty()) return size_t{0};
  client::ClientOptions put;
  put.host = cfg_.bind == "0.0.0.0" ? "127.0.0.1" : cfg_.bind == "::" ? "::1" : cfg_.bind;
  put.port = port();
  put.auth_token = cfg_.auth_token;
  put.client_name = "sluiced-replay";
  size_t n = files.size();
  RETURN_IF_ERROR(replay_.Start(std::move(files), target, std::move(put)));
  return n;
}

std::vector<std::pair<std::string, std::string>> Server::ConfigValues() const {
  return {
      {"data_dir", cfg_.data_dir},
      {"bind", cfg_.bind},
      {"port", std::to_string(port())},
      {"shards", std::to_string(shards_.size())},
      {"durability", ToString(cfg_.durability)},
      {"delivery_threads", std::to_string(cfg_.delivery_threads)},
      {"admin_bind", cfg_.admin_bind},
      {"admin_port", std::to_string(admin_port())},
      {"admin_password", cfg_.admin_password.empty() ? "" : "(set)"},
      {"auth_token", cfg_.auth_token.empty() ? "" : "(set)"},
      {"max_record_bytes", std::to_string(cfg_.limits.max_record_bytes)},
      {"max_batch_records", std::to_string(cfg_.limits.max_batch_records)},
      {"max_batch_bytes", std::to_string(cfg_.limits.max_batch_bytes)},
      {"connection_output_budget", std::to_string(cfg_.connection_output_budget)},
      {"shard_commit_budget", std::to_string(cfg_.shard_commit_budget)},
      {"min_free_mib", std::to_string(cfg_.min_free_bytes >> 20)},
      {"log_level", base::LogLevelName()},
  };
}

base::Status Server::SetConfig(const std::string& key, const std::string& value) {
  if (key == "log_level") {
    if (!base::SetLogLevelByName(value))
      return base::InvalidArgument("log_level must be one of debug, info, warn, error; got '" + value.substr(0, 64) + "'");
    return base::Status::Ok();
  }
  if (key == "admin_password") {
    // Connections already authenticated stay so (as Redis's requirepass).
    cfg_.admin_password = value;
    return base::Status::Ok();
  }
  for (const auto& [k, v] : ConfigValues())
    if (k == key)
      return base::InvalidArgument("'" + key + "' cannot change at run time (set it in the config file and "
                                   "restart); settable: log_level, admin_password");
  return base::InvalidArgument("unknown setting '" + key.substr(0, 64) + "' (CONFIG GET * lists them)");
}

base::Status Server::SealUnsealedTails() {
  auto tails = store_->FindUnsealedTails();
  if (!tails.ok()) return tails.status().WithContext("recover open segments");
  if (tails->empty()) return base::Status::Ok();
  int64_t now = base::Clock::Real()->NowUnixMillis();
  storage::WriteBatch batch(store_.get());
  uint64_t records = 0;
  for (storage::SegmentDescriptor& d : tails.value()) {
    const StreamInfo* s = streams_.Current()->FindById(d.stream_id);
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
  // A staged stream's open partitions too; the segments the shards seal now carry the flush
  // through processing to the partitions they land in.
  pool_->FlushPartitions(stream ? stream->id : 0);
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
  self->Flush(nullptr);
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
  uv_close(reinterpret_cast<uv_handle_t*>(&reaper_), nullptr);
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
  replay_.Join();  // its connection was closed with the shards'
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
