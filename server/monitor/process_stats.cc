// Reads /proc/self/status, getrusage and /proc/self/fd.
#include "server/monitor/process_stats.h"

#include <dirent.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sluice::server::monitor {

ProcessStats ReadProcessStats() {
  ProcessStats p;
  if (FILE* f = std::fopen("/proc/self/status", "re")) {
    char line[256];
    auto kb = [&line](const char* key, uint64_t* out) {
      const size_t n = std::strlen(key);
      if (std::strncmp(line, key, n) == 0) *out = std::strtoull(line + n, nullptr, 10) * 1024;
    };
    while (std::fgets(line, sizeof line, f)) {
      kb("VmRSS:", &p.rss_bytes);
      kb("VmHWM:", &p.peak_rss_bytes);
      kb("VmSize:", &p.virtual_bytes);
    }
    std::fclose(f);
  }
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    p.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') p.open_fds++;
    closedir(d);
    if (p.open_fds > 0) p.open_fds--;  // the directory stream's own fd
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) p.max_fds = rl.rlim_cur;
  return p;
}

}  // namespace sluice::server::monitor
