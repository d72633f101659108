// Leveled logger: formats into a stack buffer and writes each line with one write(2).
#include "base/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace sluice::base {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kText)};
std::atomic<uint32_t> g_rate_limit{20};
constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
constexpr const char* kLevelNames[] = {"debug", "info", "warn", "error"};
constexpr size_t kLine = 2048;

// Per call site (its format string's address): lines written in the current second, and lines
// held back since the last one written. A fixed table; two sites sharing a slot share a budget.
struct Site {
  const char* fmt = nullptr;
  int64_t second = 0;
  uint32_t written = 0;
  uint64_t suppressed = 0;
};
std::mutex g_sites_mu;
Site g_sites[256];

// False when the line must be held back; *suppressed: lines held back before this one.
bool Admit(const char* fmt, int64_t second, uint64_t* suppressed) {
  const uint32_t limit = g_rate_limit.load(std::memory_order_relaxed);
  *suppressed = 0;
  if (limit == 0) return true;
  std::lock_guard<std::mutex> lock(g_sites_mu);
  Site& s = g_sites[(reinterpret_cast<uintptr_t>(fmt) >> 3) % 256];
  if (s.fmt != fmt) s = Site{fmt, second, 0, 0};
  if (s.second != second) {
    s.second = second;
    s.written = 0;
  }
  if (s.written >= limit) {
    s.suppressed++;
    return false;
  }
  s.written++;
  *suppressed = s.suppressed;
  s.suppressed = 0;
  return true;
}

// Appends `v` as the body of a JSON string (quotes, backslashes and control characters escaped).
size_t JsonAppend(char* buf, size_t at, size_t cap, std::string_view v) {
  for (char c : v) {
    if (at + 7 >= cap) break;
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      buf[at++] = '\\';
      buf[at++] = c;
    } else if (c == '\n') {
      buf[at++] = '\\';
      buf[at++] = 'n';
    } else if (u < 0x20) {
      at += static_cast<size_t>(std::snprintf(buf + at, cap - at, "\\u%04x", u));
    } else {
      buf[at++] = c;
    }
  }
  return at;
}

void Write(LogLevel level, const char* module, const LogContext* ctx, const char* fmt, va_list ap) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t suppressed = 0;
  if (!Admit(fmt, ts.tv_sec, &suppressed)) return;
  char message[kLine];
  int m = std::vsnprintf(message, sizeof message, fmt, ap);
  size_t mlen = m < 0 ? 0 : std::min(static_cast<size_t>(m), sizeof message - 1);
  if (suppressed > 0)
    mlen += static_cast<size_t>(std::snprintf(message + mlen, sizeof message - mlen, " (%llu similar lines suppressed)",
                                              static_cast<unsigned long long>(suppressed)));
  mlen = std::min(mlen, sizeof message - 1);
  tm tm_utc;
  gmtime_r(&ts.tv_sec, &tm_utc);
  char time[40];
  std::snprintf(time, sizeof time, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm_utc.tm_year + 1900, tm_utc.tm_mon + 1,
                tm_utc.tm_mday, tm_utc.tm_hour, tm_utc.tm_min, tm_utc.tm_sec, ts.tv_nsec / 1000000);
  char buf[kLine * 2];
  size_t len = 0;
  if (g_format.load(std::memory_order_relaxed) == static_cast<int>(LogFormat::kJson)) {
    len = static_cast<size_t>(std::snprintf(buf, sizeof buf, "{\"time\":\"%s\",\"level\":\"%s\",\"module\":\"", time,
                                            kLevelNames[static_cast<int>(level)]));
    len = JsonAppend(buf, len, sizeof buf, module);
    len += static_cast<size_t>(std::snprintf(buf + len, sizeof buf - len, "\",\"message\":\""));
    len = JsonAppend(buf, len, sizeof buf, std::string_view(message, mlen));
    auto field = [&](const char* key, std::string_view v) {
      if (v.empty() || len + 32 >= sizeof buf) return;
      len += static_cast<size_t>(std::snprintf(buf + len, sizeof buf - len, "\",\"%s\":\"", key));
      len = JsonAppend(buf, len, sizeof buf, v);
    };
    if (ctx != nullptr) {
      field("stream", ctx->stream);
      field("segment", ctx->segment);
      field("destination", ctx->destination);
    }
    if (suppressed > 0 && len + 40 < sizeof buf)
      len += static_cast<size_t>(std::snprintf(buf + len, sizeof buf - len, "\",\"suppressed\":\"%llu",
                                               static_cast<unsigned long long>(suppressed)));
    len = std::min(len, sizeof buf - 3);
    buf[len++] = '"';
    buf[len++] = '}';
  } else {
    len = static_cast<size_t>(std::snprintf(buf, sizeof buf, "%s %-5s %s: %.*s", time, kNames[static_cast<int>(level)], module,
                                            static_cast<int>(mlen), message));
    len = std::min(len, sizeof buf - 2);
  }
  buf[len++] = '\n';
  ssize_t ignored = ::write(STDERR_FILENO, buf, len);
  (void)ignored;  // nowhere to report a failed log write
}

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

bool SetLogFormatByName(std::string_view name) {
  if (name != "text" && name != "json") return false;
  g_format.store(static_cast<int>(name == "json" ? LogFormat::kJson : LogFormat::kText));
  return true;
}

const char* LogFormatName() { return g_format.load(std::memory_order_relaxed) == 1 ? "json" : "text"; }

void SetLogRateLimit(uint32_t lines_per_s) { g_rate_limit.store(lines_per_s); }

void Log(LogLevel level, const char* module, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Write(level, module, nullptr, fmt, ap);
  va_end(ap);
}

void LogWith(LogLevel level, const char* module, const LogContext& ctx, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Write(level, module, &ctx, fmt, ap);
  va_end(ap);
}

}  // namespace sluice::base
