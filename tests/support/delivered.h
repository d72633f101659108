// Reading what a directory destination delivered, for assertions.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sluice::test {

// Every delivered object under `root` (temp files skipped), decompressed by its extension
// (.gz, .zst, .snappy), split into newline-terminated records. Order: by file path, then within
// the file. Fails the current test on a file that cannot be decompressed.
std::vector<std::string> DeliveredRecords(const std::string& root);
// Paths of the delivered objects (relative to root), sorted.
std::vector<std::string> DeliveredFiles(const std::string& root);
// Records from `sluice inspect --dump` of a stopped server's data dir (still in storage).
std::vector<std::string> StoredRecords(const std::string& data_dir, const std::string& stream);
// One line of a .json error output file (Firehose's error record) in a backup store.
struct ErrorRecord {
  std::string type;  // the error output type folder it was found under ("processing-failed", ...)
  std::string code, message, raw, lambda_arn;
  int64_t attempts = 0, arrival = 0, ending = 0;
};
// Every error record under a backup store's root.
std::vector<ErrorRecord> ReadErrors(const std::string& backup_root);
// Polls `done` every 20 ms until it is true or `timeout` passes; returns its last value.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace sluice::test
