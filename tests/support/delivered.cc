// Delivered-object readers for the integration tests.
#include "tests/support/delivered.h"

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "server/delivery/codec.h"
#include "server/encoding/base64.h"
#include "tests/support/test_server.h"

namespace sluice::test {
namespace {
void SplitLines(const std::string& text, std::vector<std::string>* out) {
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out->push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
}
}  // namespace

std::vector<std::string> DeliveredFiles(const std::string& root) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!std::filesystem::exists(root, ec)) return files;
  // Non-throwing calls only: sluiced renames its temp files while this walks.
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code entry_ec;
    if (!it->is_regular_file(entry_ec)) continue;
    std::string name = it->path().string();
    if (name.find(".tmp-") != std::string::npos) continue;
    std::string rel = name.substr(root.size() + (root.back() == '/' ? 0 : 1));
    files.push_back(rel);
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> DeliveredRecords(const std::string& root) {
  std::vector<std::string> records;
  for (const std::string& rel : DeliveredFiles(root)) {
    std::string bytes = ReadFile(root + "/" + rel);
    server::Compression c = server::Compression::kNone;
    if (rel.ends_with(".gz")) c = server::Compression::kGzip;
    if (rel.ends_with(".zst")) c = server::Compression::kZstd;
    if (rel.ends_with(".snappy")) c = server::Compression::kSnappy;
    auto plain = server::Decompress(c, bytes);
    INFO(rel << ": " << plain.status().ToString());
    REQUIRE(plain.ok());
    SplitLines(plain.value(), &records);
  }
  return records;
}

std::vector<std::string> StoredRecords(const std::string& data_dir, const std::string& stream) {
  std::string out, err;
  int rc = RunCommand({BinaryPath("sluice"), "inspect", "--data-dir", data_dir, "--stream", stream, "--dump"}, &out, &err);
  INFO(err);
  REQUIRE(rc == 0);
  std::vector<std::string> records;
  SplitLines(out, &records);
  return records;
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::vector<ErrorRecord> ReadErrors(const std::string& backup_root) {
  namespace fs = std::filesystem;
  std::vector<ErrorRecord> out;
  if (!fs::exists(backup_root)) return out;
  simdjson::dom::parser parser;
  for (const auto& e : fs::recursive_directory_iterator(backup_root)) {
    if (!e.is_regular_file() || e.path().extension() != ".json") continue;
    std::string rel = fs::relative(e.path(), backup_root).string();
    std::ifstream in(e.path());
    std::string line;
    while (std::getline(in, line)) {
      simdjson::dom::object o;
      if (parser.parse(line).get_object().get(o) != simdjson::SUCCESS) continue;
      ErrorRecord r;
      r.type = rel.substr(0, rel.find('/'));
      std::string_view v;
      if (o["errorCode"].get_string().get(v) == simdjson::SUCCESS) r.code = v;
      if (o["errorMessage"].get_string().get(v) == simdjson::SUCCESS) r.message = v;
      // format-conversion-failed records name them as Firehose does there.
      if (o["lastErrorCode"].get_string().get(v) == simdjson::SUCCESS) r.code = v;
      if (o["lastErrorMessage"].get_string().get(v) == simdjson::SUCCESS) r.message = v;
      if (o["rawData"].get_string().get(v) == simdjson::SUCCESS) r.raw = server::Base64Decode(v).value_or("<bad base64>");
      if (o["lambdaArn"].get_string().get(v) == simdjson::SUCCESS) r.lambda_arn = v;
      r.attempts = o["attemptsMade"].get_int64().value_unsafe();
      r.arrival = o["arrivalTimestamp"].get_int64().value_unsafe();
      r.ending = o["attemptEndingTimestamp"].get_int64().value_unsafe();
      out.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace sluice::test
