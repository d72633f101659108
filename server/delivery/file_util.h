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

// Checks that `relative` names a place inside whatever root it is joined to: not absolute, no
// "." or ".." segment, no control character or NUL. Returns kInvalidArgument naming the problem.
base::Status CheckRelativePath(std::string_view relative);

// WriteFileAtomically(root + "/" + relative) after CheckRelativePath(relative): the one door
// through which destinations and backup stores write under their root, so no prefix, partition
// key or stream name can place a file outside it. kInvalidArgument for an escaping path.
base::Status WriteFileUnder(const std::string& root, std::string_view relative, std::string_view data);

}  // namespace sluice::server
