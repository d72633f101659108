// Server: startup, the signal-driven main loop, and the ordered shutdown.
#include "server/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "client-lib/replay.h"

#include "base/clock.h"
#include "base/constant_time.h"
#include "base/log.h"
#include "protocol/messages.h"
#include "base/thread_entry.h"

namespace sluice::server {

Server::Server(ServerConfig cfg, ConfigSource reload)
    : cfg_(std::move(cfg)), reload_(std::move(reload)), client_memory_(cfg_.max_client_memory_bytes) {
  SLUICE_CHECK(uv_loop_init(&loop_) == 0);
}

Server::~Server() {
  // Shutdown() has run when Run() returned; on a failed Start, stop what did start.
  if (handles_ready_ && !shutting_down_) {
    shutting_down_ = true;
    for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&reaper_), reinterpret_cast<uv_handle_t*>(&sigterm_),
                           reinterpret_cast<uv_handle_t*>(&sigint_), reinterpret_cast<uv_handle_t*>(&sigusr1_),
                           reinterpret_cast<uv_handle_t*>(&sighup_)})
      if (h->type != UV_UNKNOWN_HANDLE && !uv_is_closing(h)) uv_close(h, nullptr);
  }
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
    shards_.push_back(std::make_unique<Shard>(static_cast<uint16_t>(i), cfg_, store_.get(), &streams_, pool_.get(),
                                              &client_memory_));
  for (auto& s : shards_) RETURN_IF_ERROR(s->Start());

  // Signals are handled before anything announces the server (the port files): a SIGTERM
  // from a supervisor that saw the port file always means a clean shutdown.
  RETURN_IF_ERROR(InstallSignals());
  listener_ = std::make_unique<Listener>(&loop_, [this](int fd) { AcceptPutConnection(fd); });
  RETURN_IF_ERROR(listener_->Listen(cfg_.bind, cfg_.port));
  admin_ = std::make_unique<admin::AdminServer>(&loop_, this);
  RETURN_IF_ERROR(admin_->Listen(cfg_.admin_bind, cfg_.admin_port));
  if (!IsLoopback(cfg_.bind) && cfg_.auth_token.empty())
    SLUICE_LOG_WARN("server", "WARNING: the put port listens on %s, which is not a loopback address, and has no "
                    "auth_token: anyone who can reach it can put records into every stream. Set auth_token "
                    "(--auth-token) or bind to 127.0.0.1", cfg_.bind.c_str());

  if (cfg_.durability.mode == DurabilityMode::kInterval) syncer_ = std::thread([this]() noexcept { base::RunThreadEntry("wal-syncer", [this] { SyncLoop(); }); });

  start_ms_ = base::Clock::Real()->NowUnixMillis();
  RETURN_IF_ERROR(WritePortFile(cfg_.admin_port_file, admin_->port()));
  RETURN_IF_ERROR(WritePortFile(cfg_.port_file, port()));
  SLUICE_LOG_INFO("server", "sluiced listening on %s:%u, admin on %s:%u (shards=%u, durability=%s, streams=%zu, data_dir=%s)",
                  cfg_.bind.c_str(), port(), cfg_.admin_bind.c_str(), admin_->port(), n,
                  ToString(cfg_.durability).c_str(), streams_.Current()->size(), cfg_.data_dir.c_str());
  return base::Status::Ok();
}

base::Status Server::InstallSignals() {
  auto check = [](int rc, const char* what) {
    return rc == 0 ? base::Status::Ok() : base::IOError(std::string(what) + ": " + uv_strerror(rc));
  };
  RETURN_IF_ERROR(check(uv_timer_init(&loop_, &reaper_), "reaper timer"));
  reaper_.data = this;
  handles_ready_ = true;
  RETURN_IF_ERROR(check(uv_timer_start(&reaper_, OnReaperTimer, 100, 100), "reaper timer"));
  uv_unref(reinterpret_cast<uv_handle_t*>(&reaper_));  // never what keeps the loop alive
  struct {
    uv_signal_t* handle;
    uv_signal_cb cb;
    int signum;
  } signals[] = {{&sigterm_, OnSignal, SIGTERM}, {&sigint_, OnSignal, SIGINT}, {&sigusr1_, OnFlushSignal, SIGUSR1},
                 {&sighup_, OnReloadSignal, SIGHUP}};
  for (auto& s : signals) {
    RETURN_IF_ERROR(check(uv_signal_init(&loop_, s.handle), "signal handler"));
    s.handle->data = this;
    RETURN_IF_ERROR(check(uv_signal_start(s.handle, s.cb, s.signum), "signal handler"));
  }
  return base::Status::Ok();
}

bool IsLoopback(const std::string& addr) { return addr == "::1" || addr.rfind("127.", 0) == 0 || addr == "localhost"; }

void Server::AcceptPutConnection(int fd) {
  uint64_t open = 0;
  for (auto& s : shards_) open += s->stats().connections_open.load(std::memory_order_relaxed);
  if (open >= cfg_.max_connections) {
    // Told why, without a read or a shard: one small frame the socket buffer always takes.
    std::string frame;
    proto::EncodeError(0, proto::WireError::kTooManyConnections,
                       "max_connections (" + std::to_string(cfg_.max_connections) + ") reached; retry later", true, &frame);
    ssize_t sent = ::send(fd, frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)sent;  // best effort: the close below is the answer either way
    ::close(fd);
    refused_connections_++;
    if (refused_connections_ == 1 || refused_connections_ % 1000 == 0)
      SLUICE_LOG_WARN("server", "put port: max_connections (%u) reached; %llu connections refused so far",
                      cfg_.max_connections, static_cast<unsigned long long>(refused_connections_));
    return;
  }
  shards_[next_shard_++ % shards_.size()]->AdoptConnection(fd);
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
    return base::InvalidArgument("stream name '" + name.substr(0, 80) + "' must be 1..64 characters of [a-zA-Z0-9_.-], not starting with '.'");
  if (const StreamInfo* existing = streams_.Current()->Find(name))
    return base::Status(base::Code::kAlreadyExists,
                        "stream '" + name + "' exists" + (existing->accepts_puts() ? "" : " and is being deleted"));
  ASSIGN_OR_RETURN(std::string text, ApplyStreamSettings("", name, settings));
  ASSIGN_OR_RETURN(StreamConfig parsed, ParseStreamConfig(text, "", cfg_));
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
  ASSIGN_OR_RETURN(StreamConfig parsed, ParseStreamConfig(text, "", cfg_));
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
    std::error_code ec;
    if (!std::filesystem::exists(s->cfg->backup.path, ec)) return size_t{0};
    paths.push_back(s->cfg->backup.path);
  } else {
    RETURN_IF_ERROR(CheckReplayPath(target));
    paths.push_back(target);
  }
  std::vector<std::string> skipped;
  ASSIGN_OR_RETURN(std::vector<std::string> files, client::CollectSegmentFiles(paths, &skipped));
  for (const std::string& s : skipped) SLUICE_LOG_WARN("replay", "REPLAY %s: skipped %s", target.c_str(), s.c_str());
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

namespace {
// True when `path` is `root` or inside it (both canonical: absolute, no symlinks, no ..).
bool IsUnder(const std::filesystem::path& path, const std::filesystem::path& root) {
  auto r = root.begin(), p = path.begin();
  for (; r != root.end(); ++r, ++p) {
    if (r->empty() && std::next(r) == root.end()) break;  // a trailing '/' of the root
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}
}  // namespace

std::vector<std::string> Server::ReplayRoots() const {
  std::vector<std::string> roots{cfg_.data_dir + "/backup"};
  streams_.Current()->ForEach([&](const StreamInfo& s) { roots.push_back(s.cfg->backup.path); });
  for (const std::string& r : cfg_.replay_roots) roots.push_back(r);
  return roots;
}

base::Status Server::CheckReplayPath(const std::string& target) const {
  namespace fs = std::filesystem;
  if (target.empty() || target.size() > 4096) return base::InvalidArgument("REPLAY needs a stream name, a file or a directory");
  std::error_code ec;
  // Resolves symlinks and "..", so a path cannot reach outside a root through either.
  fs::path canonical = fs::weakly_canonical(fs::absolute(target, ec), ec);
  if (ec) return base::IOError("cannot resolve " + target.substr(0, 256) + ": " + ec.message());
  std::string listed;
  for (const std::string& root : ReplayRoots()) {
    std::error_code rec;
    fs::path r = fs::weakly_canonical(fs::absolute(root, rec), rec);
    if (rec) continue;
    if (IsUnder(canonical, r)) return base::Status::Ok();
    if (listed.size() < 512) listed += (listed.empty() ? "" : ", ") + r.string();
  }
  return base::InvalidArgument("'" + target.substr(0, 256) + "' is neither a stream nor under a backup root (" + listed +
                               "); add its directory to replay_roots in the config file to allow it");
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

namespace {
// Settings that only a restart changes, as text, to tell an operator what a reload skipped.
std::vector<std::pair<std::string, std::string>> RestartOnlySettings(const ServerConfig& c) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  return {{"data_dir", c.data_dir}, {"bind", c.bind}, {"port", n(c.port)}, {"shards", n(c.shards)},
          {"durability", ToString(c.durability)}, {"auth_token", c.auth_token}, {"delivery_threads", n(c.delivery_threads)},
          {"admin_port", n(c.admin_port)}, {"admin_bind", c.admin_bind},
          {"max_record_bytes", n(c.limits.max_record_bytes)}, {"max_batch_records", n(c.limits.max_batch_records)},
          {"max_batch_bytes", n(c.limits.max_batch_bytes)}, {"connection_output_budget", n(c.connection_output_budget)},
          {"shard_commit_budget", n(c.shard_commit_budget)}, {"min_free_mib", n(c.min_free_bytes >> 20)},
          {"max_connections", n(c.max_connections)}, {"max_client_memory_mib", n(c.max_client_memory_bytes >> 20)},
          {"read_timeout_s", n(c.read_timeout_s)}, {"write_timeout_s", n(c.write_timeout_s)},
          {"shutdown_timeout_s", n(c.shutdown_timeout_s)}};
}
}  // namespace

void Server::Reload() {
  if (!reload_) {
    SLUICE_LOG_INFO("server", "SIGHUP: sluiced runs without --config; nothing to reload");
    return;
  }
  base::Result<ServerConfig> fresh = reload_();
  if (!fresh.ok()) {
    SLUICE_LOG_ERROR("server", "SIGHUP: configuration not reloaded, nothing changed: %s", fresh.status().ToString().c_str());
    return;
  }
  ServerConfig& next = fresh.value();
  int changes = 0;
  if (next.log_level != base::LogLevelName()) {
    SLUICE_LOG_INFO("server", "SIGHUP: log_level %s -> %s", base::LogLevelName(), next.log_level.c_str());
    base::SetLogLevelByName(next.log_level);
    changes++;
  }
  if (next.replay_roots != cfg_.replay_roots) {
    SLUICE_LOG_INFO("server", "SIGHUP: replay_roots now lists %zu directories", next.replay_roots.size());
    cfg_.replay_roots = next.replay_roots;  // read on main's thread only (REPLAY)
    changes++;
  }
  auto before = RestartOnlySettings(cfg_), after = RestartOnlySettings(next);
  std::string restart;
  for (size_t i = 0; i < before.size(); i++)
    if (before[i].second != after[i].second) restart += (restart.empty() ? "" : ", ") + before[i].first;
  if (!restart.empty()) SLUICE_LOG_WARN("server", "SIGHUP: changed settings that need a restart (ignored until then): %s", restart.c_str());
  // The file's streams: new ones are registered, changed ones get a new version (as STREAM UPDATE).
  int64_t now = base::Clock::Real()->NowUnixMillis();
  std::set<std::string> declared;
  for (const StreamConfig& s : next.streams) {
    declared.insert(s.name);
    StreamSetPtr set = streams_.Current();
    const StreamInfo* existing = set->Find(s.name);
    if (existing != nullptr && existing->cfg->toml == s.toml && existing->from_config) continue;
    if (existing != nullptr && !existing->accepts_puts()) {
      SLUICE_LOG_WARN("server", "SIGHUP: stream %s is being deleted; its new settings apply after that", s.name.c_str());
      continue;
    }
    auto publish = [&]() -> base::Result<StreamPtr> {
      if (existing != nullptr) {
        StreamInfo info = *existing;
        info.version++;
        info.updated_ms = now;
        info.from_config = true;
        info.cfg = std::make_shared<const StreamConfig>(s);
        return PersistAndPublish(std::move(info));
      }
      ASSIGN_OR_RETURN(storage::StreamEntry entry, store_->RegisterStream(s.name, s.toml, now));
      entry.flags = (entry.flags | kStreamFromConfig) & ~(kStreamDeleting | kStreamForceDelete);
      return PersistAndPublish(InfoFromEntry(entry, std::make_shared<const StreamConfig>(s)));
    };
    const bool updating = existing != nullptr;
    base::Result<StreamPtr> published = publish();
    if (!published.ok()) {
      SLUICE_LOG_ERROR("server", "SIGHUP: stream %s not applied: %s", s.name.c_str(), published.status().ToString().c_str());
      continue;
    }
    SLUICE_LOG_INFO("server", "SIGHUP: stream %s %s (version %u)", s.name.c_str(), updating ? "updated" : "created",
                    published.value()->version);
    changes++;
  }
  streams_.Current()->ForEach([&](const StreamInfo& s) {
    if (s.from_config && !declared.count(s.name))
      SLUICE_LOG_WARN("server", "SIGHUP: stream %s is no longer in the config file; it keeps running until the restart",
                      s.name.c_str());
  });
  SLUICE_LOG_INFO("server", "SIGHUP: configuration reloaded (%d changes applied)", changes);
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
  base::UniqueMutexLock lock(sync_mu_);
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

void Server::OnReloadSignal(uv_signal_t* handle, int) noexcept {
  static_cast<Server*>(handle->data)->Reload();
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
  uv_close(reinterpret_cast<uv_handle_t*>(&sighup_), nullptr);
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
  if (pool_ && !pool_->Stop(cfg_.shutdown_timeout_s * 1000)) {
    // A worker is stuck outside any transfer: the store cannot be closed under it. Everything
    // acknowledged is in the WAL; make it durable and end the process (as after a crash, the
    // next start recovers and redelivers what was in flight).
    base::Status synced = store_->SyncWal();
    SLUICE_LOG_ERROR("server", "stopped without closing storage (WAL sync: %s); the next start recovers",
                     synced.ToString().c_str());
    std::_Exit(1);
  }
  // Objects are destroyed only after every thread that used them has been joined.
  shards_.clear();
  pool_.reset();
  if (syncer_.joinable()) {
    {
      base::MutexLock lock(sync_mu_);
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
