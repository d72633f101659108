// Leveled logger; formats into a stack buffer and writes each line with one write(2).
#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>

namespace sluice::base {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
constexpr const char* kLevelNames[] = {"debug", "info", "warn", "error"};
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool SetLogLevelByName(std::string_view name) {
  for (int i = 0; i < 4; i++)
    if (name == kLevelNames[i]) {
      SetLogLevel(static_cast<LogLevel>(i));
      return true;
    }
  return false;
}

const char* LogLevelName() { return kLevelNames[g_level.load(std::memory_order_relaxed)]; }

void Log(LogLevel level, const char* module, const char* fmt, ...) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  char buf[2048];
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm tm_utc;
  gmtime_r(&ts.tv_sec, &tm_utc);
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
                        tm_utc.tm_year + 1900, tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour,
                        tm_utc.tm_min, tm_utc.tm_sec, ts.tv_nsec / 1000000,
                        kNames[static_cast<int>(level)], module);
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
  va_end(ap);
  size_t len = n + (m < 0 ? 0 : static_cast<size_t>(m));
  if (len > sizeof(buf) - 2) len = sizeof(buf) - 2;
  buf[len++] = '\n';
  ssize_t ignored = ::write(STDERR_FILENO, buf, len);
  (void)ignored;  // nowhere to report a failed log write
}

}  // namespace sluice::base
