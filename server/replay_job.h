// ReplayJob: the REPLAY admin command's worker. Re-puts backed-up segment files through the
// server's own put port (client::ReplayFiles, the code `sluice replay` runs), so replayed records
// take the normal path: validation, durable commit, buffering, delivery. A file whose records
// were all acknowledged is renamed to <file>.replayed, so it is neither replayed twice nor lost.
// Thread: Start/status/Join on main; the work runs on the job's own thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "client-lib/client.h"
#include "client-lib/replay.h"

namespace sluice::server {

class ReplayJob {
 public:
  struct Snapshot {
    bool running = false;
    bool ever_started = false;
    std::string target;  // what REPLAY was given
    client::ReplayProgress progress;
    uint64_t files_renamed = 0;
    int64_t started_ms = 0;
    int64_t finished_ms = 0;
  };

  ReplayJob() = default;
  ~ReplayJob() { Join(); }
  ReplayJob(const ReplayJob&) = delete;
  ReplayJob& operator=(const ReplayJob&) = delete;

  // Starts replaying `files` into each file's own stream via `put` (the put port). kBusy while
  // another replay runs.
  base::Status Start(std::vector<std::string> files, std::string target, client::ClientOptions put);
  Snapshot status() const;
  // Waits for a running replay (it ends by itself once the put port closes at shutdown).
  void Join();

 private:
  void Run(std::vector<std::string> files, client::ClientOptions put);

  mutable base::Mutex mu_;
  Snapshot state_ SLUICE_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace sluice::server
