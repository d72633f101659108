// Leveled logging to stderr: one line per event, with time, level and module, as text or as one
// JSON object per line (--log-format json), rate-limited per call site.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <string_view>

namespace sluice::base {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kText = 0, kJson = 1 };

// What an event is about, where it applies (empty: not shown). JSON lines carry them as fields;
// text lines do not repeat them (their messages name the stream and segment already).
struct LogContext {
  std::string_view stream;
  std::string_view segment;
  std::string_view destination;
};

// Thread-safe: one write(2) per line.
void SetLogLevel(LogLevel level);
// "debug", "info", "warn" or "error"; returns false (level unchanged) for anything else.
bool SetLogLevelByName(std::string_view name);
const char* LogLevelName();
// "text" or "json"; returns false (format unchanged) for anything else.
bool SetLogFormatByName(std::string_view name);
const char* LogFormatName();
// At most `lines_per_s` lines a second from one call site (0: no limit). What is held back is
// counted, and the next line that call site writes says how many were suppressed, so a failing
// destination retrying many segments cannot fill the disk with the same line.
void SetLogRateLimit(uint32_t lines_per_s);

void Log(LogLevel level, const char* module, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
void LogWith(LogLevel level, const char* module, const LogContext& ctx, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));

}  // namespace sluice::base

#define SLUICE_LOG_DEBUG(module, ...) ::sluice::base::Log(::sluice::base::LogLevel::kDebug, module, __VA_ARGS__)
#define SLUICE_LOG_INFO(module, ...) ::sluice::base::Log(::sluice::base::LogLevel::kInfo, module, __VA_ARGS__)
#define SLUICE_LOG_WARN(module, ...) ::sluice::base::Log(::sluice::base::LogLevel::kWarn, module, __VA_ARGS__)
#define SLUICE_LOG_ERROR(module, ...) ::sluice::base::Log(::sluice::base::LogLevel::kError, module, __VA_ARGS__)
// The same with a LogContext: SLUICE_LOG_WARN_CTX("delivery", {name, id, kind}, "...", ...).
#define SLUICE_LOG_INFO_CTX(module, ctx, ...) \
  ::sluice::base::LogWith(::sluice::base::LogLevel::kInfo, module, ::sluice::base::LogContext ctx, __VA_ARGS__)
#define SLUICE_LOG_WARN_CTX(module, ctx, ...) \
  ::sluice::base::LogWith(::sluice::base::LogLevel::kWarn, module, ::sluice::base::LogContext ctx, __VA_ARGS__)
#define SLUICE_LOG_ERROR_CTX(module, ctx, ...) \
  ::sluice::base::LogWith(::sluice::base::LogLevel::kError, module, ::sluice::base::LogContext ctx, __VA_ARGS__)
