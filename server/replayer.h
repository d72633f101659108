// Replayer: REPLAY, the admin command that re-puts backed-up segment files through the put port.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "server/admin/admin_services.h"
#include "server/config.h"
#include "server/replay_job.h"
#include "server/stream_registry.h"

namespace sluice::server {

// Decides what a REPLAY target means (a stream's backup store, or a file or directory under the
// backup roots), collects the segment files without following anything outside them, and runs
// one ReplayJob at a time.
// Lifecycle: owned by Server; Join() before the put port's shards are gone.
// Thread: main (the job itself runs on its own thread).
class Replayer final : public admin::ReplayControl {
 public:
  // `put_port` returns the bound put port once the server listens.
  Replayer(const ServerConfig& cfg, const StreamRegistry& streams, std::function<uint16_t()> put_port);

  base::Result<size_t> StartReplay(const std::string& target) override;
  ReplayJob::Snapshot replay_status() const override { return replay_.status(); }
  // Waits for a running replay (it ends once the put port closes).
  void Join() { replay_.Join(); }

  // The directories REPLAY may read: <data_dir>/backup, every stream's backup.path, and the
  // operator's replay_roots.
  std::vector<std::string> ReplayRoots() const;
  // kInvalidArgument unless `target` (a file or directory) lies under one of ReplayRoots().
  base::Status CheckReplayPath(const std::string& target) const;

 private:
  const ServerConfig& cfg_;
  const StreamRegistry& streams_;
  std::function<uint16_t()> put_port_;
  ReplayJob replay_;
};

}  // namespace sluice::server
