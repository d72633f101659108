// Integration: the S3 destination against s3rver (npm) behind a proxy that verifies every
// request's SigV4 signature with the AWS SDK's implementation (tests/peers/sigv4_proxy.js),
// since s3rver itself accepts any signature.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "protocol/segment_file.h"
#include "server/delivery/codec.h"
#include "client-lib/client.h"
#include "tests/support/clients.h"
#include "tests/support/delivered.h"
#include "tests/support/peer.h"
#include "tests/support/raw_socket.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::Peer;
using sluice::test::TempDir;
using sluice::test::TestServer;
using sluice::test::WaitFor;

namespace {

constexpr char kBucket[] = "sluice-test";
constexpr char kObjectSuffix[] = "._S3rver_object";

struct S3Object {
  std::string key;
  std::string bytes;     // as stored
  std::string metadata;  // s3rver's metadata JSON (headers such as content-encoding)
};

std::vector<S3Object> Objects(const std::string& data_dir) {
  std::vector<S3Object> out;
  std::string root = data_dir + "/" + kBucket + "/";
  std::error_code ec;
  if (!std::filesystem::exists(root, ec)) return out;
  for (auto& e : std::filesystem::recursive_directory_iterator(root, ec)) {
    std::string path = e.path().string();
    if (path.size() < sizeof(kObjectSuffix) || path.compare(path.size() - sizeof(kObjectSuffix) + 1, std::string::npos, kObjectSuffix) != 0)
      continue;
    std::string key = path.substr(root.size(), path.size() - root.size() - (sizeof(kObjectSuffix) - 1));
    std::string base = path.substr(0, path.size() - (sizeof(kObjectSuffix) - 1));
    out.push_back({key, test::ReadFile(path), test::ReadFile(base + "._S3rver_metadata.json")});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  return out;
}

// Newline-delimited records of every object, decompressed by the key's extension. An object
// s3rver is still writing reads as incomplete: *complete is false (and the records partial).
std::vector<std::string> Records(const std::string& data_dir, bool* complete = nullptr) {
  std::vector<std::string> out;
  if (complete) *complete = true;
  for (const S3Object& o : Objects(data_dir)) {
    server::Compression c = server::Compression::kNone;
    if (o.key.ends_with(".gz")) c = server::Compression::kGzip;
    if (o.key.ends_with(".zst")) c = server::Compression::kZstd;
    if (o.key.ends_with(".snappy")) c = server::Compression::kSnappy;
    auto plain = server::Decompress(c, o.bytes);
    bool whole = plain.ok() && (plain->empty() || plain->back() == '\n');
    if (complete) {
      if (!whole) *complete = false;
      if (!whole) continue;
    } else {
      REQUIRE(whole);
    }
    std::string_view rest = plain.value();
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      out.emplace_back(rest.substr(0, nl));
      rest.remove_prefix(nl + 1);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// For waits: how many records are in complete objects so far.
size_t CountRecords(const std::string& data_dir) {
  bool complete = true;
  size_t n = Records(data_dir, &complete).size();
  return complete ? n : 0;
}

struct S3Fixture {
  TempDir tmp;
  std::string s3_data = tmp.Sub("s3rver");
  std::unique_ptr<Peer> s3;
  std::unique_ptr<Peer> proxy;
  std::unique_ptr<TestServer> server;

  S3Fixture() {
    REQUIRE_FALSE(test::NodePath().empty());  // scripts/setup installs nodejs and the npm peers
    REQUIRE(std::filesystem::exists(test::SourcePath("tests/peers/node_modules/s3rver")));
    std::filesystem::create_directories(s3_data);
    StartS3(0);
    proxy = std::make_unique<Peer>(
        std::vector<std::string>{test::NodePath(), test::SourcePath("tests/peers/sigv4_proxy.js"), tmp.Sub("proxy.port"),
                                 std::to_string(s3->port()), "S3RVER", "S3RVER", tmp.Sub("proxy.requests")},
        tmp.Sub("proxy.port"), tmp.Sub("proxy.log"));
    REQUIRE(proxy->Start());
  }
  void StartS3(uint16_t port) {
    s3 = std::make_unique<Peer>(std::vector<std::string>{test::NodePath(), test::SourcePath("tests/peers/s3rver.js"),
                                                         tmp.Sub("s3.port"), s3_data, kBucket, std::to_string(port)},
                                tmp.Sub("s3.port"), tmp.Sub("s3.log"));
    REQUIRE(s3->Start());
  }
  void StartServerWith(const std::string& toml) {
    std::ofstream(tmp.Sub("s.toml")) << toml;
    server = std::make_unique<TestServer>(tmp.Sub("data"), std::vector<std::string>{"--config", tmp.Sub("s.toml")});
    REQUIRE(server->Start());
  }
  // One stream "s" to the bucket through the verifying proxy.
  void StartServer(const std::string& stream_extra, const std::string& s3_extra = "",
                   const std::string& secret = "S3RVER") {
    std::ofstream cfg(tmp.Sub("s.toml"));
    cfg << "[[stream]]\nname = \"s\"\ndestination = \"s3\"\nappend_delimiter = true\n" << stream_extra
        << "[stream.s3]\nendpoint = \"http://127.0.0.1:" << proxy->port() << "\"\nbucket = \"" << kBucket
        << "\"\nprefix = \"logs/!{timestamp:yyyy}/\"\naccess_key_id = \"S3RVER\"\nsecret_access_key = \"" << secret
        << "\"\n" << s3_extra;
    cfg.close();
    server = std::make_unique<TestServer>(tmp.Sub("data"), std::vector<std::string>{"--config", tmp.Sub("s.toml")});
    REQUIRE(server->Start());
  }
  void Put(const std::vector<std::string>& records) { REQUIRE(test::PutRecords(server->port(), "s", records) == 0); }
  std::string Admin(const std::string& line) { return test::AdminAsk(server->admin_port(), line + "\r\n"); }
  std::string ProxyRequests() const { return test::ReadFile(tmp.Sub("proxy.requests")); }
};

std::vector<std::string> Numbered(const std::string& tag, int n, size_t pad = 0) {
  std::vector<std::string> out;
  for (int i = 0; i < n; i++) out.push_back(tag + "-" + std::to_string(i) + std::string(pad, 'x'));
  return out;
}

}  // namespace

TEST_CASE("S3: objects decompress to the records put, for every compression, with signed requests",
          "[integration][s3]") {
  for (const char* compression : {"none", "gzip", "zstd", "snappy"}) {
    DYNAMIC_SECTION(compression) {
      S3Fixture f;
      f.StartServer(std::string("compression = \"") + compression + "\"\nbuffering = { size_mib = 1, interval_s = 0 }\n");
      auto records = Numbered(compression, 3000);
      f.Put(records);
      std::sort(records.begin(), records.end());
      REQUIRE(WaitFor([&] { return CountRecords(f.s3_data) >= records.size(); }));
      CHECK(Records(f.s3_data) == records);
      // s3rver writes an object's metadata file after its bytes.
      REQUIRE(WaitFor([&] {
        for (const auto& o : Objects(f.s3_data))
          if (o.metadata.empty()) return false;
        return true;
      }));
      auto objects = Objects(f.s3_data);
      REQUIRE_FALSE(objects.empty());
      for (const auto& o : objects) {
        CHECK(o.key.rfind("logs/20", 0) == 0);
        CHECK(o.key.find("/s-1-") != std::string::npos);
        if (std::string(compression) == "gzip") {
          CHECK(o.key.ends_with(".gz"));
          CHECK(o.metadata.find("\"content-encoding\": \"gzip\"") != std::string::npos);
        }
      }
      // Every request reached s3rver only after the proxy recomputed its signature.
      CHECK(f.ProxyRequests().find("DENY") == std::string::npos);
      CHECK(f.ProxyRequests().find("OK PUT /sluice-test/logs/") != std::string::npos);
      CHECK(f.server->Stop() == 0);
    }
  }
}

TEST_CASE("S3: a large segment goes as a multipart upload", "[integration][s3]") {
  S3Fixture f;
  f.StartServer("compression = \"none\"\nbuffering = { size_mib = 16, interval_s = 900 }\n",
                "multipart_threshold_mib = 5\npart_size_mib = 5\n");
  auto records = Numbered("m", 12000, 1000);  // ~12 MB
  f.Put(records);
  CHECK(f.Admin("FLUSH s") == "+OK\r\n");
  std::sort(records.begin(), records.end());
  REQUIRE(WaitFor([&] { return CountRecords(f.s3_data) >= records.size(); }));
  CHECK(Records(f.s3_data) == records);
  std::string requests = f.ProxyRequests();
  CHECK(requests.find("?uploads= ") != std::string::npos);
  CHECK(requests.find("?partNumber=3&uploadId=") != std::string::npos);
  CHECK(requests.find("DENY") == std::string::npos);
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("S3: a wrong secret is refused by the signature check and fixed at run time",
          "[integration][s3]") {
  S3Fixture f;
  f.StartServer("buffering = { size_mib = 1, interval_s = 0 }\nretry_duration_s = 3600\n", "", "not-the-secret");
  f.Put({"a", "b"});
  REQUIRE(WaitFor([&] { return f.Admin("SEGMENTS s").find("SignatureDoesNotMatch") != std::string::npos; }));
  CHECK(Objects(f.s3_data).empty());
  CHECK(f.Admin("STREAM UPDATE s s3.secret_access_key S3RVER") == ":2\r\n");
  REQUIRE(WaitFor([&] { return CountRecords(f.s3_data) == 2; }, std::chrono::seconds(60)));
  CHECK(Records(f.s3_data) == std::vector<std::string>{"a", "b"});
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("S3: the store down for a while, and sluiced restarted meanwhile: nothing lost, keys stable",
          "[integration][s3]") {
  S3Fixture f;
  f.StartServer("compression = \"gzip\"\nbuffering = { size_mib = 1, interval_s = 0 }\nretry_duration_s = 3600\n");
  auto first = Numbered("before", 2000);
  f.Put(first);
  REQUIRE(WaitFor([&] { return CountRecords(f.s3_data) == first.size(); }));
  const uint16_t s3_port = f.s3->port();
  f.s3->Stop();
  auto second = Numbered("during", 3000);
  f.Put(second);
  REQUIRE(WaitFor([&] { return f.Admin("SEGMENTS s").find("attempts\r\n$1\r\n1") != std::string::npos; }));
  // The segment ids (and so the object keys) waiting now must be the ones delivered later.
  std::string waiting = f.Admin("SEGMENTS s");
  // sluiced restarts while the store is still down: the segments resume from storage.
  CHECK(f.server->Stop() == 0);
  REQUIRE(f.server->Start());
  f.StartS3(s3_port);
  auto all = first;
  all.insert(all.end(), second.begin(), second.end());
  std::sort(all.begin(), all.end());
  REQUIRE(WaitFor([&] { return CountRecords(f.s3_data) >= all.size(); }, std::chrono::seconds(90)));
  CHECK(Records(f.s3_data) == all);  // every record once: no object under a second key
  for (size_t at = waiting.find("$28\r\n"); at != std::string::npos; at = waiting.find("$28\r\n", at + 1)) {
    std::string id = waiting.substr(at + 5, 28);
    bool found = false;
    for (const auto& o : Objects(f.s3_data)) found |= o.key.find(id) != std::string::npos;
    CHECK(found);
  }
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("S3: a backup store in a bucket receives what another destination gave up on",
          "[integration][s3]") {
  S3Fixture f;
  // An HTTP endpoint that refuses connections, no retries: every segment goes to the backup
  // store, which is the bucket (reached through the verifying proxy).
  f.StartServerWith("[[stream]]\nname = \"s\"\ndestination = \"http\"\nretry_duration_s = 0\n"
                    "buffering = { size_mib = 1, interval_s = 0 }\n"
                    "[stream.http]\nurl = \"http://127.0.0.1:1/\"\n"
                    "[stream.backup]\nstore = \"s3\"\nbucket = \"" + std::string(kBucket) + "\"\n"
                    "[stream.s3]\nendpoint = \"http://127.0.0.1:" + std::to_string(f.proxy->port()) +
                    "\"\naccess_key_id = \"S3RVER\"\nsecret_access_key = \"S3RVER\"\n");
  f.Put({"lost-1", "lost-2", "lost-3"});
  auto backups = [&] {
    std::vector<S3Object> out;
    for (auto& o : Objects(f.s3_data))
      if (o.key.rfind("http-endpoint-failed/", 0) == 0) out.push_back(o);
    return out;
  };
  // s3rver writes an object's bytes as they arrive: read until every file is complete.
  std::vector<std::string> records;
  bool json_ok = false;
  auto read_backups = [&] {
    records.clear();
    json_ok = false;
    for (const auto& o : backups()) {
      if (o.key.ends_with(".json"))
        json_ok = o.bytes.find("\"errorCode\":\"HttpEndpoint.RetriesExhausted\"") != std::string::npos;
      if (!o.key.ends_with(".sseg")) continue;
      auto seg = proto::ParseSegmentFile(o.bytes);
      if (!seg.ok() || seg->stream != "s") return false;
      seg->ForEach([&](std::string_view r) { records.emplace_back(r); });
    }
    std::sort(records.begin(), records.end());
    return json_ok && records.size() == 3;
  };
  REQUIRE(WaitFor(read_backups));
  CHECK(records == std::vector<std::string>{"lost-1", "lost-2", "lost-3"});
  CHECK(f.ProxyRequests().find("DENY") == std::string::npos);
  // The counters move once the bucket's answer to the last PUT is read, just after s3rver wrote it.
  CHECK(WaitFor([&] { return f.Admin("STATS s").find("BackupToS3.Records\r\n$1\r\n3") != std::string::npos; }));
  CHECK(f.Admin("STATS s").find("DeliveryToHttpEndpoint.Records") != std::string::npos);
  CHECK(f.Admin("REPLAY s").find("REPLAY reads local files") != std::string::npos);
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("S3: dynamic partitioning puts each partition's records under its own prefix, compressed",
          "[integration][s3][processing]") {
  S3Fixture f;
  f.StartServerWith("[[stream]]\nname = \"s\"\ndestination = \"s3\"\ncompression = \"gzip\"\n"
                    "buffering = { size_mib = 1, interval_s = 1 }\n"
                    "[[stream.processors]]\ntype = \"MetadataExtraction\"\nJsonParsingEngine = \"JQ-1.6\"\n"
                    "MetadataExtractionQuery = \"{c: .customer, y: (.ts | strftime(\\\"%Y\\\"))}\"\n"
                    "[[stream.processors]]\ntype = \"AppendDelimiterToRecord\"\n"
                    "[stream.s3]\nendpoint = \"http://127.0.0.1:" + std::to_string(f.proxy->port()) +
                    "\"\nbucket = \"" + kBucket +
                    "\"\nprefix = \"customer=!{partitionKeyFromQuery:c}/year=!{partitionKeyFromQuery:y}/\"\n"
                    "access_key_id = \"S3RVER\"\nsecret_access_key = \"S3RVER\"\n");
  std::vector<std::string> records;
  for (int i = 0; i < 300; i++)
    records.push_back("{\"customer\":\"c" + std::to_string(i % 3) + "\",\"ts\":1700000000,\"i\":" + std::to_string(i) + "}");
  f.Put(records);
  std::sort(records.begin(), records.end());
  REQUIRE(WaitFor([&] { return CountRecords(f.s3_data) == records.size(); }));
  CHECK(Records(f.s3_data) == records);
  std::set<std::string> prefixes;
  for (const auto& o : Objects(f.s3_data)) {
    CHECK(o.key.ends_with(".gz"));
    std::string prefix = o.key.substr(0, o.key.find("/s-1-"));
    prefixes.insert(prefix);
    auto plain = server::Decompress(server::Compression::kGzip, o.bytes);
    REQUIRE(plain.ok());
    std::string customer = prefix.substr(std::string("customer=").size(), 2);
    CHECK(plain->find("\"customer\":\"" + customer + "\"") != std::string::npos);
    for (const char* other : {"c0", "c1", "c2"})
      if (customer != other) CHECK(plain->find(std::string("\"customer\":\"") + other + "\"") == std::string::npos);
  }
  CHECK(prefixes == std::set<std::string>{"customer=c0/year=2023", "customer=c1/year=2023", "customer=c2/year=2023"});
  CHECK(f.ProxyRequests().find("DENY") == std::string::npos);
  CHECK(f.server->Stop() == 0);
}
