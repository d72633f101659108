// Server: startup, the signal-driven main loop, and the ordered shutdown.
#include "server/server.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
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
  // Shutdown() has run when Run() returned; on a failed Start, stop what did start. The cluster
  // agent's threads first: its fencing handler reaches the pool.
  if (cluster_) cluster_->Stop();
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
  so.wal_compression = cfg_.wal_compression == "zstd";
  so.records_compression = cfg_.records_compression;
  auto store = storage::Store::Open(so);
  if (!store.ok()) return store.status();
  store_ = std::move(store).value();
  RETURN_IF_ERROR(stream_manager_.RegisterStreams());
  RETURN_IF_ERROR(SealUnsealedTails());
  if (cfg_.cluster.enabled()) RETURN_IF_ERROR(CreateClusterAgent());
  pool_ = std::make_unique<DeliveryPool>(store_.get(), base::Clock::Real(), cfg_.delivery_threads,
                                         cfg_.delivery_memory_bytes);
  RETURN_IF_ERROR(pool_->Init(*streams_.Current(), [this](const StreamInfo& s) {
    return MakeDestination(s, cfg_.enable_fault_injection, base::Clock::Real());
  }));
  RETURN_IF_ERROR(pool_->Start());

  // Default: half the cores. All shards commit through one WAL, whose fsyncs they take in turn
  // (RocksDB groups only writers queued before a sync starts), so a shard beyond what parsing
  // needs splits each group commit in two; the other cores flush, compact and deliver.
  // docs/operations.md ("Shards") has the measurements.
  uint32_t n = cfg_.shards ? cfg_.shards : std::max(1u, std::thread::hardware_concurrency() / 2);
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
  if (!draining_only()) {
    listener_ = std::make_unique<Listener>(&loop_, [this](int fd) { AcceptPutConnection(fd, PortProtocol::kSluice); });
    RETURN_IF_ERROR(listener_->Listen(cfg_.bind, cfg_.port));
    put_port_.store(listener_->port(), std::memory_order_relaxed);
  }
  if (cfg_.http_enabled && !draining_only()) {
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
  if (listener_) RETURN_IF_ERROR(WritePortFile(cfg_.port_file, port()));
  if (draining_only()) {
    SLUICE_LOG_INFO("server", "sluiced delivering the backlog of node %s for node %s (admin on %s:%u, data_dir=%s)",
                    cfg_.cluster.node_id.c_str(), cfg_.cluster.drain_for.c_str(), cfg_.admin_bind.c_str(),
                    admin_->port(), cfg_.data_dir.c_str());
    return base::Status::Ok();
  }
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
  if (self->cluster_ && ++self->reaper_ticks_ % 10 == 0) self->ClusterTick();
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

base::Status Server::CreateClusterAgent() {
  cluster::ClusterOptions o;
  o.endpoints = cfg_.cluster.endpoints;
  o.prefix = cfg_.cluster.prefix;
  o.node_id = cfg_.cluster.node_id;
  char resolved[PATH_MAX];
  o.data_dir = ::realpath(cfg_.data_dir.c_str(), resolved) ? resolved : cfg_.data_dir;
  o.holder = draining_only() ? cfg_.cluster.drain_for : cfg_.cluster.node_id;
  o.member = !draining_only();
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
  // Fencing (agent threads): delivery stops at once, then the process shuts down, releasing the
  // data directory for its new owner.
  cluster_->SetFencedHandler([this](const std::string&) {  // the agent logged why
    if (pool_) pool_->Fence();
    PostToMain([this] {
      fenced_ = true;
      BeginShutdown(0, "fenced (another node owns this data directory now)");
    });
  });
  base::Status owned = cluster_->AcquireOwnership();
  if (owned.code() == base::Code::kBusy) return owned;
  if (!owned.ok())
    SLUICE_LOG_WARN("cluster", "cannot take the ownership of the data directory yet (%s): starting anyway; the node "
                    "takes it when etcd answers, and stops if another node holds it by then", owned.ToString().c_str());
  return base::Status::Ok();
}

base::Status Server::StartCluster() {
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
  if (draining_only()) {
    cluster_->StartKeeper();  // renews the lease that holds the owner key; no member record
    return base::Status::Ok();
  }
  const std::string host = cfg_.cluster.advertise.empty()
                               ? cfg_.bind
                               : cfg_.cluster.advertise.substr(0, cfg_.cluster.advertise.rfind(':'));
  auto addr = [&](uint16_t port) { return host + ":" + std::to_string(port); };
  cluster::MemberRecord self;
  self.node = cfg_.cluster.node_id;
  self.put = cfg_.cluster.advertise.empty() ? addr(port()) : cfg_.cluster.advertise;
  // The agent's keeper writes the member record from here on (and again after a lost lease).
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

void Server::ClusterTick() {
  UpdateClusterLoad();
  const int64_t now = base::Clock::Real()->NowUnixMillis();
  // Children that finished delivering an adopted directory (or failed).
  for (auto it = adoptions_.begin(); it != adoptions_.end();) {
    int status = 0;
    pid_t r = ::waitpid(it->second.pid, &status, WNOHANG);
    if (r == 0) {
      ++it;
      continue;
    }
    if (r == it->second.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      SLUICE_LOG_INFO("cluster", "adoption of node %s finished: its backlog is delivered (%s)", it->first.c_str(),
                      it->second.log.c_str());
    else
      SLUICE_LOG_ERROR("cluster", "adoption of node %s ended without finishing (exit status %d); see %s",
                       it->first.c_str(), status, it->second.log.c_str());
    down_since_.erase(it->first);
    it = adoptions_.erase(it);
  }
  cluster::ClusterViewPtr view = cluster_->view();
  if (draining_only()) {
    // Done when nothing of the adopted directory is left to deliver.
    if (!view->complete || !cluster_->reachable() || cluster_->fenced()) return;
    stream_manager_.Flush(nullptr);
    bool empty = pool_->pending() == 0;
    streams_.Current()->ForEach([&](const StreamInfo& s) {
      auto has = store_->HasRecords(s.id);
      empty &= has.ok() && !has.value();
    });
    if (empty && !shutting_down_) {
      SLUICE_LOG_INFO("cluster", "the backlog of node %s is delivered; releasing its data directory",
                      cfg_.cluster.node_id.c_str());
      BeginShutdown(0, "the adopted backlog is delivered");
    }
    return;
  }
  if (cfg_.cluster.auto_adopt_s == 0 || !view->complete || !cluster_->reachable()) return;
  // Automatic adoption: by the live member with the lowest id, of nodes down long enough whose
  // directory is reachable from here and that nobody delivers.
  const std::string& self = cfg_.cluster.node_id;
  if (view->members.empty() || view->members.begin()->first != self) return;
  for (const auto& [id, node] : view->nodes) {
    if (id == self || view->members.count(id) || view->owners.count(id) || adoptions_.count(id)) {
      down_since_.erase(id);
      continue;
    }
    auto since = down_since_.emplace(id, now).first;
    if (now - since->second < int64_t(cfg_.cluster.auto_adopt_s) * 1000) continue;
    if (::access((node.data_dir + "/NODE_ID").c_str(), R_OK) != 0) continue;  // not on storage we share
    base::Status st = AdoptNode(id);
    if (!st.ok()) SLUICE_LOG_WARN("cluster", "automatic adoption of node %s: %s", id.c_str(), st.ToString().c_str());
    down_since_[id] = now;  // next try after another full wait
  }
}

base::Status Server::AdoptNode(const std::string& node) {
  if (cluster_ == nullptr || draining_only()) return base::InvalidArgument("this node is not a cluster member");
  if (!cluster::IsValidNodeId(node)) return base::InvalidArgument("'" + node.substr(0, 80) + "' is not a node id");
  if (node == cfg_.cluster.node_id) return base::InvalidArgument("a node cannot adopt itself");
  if (adoptions_.count(node)) return base::InvalidArgument("this node already delivers node " + node + "'s directory");
  cluster::ClusterViewPtr view = cluster_->view();
  if (view->members.count(node)) return base::InvalidArgument("node " + node + " is live: it delivers its own records");
  auto rec = view->nodes.find(node);
  if (rec == view->nodes.end()) return base::NotFound("no node " + node + " in the cluster (CLUSTER NODES)");
  if (auto owner = view->owners.find(node); owner != view->owners.end())
    return base::InvalidArgument("node " + owner->second.first.holder + " delivers node " + node + "'s directory now");
  const std::string& dir = rec->second.data_dir;
  if (::access((dir + "/NODE_ID").c_str(), R_OK) != 0)
    return base::NotFound("node " + node + "'s data directory " + dir + " is not reachable from this node (adoption "
                          "needs storage both nodes mount at the same path)");
  std::string endpoints;
  for (const std::string& e : cfg_.cluster.endpoints) endpoints += (endpoints.empty() ? "" : ",") + e;
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return base::IOError("cannot find this executable (/proc/self/exe)");
  exe[n] = '\0';
  std::vector<std::string> args = {exe, "--data-dir", dir, "--node-id", node, "--cluster", endpoints,
                                   "--cluster-prefix", cfg_.cluster.prefix, "--drain-for", cfg_.cluster.node_id,
                                   "--admin-port", "0", "--admin-bind", "127.0.0.1", "--delivery-threads",
                                   std::to_string(cfg_.delivery_threads), "--log-format", cfg_.log_format};
  if (cfg_.enable_fault_injection) args.push_back("--enable-fault-injection");
  const std::string log = cfg_.data_dir + "/adopted-" + node + ".log";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, exe, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return base::IOError(std::string("cannot start the adopting process: ") + std::strerror(rc));
  adoptions_[node] = Adoption{pid, base::Clock::Real()->NowUnixMillis(), log};
  SLUICE_LOG_INFO("cluster", "adopting node %s: pid %d delivers %s (log %s)", node.c_str(), static_cast<int>(pid),
                  dir.c_str(), log.c_str());
  return base::Status::Ok();
}

base::Status Server::ReleaseNode(const std::string& node) {
  auto it = adoptions_.find(node);
  if (it == adoptions_.end()) return base::NotFound("this node does not deliver node " + node.substr(0, 80) + "'s directory");
  ::kill(it->second.pid, SIGTERM);  // a graceful stop: the child revokes its lease, the owner key goes
  SLUICE_LOG_INFO("cluster", "releasing node %s's data directory (stopping pid %d)", node.c_str(),
                  static_cast<int>(it->second.pid));
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
      {"delivery_memory_mib", std::to_string(cfg_.delivery_memory_bytes >> 20)},
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
      {"wal_compression", cfg_.wal_compression},
      {"records_compression", cfg_.records_compression},
      {"node_id", cfg_.cluster.node_id},
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
          {"wal_compression", c.wal_compression}, {"records_compression", c.records_compression},
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

void Server::BeginShutdown(int signum, const char* why) {
  if (shutting_down_) return;
  shutting_down_ = true;
  SLUICE_LOG_INFO("server", "%s; shutting down",
                  why                 ? why
                  : signum == SIGTERM ? "received SIGTERM"
                  : signum == SIGINT  ? "received SIGINT"
                                      : "SHUTDOWN command");
  // Step 1: stop accepting and let main's loop end (its only handles are these).
  if (listener_) listener_->Close();
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
  // Leave the member list first, so clients stop choosing this node; the ownership of the data
  // directory is kept until delivery has stopped (cluster_->Stop below).
  if (cluster_) cluster_->Withdraw();
  for (auto& [node, a] : adoptions_) {
    ::kill(a.pid, SIGTERM);
    int status = 0;
    ::waitpid(a.pid, &status, 0);
  }
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
  // Delivery has stopped: the lease (and the owner key with it) can go. The agent's threads end
  // here, before the pool its fencing handler reaches is destroyed.
  if (cluster_) cluster_->Stop();
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
  if (fenced_ && st.ok())
    return base::Status(base::Code::kBusy, "stopped because another node took over this data directory (fenced)");
  return st;
}

}  // namespace sluice::server
