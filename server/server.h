// Server: owns everything sluiced runs and the one place that orders startup and shutdown.
#pragma once

#include <uv.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "server/admin/admin_server.h"
#include "server/admin/admin_services.h"
#include "server/cluster/cluster_agent.h"
#include "server/config.h"
#include "server/delivery/delivery_pool.h"
#include "server/listener.h"
#include "server/monitor/monitor.h"
#include "server/replayer.h"
#include "server/stream_manager.h"
#include "server/shard.h"
#include "server/stream_registry.h"
#include "server/tls.h"
#include "storage/data_dir.h"
#include "storage/store.h"

namespace sluice::server {

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopback(const std::string& addr);

// Owns everything sluiced runs and orders startup and shutdown; answers the admin port's status
// and control commands itself, and hands it the StreamManager (streams at run time) and the
// Replayer (REPLAY) for the other two families.
// Thread: main. Shards run on their own threads; the WAL syncer (durability interval) on its own.
class Server final : public admin::ServerStatus, public admin::ServerControl, public MainDoor, public monitor::ServerFacts {
 public:
  // Builds the configuration as at startup (config file, then flags); SIGHUP calls it again.
  using ConfigSource = std::function<base::Result<ServerConfig>()>;
  explicit Server(ServerConfig cfg, ConfigSource reload = nullptr);
  ~Server();

  // Startup order: lock the data dir, open storage (WAL recovery), register the configured
  // streams in the catalog, seal what was still open at the last stop or crash, start the
  // delivery pool (it resumes every sealed segment), start the shards, listen, write the port
  // file.
  // Returns the first failure; nothing is left running on error.
  base::Status Start();
  // Runs main's loop until SIGTERM or SIGINT, then shuts down (see Shutdown in server.cc).
  // SIGUSR1 seals every open segment of every stream for delivery now (FLUSH).
  base::Status Run();
  uint16_t port() const { return listener_ ? listener_->port() : 0; }

  // --- MainDoor (the shards' door for the Firehose API's control plane) ---
  bool PostToMain(std::function<void()> fn) override;
  admin::StreamControl& stream_control() override { return stream_manager_; }
  monitor::Monitor& monitor() override { return *monitor_; }
  void DescribeCluster(std::string* node, bool* cluster, std::vector<proto::MemberInfo>* members) override;

  // --- monitor::ServerFacts (main's thread) ---
  bool shutting_down() const override { return shutting_down_; }
  uint64_t refused_connections() const override { return refused_connections_; }
  uint16_t http_port() const override { return http_listener_ ? http_listener_->port() : 0; }

  // --- ServerStatus (main's thread) ---
  const ServerConfig& config() const override { return cfg_; }
  const std::vector<std::unique_ptr<Shard>>& shards() const override { return shards_; }
  const DeliveryPool& pool() const override { return *pool_; }
  storage::Store& store() override { return *store_; }
  uint16_t put_port() const override { return port(); }
  uint16_t admin_port() const override { return admin_ ? admin_->port() : 0; }
  int64_t start_unix_ms() const override { return start_ms_; }
  cluster::ClusterAgent* cluster() override { return cluster_.get(); }
  std::vector<std::pair<std::string, std::string>> ConfigValues() const override;
  // --- ServerControl (main's thread) ---
  bool password_required() const override { return !cfg_.admin_password.empty(); }
  bool CheckPassword(std::string_view given) const override;
  base::Status SetConfig(const std::string& key, const std::string& value) override;
  void RequestShutdown() override { BeginShutdown(0); }
  base::Status AdoptNode(const std::string& node) override;
  base::Status ReleaseNode(const std::string& node) override;

 private:
  static void OnSignal(uv_signal_t* handle, int signum) noexcept;
  static void OnFlushSignal(uv_signal_t* handle, int signum) noexcept;
  static void OnReloadSignal(uv_signal_t* handle, int signum) noexcept;
  base::Status InstallSignals();
  // Hands an accepted put socket to a shard, or refuses it past max_connections.
  // Deals an accepted socket of the put port or the Firehose API port to a shard (or refuses it
  // past max_connections, which counts both).
  void AcceptPutConnection(int fd, PortProtocol protocol);
  // SIGHUP: re-reads the configuration (ConfigSource) and applies what can change at run time:
  // the config file's stream settings (new, changed), log_level, replay_roots. Logs each change
  // and each setting that differs but needs a restart. A file that does not validate changes
  // nothing.
  void Reload();
  // why: the reason logged (default: the signal's name, or the SHUTDOWN command).
  void BeginShutdown(int signum, const char* why = nullptr);
  base::Status Shutdown();
  // Every 100 ms: StreamManager::ReapDeletedStreams finishes STREAM DELETEs.
  static void OnReaperTimer(uv_timer_t* handle) noexcept;
  static void OnMainAsync(uv_async_t* handle) noexcept;
  base::Status SealUnsealedTails();
  // The node id recorded in the data directory (node_id at the first start that had one): a
  // data directory keeps its id, since its delivered objects' names carry it.
  base::Status SettleNodeId();
  // Cluster mode, before delivery starts: the agent, and the ownership of the data directory.
  base::Status CreateClusterAgent();
  // Cluster mode, before the ports listen: watches the catalog and applies it (bounded by
  // cluster_timeout_ms when etcd is unreachable: the node then runs on its local catalog).
  base::Status StartCluster();
  // Every second in cluster mode: the member record's load, finished adoptions, automatic
  // adoption, and (--drain-for) the end of the backlog.
  void ClusterTick();
  bool draining_only() const { return !cfg_.cluster.drain_for.empty(); }
  // Cluster mode, once the ports listen: registers the member record, starts the lease keeper.
  base::Status JoinCluster();
  // Every second: the load the member record advertises.
  void UpdateClusterLoad();
  static base::Status WritePortFile(const std::string& path, uint16_t port);
  void SyncLoop();

  ServerConfig cfg_;
  uv_loop_t loop_;
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};
  uv_signal_t sigusr1_{};  // flush: seal every open segment now
  uv_signal_t sighup_{};   // reload the configuration
  bool handles_ready_ = false;  // the timer and signal handles exist (InstallSignals ran)
  ConfigSource reload_;
  ClientMemory client_memory_;
  TlsContextHolder tls_;  // the ports' TLS context (empty without tls_ports)
  uint64_t refused_connections_ = 0;
  uv_timer_t reaper_{};    // finishes STREAM DELETE (see ReapDeletedStreams)
  uv_async_t main_async_{};  // wakes main's loop for posted work (PostToMain)
  base::Mutex main_mu_;
  std::vector<std::function<void()>> main_posted_ SLUICE_GUARDED_BY(main_mu_);
  bool main_open_ SLUICE_GUARDED_BY(main_mu_) = false;
  std::optional<storage::DataDirLock> lock_;
  std::unique_ptr<storage::Store> store_;
  StreamRegistry streams_;
  std::unique_ptr<DeliveryPool> pool_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Listener> http_listener_;  // the Firehose API port (null when http_enabled = false)
  std::unique_ptr<admin::AdminServer> admin_;
  std::unique_ptr<monitor::Monitor> monitor_;  // /metrics, /ready, the status page, STATUS
  StreamManager stream_manager_;
  Replayer replayer_;
  std::unique_ptr<cluster::ClusterAgent> cluster_;  // cluster mode only
  std::atomic<bool> cluster_wake_pending_{false};
  std::atomic<uint16_t> put_port_{0};  // for DescribeCluster on a single node (shard threads)
  bool fenced_ = false;                // this process lost its data directory: Run fails
  struct Adoption {
    pid_t pid = -1;
    int64_t started_ms = 0;
    std::string log;
  };
  std::map<std::string, Adoption> adoptions_;  // node -> the child delivering its directory
  std::map<std::string, int64_t> down_since_;  // node -> when this node first saw it down (auto adopt)
  uint32_t reaper_ticks_ = 0;
  std::string log_level_ = "info";
  int64_t start_ms_ = 0;
  size_t next_shard_ = 0;
  bool shutting_down_ = false;

  std::thread syncer_;
  base::Mutex sync_mu_;
  base::CondVar sync_cv_;
  bool sync_stop_ SLUICE_GUARDED_BY(sync_mu_) = false;
};

}  // namespace sluice::server
