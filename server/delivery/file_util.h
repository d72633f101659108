// Crash-safe file writing shared by the directory destination and the backup store.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::server {

// Writes `data` to `path` so that a reader sees either the old file or the complete new one:
// creates parent directories, writes "<path>.tmp-<unique>", fsyncs it, renames it over `path`,
// and fsyncs the directory. Returns kIOError with the errno text (disk full included).
base::Status WriteFileAtomically(const std::string& path, std::string_view data);

}  // namespace sluice::server
