// BackupStore: where segments go that could not be delivered (or all segments, mode "all").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "server/delivery/destination.h"
#include "storage/segment.h"

namespace sluice::server {

// Why a segment is in the backup store; becomes the error record and the file's metadata.
struct BackupReason {
  std::string_view error_output_type;  // !{firehose:error-output-type}, e.g. "directory-failed"
  std::string_view error_code;         // e.g. "Directory.DeliveryFailed"
  std::string_view error_message;
  int64_t now_ms = 0;
};

// One record the processors could not handle (Firehose's processing-failed error record).
struct RecordFailure {
  std::string_view raw;  // the record as put (rawData)
  int64_t arrival_ms = 0;
  std::string code;      // errorCode, e.g. "Lambda.ProcessingFailed"
  std::string message;   // errorMessage
  uint32_t index = 0;    // in its segment (subSequenceNumber of format-conversion-failed records)
};

// Segment files (protocol/segment_file.h), laid out under the error output prefix, each with a
// Firehose-style error record beside it, in a directory or an S3 bucket:
//   <root>/<evaluated error prefix><stream>-<version>-<time>-<segment id>.sseg   (directory)
//   <evaluated error prefix><stream>-<version>-<time>-<segment id>.json          (S3 key)
// Both are written atomically (temp + rename, or one PUT); the same segment always maps to the
// same names, so writing a segment twice (a crash between backup and delete) replaces instead of
// duplicating.
// Thread: thread-safe (no mutable state; object stores are thread-safe).
class BackupStore {
 public:
  BackupStore(std::string root, std::string error_prefix);
  // Backups to a remote object store (an s3 bucket), keys laid out by the error prefix.
  BackupStore(std::shared_ptr<ObjectStore> remote, std::string error_prefix);
  // Returns kIOError when a file cannot be written; the caller keeps the segment in storage.
  base::Status Write(std::string_view stream, const storage::SegmentDescriptor& d,
                     const std::vector<std::string_view>& records, const BackupReason& why) const;
  // Records that failed processing or partitioning, under the error prefix evaluated with
  // `type` (processing-failed, partitioning-failed, activePartitionExceeded):
  //   <base>-<type>.json  one Firehose error record per line: attemptsMade, arrivalTimestamp,
  //                       errorCode, errorMessage, attemptEndingTimestamp, rawData (base64)
  //                       and, for Lambda failures, lambdaArn
  //   <base>-<type>.sseg  the same records as a segment file, for REPLAY
  // where <base> names the source segment (idempotent as Write).
  base::Status WriteRecordFailures(std::string_view stream, const storage::SegmentDescriptor& d,
                                   std::string_view type, const std::vector<RecordFailure>& failures,
                                   uint32_t attempts_made, std::string_view lambda_arn, int64_t now_ms) const;
  // The local directory ("" for remote backups: BACKUPS and REPLAY read local directories only).
  const std::string& root() const { return root_; }

 private:
  base::Status Put(const std::string& relative, std::string_view bytes) const;

  const std::string root_;
  const std::string error_prefix_;
  const std::shared_ptr<ObjectStore> remote_;
};

}  // namespace sluice::server
