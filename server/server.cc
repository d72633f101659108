// Server: startup, the signal-driven main loop, and the ordered shutdown.
#include "server/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "base/clock.h"
#include "base/constant_time.h"
#include "base/log.h"
#include "base/thread_entry.h"
#include "protocol/messages.h"
#include "storage/segment.h"

namespace sluice::server {

Server::Server(ServerConfig cfg, ConfigSource reload)
    : cfg_(std::move(cfg)),
      reload_(std::move(reload)),
      client_memory_(cfg_.max_client_memory_bytes),
      stream_manager_(cfg_, store_, streams_, pool_, shards_),
      replayer_(cfg_, streams_, [this] { return port(); }) {
  SLUICE_CHECK(uv_loop_init(&loop_) == 0);
}

Server::~Server() {
  // Shutdown() has run when Run() returned; on a failed Start, stop what did start.
  if (handles_ready_ && !shutting_down_) {
    shutting_down_ = true;
    for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&reaper_), reinterpret_cast<uv_handle_t*>(&sigterm_),
                           reinterpret_cast<uv_handle_t*>(&sigint_), reinterpret_cast<uv_handle_t*>(&sigusr1_),
                           reinterpret_cast<uv_handle_t*>(&sighup_), reinterpret_cast<uv_handle_t*>(&main_async_)})
      if (h->type != UV_UNKNOWN_HANDLE && !uv_is_closing(h)) uv_close(h, nullptr);
    if (monitor_) monitor_->Close();
    base::MutexLock lock(main_mu_);
    main_open_ = false;
  }
  for (auto& s : shards_) s->RequestStop();
  for (auto& s : shards_) s->Join();
  shards_.clear();
  pool_.reset();
  if (listener_) listener_->Close();
  if (http_listener_) http_listener_->Close();
  if (admin_) admin_->Close();
  uv_run(&loop_, UV_RUN_NOWAIT);  // let close callbacks run
  uv_loop_close(&loop_);
}

base::Status Server::Start() {
  auto lock = storage::DataDirLock::Acquire(cfg_.data_dir);
  if (!lock.ok()) return lock.status();
  lock_.emplace(std::move(lock).value());
  RETURN_IF_ERROR(SettleNodeId());

  storage::StoreOptions so;
  so.path = cfg_.data_dir + "/db";
  so.min_free_bytes = cfg_.min_free_bytes / 4;
  auto store = storage::Store::Open(so);
  if (!store.ok()) return store.status();
  store_ = std::move(store).value();
  RETURN_IF_ERROR(stream_manager_.RegisterStreams());
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
  if (!cfg_.tls_ports.empty()) {
    ASSIGN_OR_RETURN(std::shared_ptr<TlsContext> tls, TlsContext::Load(cfg_.tls_cert_file, cfg_.tls_key_file));
    tls_.Set(std::move(tls));
  }
  for (auto& s : shards_) {
    s->set_main_door(this);
    if (!cfg_.tls_ports.empty()) s->set_tls(&tls_, cfg_.tls_on("put"), cfg_.tls_on("http"));
  }
  for (auto& s : shards_) RETURN_IF_ERROR(s->Start());

  // Signals are handled before anything announces the server (the port files): a SIGTERM
  // from a supervisor that saw the port file always means a clean shutdown.
  RETURN_IF_ERROR(InstallSignals());
  if (cfg_.cluster.enabled()) RETURN_IF_ERROR(StartCluster());
  monitor_ = std::make_unique<monitor::Monitor>(admin::AdminServices{*this, *this, stream_manager_, replayer_, nullptr}, *this);
  monitor_->Start(&loop_);
  listener_ = std::make_unique<Listener>(&loop_, [this](int fd) { AcceptPutConnection(fd, PortProtocol::kSluice); });
  RETURN_IF_ERROR(listener_->Listen(cfg_.bind, cfg_.port));
  put_port_.store(listener_->port(), std::memory_order_relaxed);
  if (cfg_.http_enabled) {
    http_listener_ = std::make_unique<Listener>(&loop_, [this](int fd) { AcceptPutConnection(fd, PortProtocol::kHttp); });
    RETURN_IF_ERROR(http_listener_->Listen(cfg_.http_bind, cfg_.http_port).WithContext("Firehose API port"));
  }
  admin_ = std::make_unique<admin::AdminServer>(
      &loop_, admin::AdminServices{*this, *this, stream_manager_, replayer_, monitor_.get()});
  if (cfg_.tls_on("admin")) admin_->set_tls(&tls_);
  RETURN_IF_ERROR(admin_->Listen(cfg_.admin_bind, cfg_.admin_port));
  if (!IsLoopback(cfg_.bind) && cfg_.auth_token.empty())
    SLUICE_LOG_WARN("server", "WARNING: the put port listens on %s, which is not a loopback address, and has no "
                    "auth_token: anyone who can reach it can put records into every stream. Set auth_token "
                    "(--auth-token) or bind to 127.0.0.1", cfg_.bind.c_str());

  if (cfg_.durability.mode == DurabilityMode::kInterval) syncer_ = std::thread([this]() noexcept { base::RunThreadEntry("wal-syncer", [this] { SyncLoop(); }); });

  start_ms_ = base::Clock::Real()->NowUnixMillis();
  if (cluster_) RETURN_IF_ERROR(JoinCluster());
  RETURN_IF_ERROR(WritePortFile(cfg_.admin_port_file, admin_->port()));
  if (http_listener_) RETURN_IF_ERROR(WritePortFile(cfg_.http_port_file, http_listener_->port()));
  RETURN_IF_ERROR(WritePortFile(cfg_.port_file, port()));
  SLUICE_LOG_INFO("server", "sluiced listening on %s:%u, admin on %s:%u, Firehose API on %s (shards=%u, durability=%s, streams=%zu, data_dir=%s)",
                  cfg_.bind.c_str(), port(), cfg_.admin_bind.c_str(), admin_->port(),
                  http_listener_ ? (cfg_.http_bind + ":" + std::to_string(http_listener_->port()) +
                                    (cfg_.tls_on("http") ? " (TLS)" : "")).c_str()
                                 : "off",
                  n,
                  ToString(cfg_.durability).c_str(), streams_.Current()->size(), cfg_.data_dir.c_str());
  return base::Status::Ok();
}

void Server::OnReaperTimer(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Server*>(handle->data);
  self->stream_manager_.ReapDeletedStreams();
  if (self->cluster_ && ++self->reaper_ticks_ % 10 == 0) self->UpdateClusterLoad();
}

base::Status Server::SettleNodeId() {
  const std::string path = cfg_.data_dir + "/NODE_ID";
  std::string recorded;
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[cluster::kMaxNodeIdBytes + 2] = {0};
    size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
    recorded.assign(buf, n);
    while (!recorded.empty() && (recorded.back() == '\n' || recorded.back() == '\r')) recorded.pop_back();
    if (!cluster::IsValidNodeId(recorded))
      return base::Corruption(path + " does not hold a node id (1..64 characters of [A-Za-z0-9_.-])");
  }
  if (!recorded.empty() && !cfg_.cluster.node_id.empty() && recorded != cfg_.cluster.node_id)
    return base::InvalidArgument("the data directory " + cfg_.data_dir + " belongs to node '" + recorded +
                                 "', not '" + cfg_.cluster.node_id + "' (its delivered objects carry that id): start it "
                                 "with --node-id " + recorded + ", or use another data directory");
  if (recorded.empty() && !cfg_.cluster.node_id.empty()) {
    const std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    bool ok = f != nullptr && std::fprintf(f, "%s\n", cfg_.cluster.node_id.c_str()) > 0 && std::fflush(f) == 0 &&
              ::fsync(fileno(f)) == 0;
    if (f != nullptr) ok = std::fclose(f) == 0 && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0)
      return base::IOError("cannot write " + path + ": " + std::strerror(errno));
    recorded = cfg_.cluster.node_id;
  }
  if (cfg_.cluster.node_id.empty() && !recorded.empty()) {
    SLUICE_LOG_INFO("server", "node id %s (recorded in the data directory)", recorded.c_str());
    cfg_.cluster.node_id = recorded;
  }
  storage::SetSegmentIdNode(cfg_.cluster.node_id);  // before any thread runs
  return base::Status::Ok();
}

base::Status Server::StartCluster() {
  cluster::ClusterOptions o;
  o.endpoints = cfg_.cluster.endpoints;
  o.prefix = cfg_.cluster.prefix;
  o.node_id = cfg_.cluster.node_id;
  char resolved[PATH_MAX];
  o.data_dir = ::realpath(cfg_.data_dir.c_str(), resolved) ? resolved : cfg_.data_dir;
  o.lease_ttl_s = cfg_.cluster.lease_ttl_s;
  o.timeout_ms = cfg_.cluster.timeout_ms;
  // The watcher's door to main: one wake-up pending at most; main reads the newest view.
  cluster_ = std::make_unique<cluster::ClusterAgent>(std::move(o), [this] {
    if (cluster_wake_pending_.exchange(true)) return;
    if (!PostToMain([this] {
          cluster_wake_pending_.store(false);
          stream_manager_.ApplyCluster();
        }))
      cluster_wake_pending_.store(false);
  });
  stream_manager_.AttachCluster(cluster_.get());
  cluster_->StartWatch();
  const int64_t deadline = base::Clock::Real()->NowMonoNanos() + int64_t(cfg_.cluster.timeout_ms) * 1'000'000;
  while (!cluster_->view()->complete && base::Clock::Real()->NowMonoNanos() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!cluster_->view()->complete)
    SLUICE_LOG_WARN("cluster", "etcd (%s) is unreachable: starting on the local catalog; catalog changes are refused "
                    "until it answers", cfg_.cluster.endpoints[0].c_str());
  stream_manager_.ApplyCluster();
  return base::Status::Ok();
}

base::Status Server::JoinCluster() {
  const std::string host = cfg_.cluster.advertise.empty()
                               ? cfg_.bind
                               : cfg_.cluster.advertise.substr(0, cfg_.cluster.advertise.rfind(':'));
  auto addr = [&](uint16_t port) { return host + ":" + std::to_string(port); };
  cluster::MemberRecord self;
  self.node = cfg_.cluster.node_id;
  self.put = cfg_.cluster.advertise.empty() ? addr(port()) : cfg_.cluster.advertise;
  self.api = http_listener_ ? addr(http_listener_->port()) : "";
  self.admin = addr(admin_->port());
  self.started_ms = start_ms_;
  UpdateClusterLoad();
  base::Status st = cluster_->Join(std::move(self));
  if (!st.ok() && st.code() != base::Code::kUnavailable) return st.WithContext("join the cluster");
  if (!st.ok())
    SLUICE_LOG_WARN("cluster", "cannot join the cluster yet (%s); retrying every second", st.ToString().c_str());
  cluster_->StartKeeper();
  return base::Status::Ok();
}

void Server::DescribeCluster(std::string* node, bool* cluster, std::vector<proto::MemberInfo>* members) {
  *node = cfg_.cluster.node_id;
  *cluster = cluster_ != nullptr;
  members->clear();
  if (cluster_ == nullptr) {
    // Set before the shards start (port() is read once the listener is bound).
    members->push_back({cfg_.cluster.node_id.empty() ? "self" : cfg_.cluster.node_id,
                        cfg_.bind + ":" + std::to_string(put_port_.load(std::memory_order_relaxed)), "active", 0, 0});
    return;
  }
  cluster::ClusterViewPtr view = cluster_->view();
  for (const auto& [id, m] : view->members) members->push_back({id, m.put, m.state, m.connections, m.backlog_bytes});
}

void Server::UpdateClusterLoad() {
  cluster::NodeLoad& load = cluster_->load();
  uint64_t connections = 0, incoming = 0;
  for (const auto& s : shards_) connections += s->stats().connections_open.load(std::memory_order_relaxed);
  streams_.Current()->ForEach([&](const StreamInfo& s) {
    incoming += s.counters->incoming_records.load(std::memory_order_relaxed);
  });
  uint64_t backlog = 0;
  for (const auto& [id, b] : pool_->Backlogs()) backlog += b.bytes;
  load.connections.store(connections, std::memory_order_relaxed);
  load.incoming_records.store(incoming, std::memory_order_relaxed);
  load.backlog_bytes.store(backlog, std::memory_order_relaxed);
  load.draining.store(shutting_down_, std::memory_order_relaxed);
}

bool Server::PostToMain(std::function<void()> fn) {
  base::MutexLock lock(main_mu_);
  if (!main_open_) return false;
  main_posted_.push_back(std::move(fn));
  uv_async_send(&main_async_);
  return true;
}

void Server::OnMainAsync(uv_async_t* handle) noexcept {
  auto* self = static_cast<Server*>(handle->data);
  std::vector<std::function<void()>> work;
  {
    base::MutexLock lock(self->main_mu_);
    work.swap(self->main_posted_);
  }
  for (auto& fn : work) fn();
}

base::Status Server::InstallSignals() {
  auto check = [](int rc, const char* what) {
    return rc == 0 ? base::Status::Ok() : base::IOError(std::string(what) + ": " + uv_strerror(rc));
  };
  RETURN_IF_ERROR(check(uv_timer_init(&loop_, &reaper_), "reaper timer"));
  reaper_.data = this;
  RETURN_IF_ERROR(check(uv_async_init(&loop_, &main_async_, OnMainAsync), "main async"));
  main_async_.data = this;
  {
    base::MutexLock lock(main_mu_);
    main_open_ = true;
  }
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

void Server::AcceptPutConnection(int fd, PortProtocol protocol) {
  uint64_t open = 0;
  for (auto& s : shards_) open += s->stats().connections_open.load(std::memory_order_relaxed);
  if (open >= cfg_.max_connections) {
    // Told why, without a read or a shard: one small answer the socket buffer always takes.
    std::string frame;
    const std::string why = "max_connections (" + std::to_string(cfg_.max_connections) + ") reached; retry later";
    if (protocol == PortProtocol::kHttp) {
      const std::string body = "{\"__type\":\"ServiceUnavailableException\",\"message\":\"" + why + "\"}";
      frame = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: "
              "ServiceUnavailableException\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\nConnection: close\r\n\r\n" + body;
    } else {
      proto::EncodeError(0, proto::WireError::kTooManyConnections, why, true, &frame);
    }
    ssize_t sent = ::send(fd, frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)sent;  // best effort: the close below is the answer either way
    ::close(fd);
    refused_connections_++;
    if (refused_connections_ == 1 || refused_connections_ % 1000 == 0)
      SLUICE_LOG_WARN("server", "put port: max_connections (%u) reached; %llu connections refused so far",
                      cfg_.max_connections, static_cast<unsigned long long>(refused_connections_));
    return;
  }
  shards_[next_shard_++ % shards_.size()]->AdoptConnection(fd, protocol);
}

std::vector<std::pair<std::string, std::string>> Server::ConfigValues() const {
  return {
      {"data_dir", cfg_.data_dir},
      {"bind", cfg_.bind},
      {"port", std::to_string(port())},
      {"http_port", http_listener_ ? std::to_string(http_listener_->port()) : "off"},
      {"http_bind", cfg_.http_bind},
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
      {"log_format", base::LogFormatName()},
      {"log_rate_limit", std::to_string(cfg_.log_rate_limit)},
  };
}

base::Status Server::SetConfig(const std::string& key, const std::string& value) {
  if (key == "log_level") {
    if (!base::SetLogLevelByName(value))
      return base::InvalidArgument("log_level must be one of debug, info, warn, error; got '" + value.substr(0, 64) + "'");
    return base::Status::Ok();
  }
  if (key == "log_format") {
    if (!base::SetLogFormatByName(value)) return base::InvalidArgument("log_format must be text or json; got '" + value.substr(0, 64) + "'");
    cfg_.log_format = value;
    return base::Status::Ok();
  }
  if (key == "log_rate_limit") {
    char* end = nullptr;
    const unsigned long v = value.empty() ? ULONG_MAX : std::strtoul(value.c_str(), &end, 10);
    if (end == nullptr || *end != '\0' || v > 100000 || value[0] == '-')
      return base::InvalidArgument("log_rate_limit must be 0..100000 lines a second per call site; got '" + value.substr(0, 64) + "'");
    cfg_.log_rate_limit = static_cast<uint32_t>(v);
    base::SetLogRateLimit(cfg_.log_rate_limit);
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
                                   "restart); settable: log_level, log_format, log_rate_limit, admin_password");
  return base::InvalidArgument("unknown setting '" + key.substr(0, 64) + "' (CONFIG GET * lists them)");
}

namespace {
// Settings that only a restart changes, as text, to tell an operator what a reload skipped.
// Changes to the keys show as one "access_key" entry (never the secrets themselves).
std::string AccessKeysDigest(const ServerConfig& c) {
  std::string all;
  for (const AccessKey& k : c.access_keys) {
    all += k.id + "\n" + k.secret + "\n";
    for (const auto& s : k.streams) all += s + ",";
    for (const auto& o : k.operations) all += o + ",";
    all += "\n";
  }
  return std::to_string(std::hash<std::string>{}(all));
}

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
          {"shutdown_timeout_s", n(c.shutdown_timeout_s)}, {"http_enabled", n(c.http_enabled)},
          {"http_port", n(c.http_port)}, {"http_bind", c.http_bind}, {"access_key", AccessKeysDigest(c)}, {"tls_ports", [&] {
            std::string all;
            for (const auto& p : c.tls_ports) all += p + ",";
            return all;
          }()}};
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
  if (next.log_format != base::LogFormatName()) {
    SLUICE_LOG_INFO("server", "SIGHUP: log_format %s -> %s", base::LogFormatName(), next.log_format.c_str());
    base::SetLogFormatByName(next.log_format);
    changes++;
  }
  if (next.log_rate_limit != cfg_.log_rate_limit) {
    SLUICE_LOG_INFO("server", "SIGHUP: log_rate_limit %u -> %u", cfg_.log_rate_limit, next.log_rate_limit);
    cfg_.log_rate_limit = next.log_rate_limit;
    base::SetLogRateLimit(next.log_rate_limit);
    changes++;
  }
  if (next.replay_roots != cfg_.replay_roots) {
    SLUICE_LOG_INFO("server", "SIGHUP: replay_roots now lists %zu directories", next.replay_roots.size());
    cfg_.replay_roots = next.replay_roots;  // read on main's thread only (REPLAY)
    changes++;
  }
  if (!cfg_.tls_ports.empty()) {
    // The certificate files again (a renewed certificate): new connections get it.
    auto tls = TlsContext::Load(next.tls_cert_file, next.tls_key_file);
    if (tls.ok()) {
      tls_.Set(std::move(tls).value());
      SLUICE_LOG_INFO("server", "SIGHUP: TLS certificate re-read from %s", next.tls_cert_file.c_str());
      changes++;
    } else {
      SLUICE_LOG_ERROR("server", "SIGHUP: TLS certificate not reloaded, the previous one stays: %s",
                       tls.status().ToString().c_str());
    }
  }
  auto before = RestartOnlySettings(cfg_), after = RestartOnlySettings(next);
  std::string restart;
  for (size_t i = 0; i < before.size(); i++)
    if (before[i].second != after[i].second) restart += (restart.empty() ? "" : ", ") + before[i].first;
  if (!restart.empty()) SLUICE_LOG_WARN("server", "SIGHUP: changed settings that need a restart (ignored until then): %s", restart.c_str());
  changes += stream_manager_.ApplyConfigFileStreams(next.streams);
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
  self->stream_manager_.Flush(nullptr);
}

void Server::BeginShutdown(int signum) {
  if (shutting_down_) return;
  shutting_down_ = true;
  SLUICE_LOG_INFO("server", "%s; shutting down",
                  signum == SIGTERM ? "received SIGTERM" : signum == SIGINT ? "received SIGINT" : "SHUTDOWN command");
  // Step 1: stop accepting and let main's loop end (its only handles are these).
  listener_->Close();
  if (http_listener_) http_listener_->Close();
  if (admin_) admin_->Close();
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigusr1_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sighup_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&reaper_), nullptr);
  if (monitor_) monitor_->Close();
  {
    // Control-plane requests already posted still run (the loop runs the async once more);
    // later ones are refused (PostToMain false: the client gets a 503).
    base::MutexLock lock(main_mu_);
    main_open_ = false;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&main_async_), nullptr);
}

// Shutdown sequence (after main's loop returned):
//   1. the listener is closed (BeginShutdown): no new connections;
//   2. every shard commits what it has read, flushes those acks (bounded by a timeout), closes
//      its connections and ends its loop; main joins the threads;
//   3. the delivery pool lets in-flight attempts finish and stops (queued segments stay stored);
//   4. the WAL syncer stops, and a last SyncWal covers durability modes interval and none;
//   5. the store closes (handles, Close, delete: store.h), then the data dir lock is released.
base::Status Server::Shutdown() {
  // Leave the cluster first: the member record goes at once, so clients stop choosing this node.
  if (cluster_) cluster_->Stop();
  for (auto& s : shards_) s->RequestStop();
  for (auto& s : shards_) s->Join();
  uint64_t stored = 0;
  for (auto& s : shards_) stored += s->stats().records_stored.load();
  replayer_.Join();  // its connection was closed with the shards'
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
