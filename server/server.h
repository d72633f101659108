// Server: owns everything sluiced runs and the one place that orders startup and shutdown.
#pragma once

#include <uv.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/status.h"
#include "server/config.h"
#include "server/delivery/delivery_pool.h"
#include "server/listener.h"
#include "server/shard.h"
#include "server/stream_registry.h"
#include "storage/data_dir.h"
#include "storage/store.h"

namespace sluice::server {

// Thread: main. Shards run on their own threads; the WAL syncer (durability interval) on its own.
class Server {
 public:
  explicit Server(ServerConfig cfg);
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

 private:
  static void OnSignal(uv_signal_t* handle, int signum) noexcept;
  static void OnFlushSignal(uv_signal_t* handle, int signum) noexcept;
  void BeginShutdown(int signum);
  base::Status Shutdown();
  base::Status RegisterStreams();
  base::Status SealUnsealedTails();
  base::Status WritePortFile() const;
  void SyncLoop();

  ServerConfig cfg_;
  uv_loop_t loop_;
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  uv_signal_t sigusr1_;  // flush: seal every open segment now
  std::optional<storage::DataDirLock> lock_;
  std::unique_ptr<storage::Store> store_;
  StreamRegistry streams_;
  std::unique_ptr<DeliveryPool> pool_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<Listener> listener_;
  size_t next_shard_ = 0;
  bool shutting_down_ = false;

  std::thread syncer_;
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool sync_stop_ = false;  // GUARDED_BY(sync_mu_)
};

}  // namespace sluice::server
