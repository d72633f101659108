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
  uint64_t files_renamed = 0;   // fully acked files renamed to <name>.replayed
  bool connection_ok = true;    // false: the connection broke; later files were not replayed
  std::string first_error;
};

// Largest segment file read (a segment holds at most a few hundred MiB of records).
inline constexpr uint64_t kMaxSegmentFileBytes = 4ull << 30;

// The .sseg files named by `paths` (regular files, or directories searched recursively without
// following directory symlinks), sorted and unique. Never throws. Returns kNotFound for a path
// that does not exist, kInvalidArgument naming what a path is when it is neither a regular file
// nor a directory (a FIFO, a device), kIOError when a directory cannot be listed. Entries
// named *.sseg inside a directory that cannot be stat'ed or are not regular files are left
// out and, when `skipped` is given, described there (at most 100).
base::Result<std::vector<std::string>> CollectSegmentFiles(const std::vector<std::string>& paths,
                                                           std::vector<std::string>* skipped = nullptr);

// Reads a whole segment file: a regular file of at most kMaxSegmentFileBytes, opened without
// blocking (a FIFO put in its place is refused, not waited on). kInvalidArgument names what
// the path is when it is not a regular file; kIOError otherwise.
base::Status ReadSegmentFileBytes(const std::string& path, std::string* out);

// Puts every record of every file into `stream` (empty: each file's own stream), pipelined on
// `c`. A file whose every record was acknowledged durably is renamed to <path>.replayed when
// `mark_replayed` (so a second replay does not put it twice; both `sluice replay` and the
// admin REPLAY do this). After each file, `on_file(path, all_acked, progress)` runs. Stops
// early when the connection breaks.
using ReplayFileFn = std::function<void(const std::string& path, bool all_acked, const ReplayProgress&)>;
ReplayProgress ReplayFiles(Client& c, const std::vector<std::string>& files, const std::string& stream,
                           bool mark_replayed, const ReplayFileFn& on_file);

}  // namespace sluice::client
