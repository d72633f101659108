// ProcessStats: this process's memory, CPU and file descriptors, from /proc/self.
#pragma once

#include <cstdint>

namespace sluice::server::monitor {

struct ProcessStats {
  uint64_t rss_bytes = 0;       // VmRSS
  uint64_t peak_rss_bytes = 0;  // VmHWM
  uint64_t virtual_bytes = 0;   // VmSize
  double cpu_seconds = 0;       // user + system
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;         // RLIMIT_NOFILE (soft)
};

// Zeros for what /proc does not answer.
ProcessStats ReadProcessStats();

}  // namespace sluice::server::monitor
