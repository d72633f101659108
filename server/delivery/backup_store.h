// BackupStore: where segments go that could not be delivered (or all segments, mode "all").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/segment.h"

namespace sluice::server {

// Why a segment is in the backup store; becomes the error record and the file's metadata.
struct BackupReason {
  std::string_view error_output_type;  // !{firehose:error-output-type}, e.g. "directory-failed"
  std::string_view error_code;         // e.g. "Directory.DeliveryFailed"
  std::string_view error_message;
  int64_t now_ms = 0;
};

// A directory of segment files (protocol/segment_file.h), laid out under the error output
// prefix, each with a Firehose-style error record beside it:
//   <root>/<evaluated error prefix><stream>-<version>-<time>-<segment id>.sseg
//   <root>/<evaluated error prefix><stream>-<version>-<time>-<segment id>.json
// Both are written atomically; the same segment always maps to the same names, so writing a
// segment twice (a crash between backup and delete) replaces instead of duplicating.
// Thread: thread-safe (no mutable state).
class BackupStore {
 public:
  BackupStore(std::string root, std::string error_prefix);
  // Returns kIOError when a file cannot be written; the caller keeps the segment in storage.
  base::Status Write(std::string_view stream, const storage::SegmentDescriptor& d,
                     const std::vector<std::string_view>& records, const BackupReason& why) const;
  const std::string& root() const { return root_; }

 private:
  const std::string root_;
  const std::string error_prefix_;
};

// Escapes `s` as the contents of a JSON string (no surrounding quotes).
std::string JsonEscape(std::string_view s);

}  // namespace sluice::server
