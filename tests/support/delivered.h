// Reading what a directory destination delivered, for assertions.
#pragma once

#include <chrono>
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
// Polls `done` every 20 ms until it is true or `timeout` passes; returns its last value.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace sluice::test
