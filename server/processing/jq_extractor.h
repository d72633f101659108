// JqExtractor: Firehose's MetadataExtraction with libjq 1.6 (the engine Firehose runs).
//
// The query is compiled once per stream configuration: a compiled jq_state is not thread-safe,
// so the extractor keeps a small pool of them (one per delivery worker using it at the moment,
// compiled on first use; at most delivery_threads). Each record is parsed with jq's own parser
// (nesting depth capped at 256 by jq 1.6) and every jv is freed before the next record, so jq's
// memory is bounded by one record (records are at most max_record_bytes) plus the program.
// The query's first output must be an object of at most 50 keys whose values are strings,
// numbers or booleans; null, a missing key, an array or an object is an error for that record.
// Limitation: jq 1.6 has no way to interrupt a running program, so a query that loops forever
// (e.g. `[repeat(.)]`) would hold a delivery worker; the query is the operator's configuration,
// not producer input.
// Thread: Extract is thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"

struct jq_state;

namespace sluice::server {

using PartitionKeys = std::map<std::string, std::string>;
inline constexpr size_t kMaxPartitionKeys = 50;
inline constexpr size_t kMaxPartitionKeyValueBytes = 512;

// Compiles `query` once to check it. kInvalidArgument carries jq's compile messages.
base::Status CheckJqQuery(std::string_view query);

class JqExtractor {
 public:
  explicit JqExtractor(std::string query);
  ~JqExtractor();
  JqExtractor(const JqExtractor&) = delete;
  JqExtractor& operator=(const JqExtractor&) = delete;

  // The partition keys of one JSON record. kInvalidArgument says why not: "not JSON: ...",
  // "jq error: ...", "no output", "output is not an object", "key 'k' is null", ...
  base::Result<PartitionKeys> Extract(std::string_view json);

  struct State;  // one compiled jq program (jq_extractor.cc)

 private:
  std::unique_ptr<State> Acquire(base::Status* error);
  void Release(std::unique_ptr<State> s);

  const std::string query_;
  base::Mutex mu_;
  std::vector<std::unique_ptr<State>> idle_ SLUICE_GUARDED_BY(mu_);
};

}  // namespace sluice::server
