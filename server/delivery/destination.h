// Destination: where a stream's delivered objects go. Each kind is a folder under destinations/,
// registered in destinations/kinds.inc (destinations/registry.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sluice::server {

// Three-way outcome: only the DeliveryPool decides what happens next (backoff, backup).
enum class Outcome { kOk, kRetry, kFail };

// One record a destination refused while it took the others (a row PostgreSQL would not load,
// a document the search engine rejected): it goes to the backup store with this code and message.
struct RejectedRecord {
  uint32_t index = 0;  // in DeliveryObject::records
  std::string code;    // the destination's error code ("Redshift.22P02", ...)
  std::string message;
};

struct DeliveryResult {
  Outcome outcome = Outcome::kOk;
  std::string message;  // why, for kRetry / kFail (kept in the segment and the backup record)
  // With kOk: records the destination refused for themselves; the rest were delivered. The pool
  // writes them to the backup store (error records beside a segment file, for REPLAY) before
  // the segment leaves storage.
  std::vector<RejectedRecord> rejected;
  static DeliveryResult Ok() { return {}; }
  static DeliveryResult Retry(std::string m) { return {Outcome::kRetry, std::move(m), {}}; }
  static DeliveryResult Fail(std::string m) { return {Outcome::kFail, std::move(m), {}}; }
};

// One object to deliver: a processed, compressed segment, and its records one by one.
struct DeliveryObject {
  std::string_view stream;
  uint32_t stream_version = 0;
  std::string_view segment_id;     // idempotency key: same id -> same object name / request id
  int64_t oldest_arrival_ms = 0;   // names and prefixes use this time
  uint32_t record_count = 0;
  std::string_view body;           // processed and compressed bytes (when needs_body())
  std::span<const std::string_view> records;  // the records as put, in order
  std::span<const int64_t> arrivals;           // each record's arrival (Unix ms), as records
  std::string_view extension;      // ".gz", ... (or the stream's file_extension)
  std::string_view content_encoding;
  // A partition segment's object goes under its evaluated prefix (dynamic partitioning) instead
  // of the destination's own prefix.
  bool partitioned = false;
  std::string_view partition_prefix;
};

// Thread: Deliver may be called from several delivery workers at once; implementations are
// thread-safe. Destinations classify and return; they never sleep or retry by themselves.
class Destination {
 public:
  virtual ~Destination() = default;
  virtual DeliveryResult Deliver(const DeliveryObject& object) = 0;
  // Metric name part ("Directory" -> DeliveryToDirectory.Records).
  virtual std::string_view kind() const = 0;
  // !{firehose:error-output-type} of segments this destination gave up on.
  virtual std::string_view error_output_type() const = 0;
  // False for destinations that send records individually (HTTP endpoint): the pool then skips
  // building the delimited, compressed object body.
  virtual bool needs_body() const { return true; }
};

// An object store a backup store can write to (a remote kind's bucket).
// Thread: implementations are thread-safe.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // Writes `body` under `key`, replacing an object of that name. kIOError says why.
  virtual base::Status Upload(const std::string& key, std::string_view body) = 0;
  // "s3://bucket/" — for messages (REPLAY of a remote backup store refers the user to it).
  virtual std::string Location() const = 0;
};

}  // namespace sluice::server
