// Replay: re-put the records of backed-up segment files (.sseg) through a server's put path.
// Used by `sluice replay` and by the server's REPLAY admin command, so both behave the same.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace sluice::client {

class Client;

struct ReplayProgress {
  size_t files_total = 0;
  uint64_t files_done = 0;      // every record read and answered (acked or failed)
  uint64_t files_bad = 0;       // unreadable or not a segment file
  uint64_t records_acked = 0;
  uint64_t records_failed = 0;
  bool connection_ok = true;    // false: the connection broke; later files were not replayed
  std::string first_error;
};

// The .sseg files named by `paths` (files, or directories searched recursively), sorted.
// kNotFound names a path that does not exist.
base::Result<std::vector<std::string>> CollectSegmentFiles(const std::vector<std::string>& paths);

// Puts every record of every file into `stream` (empty: each file's own stream), pipelined on
// `c`. After each file, `on_file(path, all_acked, progress)` runs (all_acked: every record of
// that file was acknowledged durably). Stops early when the connection breaks.
using ReplayFileFn = std::function<void(const std::string& path, bool all_acked, const ReplayProgress&)>;
ReplayProgress ReplayFiles(Client& c, const std::vector<std::string>& files, const std::string& stream,
                           const ReplayFileFn& on_file);

}  // namespace sluice::client
