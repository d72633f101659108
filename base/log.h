// Leveled logging to stderr: one line per event, with time, level and module.
#pragma once

#include <cstdarg>
#include <string_view>

namespace sluice::base {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Thread-safe: one write(2) per line.
void SetLogLevel(LogLevel level);
// "debug", "info", "warn" or "error"; returns false (level unchanged) for anything else.
bool SetLogLevelByName(std::string_view name);
const char* LogLevelName();
void Log(LogLevel level, const char* module, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace sluice::base

#define SLUICE_LOG_DEBUG(module, ...) ::sluice::base::Log(::sluice::base::LogLevel::kDebug, module, __VA_ARGS__)
#define SLUICE_LOG_INFO(module, ...) ::sluice::base::Log(::sluice::base::LogLevel::kInfo, module, __VA_ARGS__)
#define SLUICE_LOG_WARN(module, ...) ::sluice::base::Log(::sluice::base::LogLevel::kWarn, module, __VA_ARGS__)
#define SLUICE_LOG_ERROR(module, ...) ::sluice::base::Log(::sluice::base::LogLevel::kError, module, __VA_ARGS__)
