// Integration: garbage, truncated and hostile frames never stop the server from serving others.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <atomic>
#include <random>
#include <thread>

#include "protocol/frame.h"
#include "protocol/messages.h"
#include "client-lib/client.h"
#include "tests/support/raw_socket.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::proto::WireError;
using sluice::test::RawSocket;
using sluice::test::TempDir;
using sluice::test::TestServer;

namespace {

// Returns the wire code of the first Error frame in `bytes`, or -1.
int FirstErrorCode(const std::string& bytes, bool* closing, uint32_t* request_id = nullptr) {
  auto frame = proto::DecodeFrame({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, 1 << 20);
  if (!frame.ok() || !frame.value().has_value()) return -1;
  if (frame.value()->header.type != proto::MessageType::kError) return -2;
  if (request_id) *request_id = frame.value()->header.request_id;
  std::vector<uint64_t> aligned(frame.value()->body.size() / 8 + 1);
  std::memcpy(aligned.data(), frame.value()->body.data(), frame.value()->body.size());
  auto* e = flatbuffers::GetRoot<wire::Error>(aligned.data());
  *closing = e->closing();
  return e->code();
}

std::string PutFrame(uint32_t req, const std::vector<std::string_view>& recs) {
  proto::PutRecordBatchEncoder enc;
  std::string out;
  enc.Encode(req, "default", recs, &out);
  return out;
}

}  // namespace

TEST_CASE("BadInput: each kind of bad frame gets an error frame and a close", "[integration][badinput]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  std::string good = PutFrame(1, {"x"});
  struct Case {
    const char* name;
    std::string bytes;
    WireError expect;
    uint32_t request_id;  // echoed whenever the 24-byte header was readable
  };
  std::string bad_sum = good;
  bad_sum.back() ^= 1;
  std::string huge = good.substr(0, proto::kFrameHeaderSize);
  huge[8] = huge[9] = huge[10] = huge[11] = '\x7f';
  std::string bad_body;
  std::string junk(40, '\x01');
  proto::AppendFrame(proto::MessageType::kPutRecordBatch, 9,
                     {reinterpret_cast<const uint8_t*>(junk.data()), junk.size()}, &bad_body);
  std::string response_type;
  proto::EncodeError(3, WireError::kInternal, "from a client?", false, &response_type);
  std::string bad_version = good;
  bad_version[4] = 9;
  std::string bad_flags = good;
  bad_flags[6] = 1;
  std::string bad_type = good;
  bad_type[5] = 77;
  std::vector<Case> cases = {
      {"text", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", WireError::kMalformedFrame, 0},
      {"checksum", bad_sum, WireError::kBadChecksum, 1},
      {"oversized", huge, WireError::kFrameTooLarge, 1},
      {"flatbuffers", bad_body, WireError::kMalformedBody, 9},
      {"not a request", response_type, WireError::kInvalidRequest, 3},
      {"version", bad_version, WireError::kUnsupportedVersion, 1},
      {"flags", bad_flags, WireError::kMalformedFrame, 1},
      {"type", bad_type, WireError::kUnknownMessageType, 1},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    RawSocket s(server.port());
    REQUIRE(s.connected());
    REQUIRE(s.Send(c.bytes));
    bool closed = false;
    std::string reply = s.ReadUntilClose(5000, &closed);
    bool closing = false;
    uint32_t request_id = 12345;
    CHECK(FirstErrorCode(reply, &closing, &request_id) == static_cast<int>(c.expect));
    CHECK(request_id == c.request_id);
    CHECK(closing);
    CHECK(closed);
  }
}

TEST_CASE("BadInput: an empty batch gets an empty response and the connection stays open",
          "[integration][badinput]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  RawSocket s(server.port());
  REQUIRE(s.Send(PutFrame(5, {}) + PutFrame(6, {"after"})));
  s.ShutdownWrite();
  bool closed = false;
  std::string reply = s.ReadUntilClose(5000, &closed);
  size_t off = 0;
  for (uint32_t want : {5u, 6u}) {
    std::string rest = reply.substr(off);
    auto f = proto::DecodeFrame({reinterpret_cast<const uint8_t*>(rest.data()), rest.size()}, 1 << 20);
    REQUIRE(f.ok());
    REQUIRE(f.value().has_value());
    CHECK(f.value()->header.type == proto::MessageType::kPutRecordBatchResponse);
    CHECK(f.value()->header.request_id == want);
    std::vector<uint64_t> aligned(f.value()->body.size() / 8 + 1);
    std::memcpy(aligned.data(), f.value()->body.data(), f.value()->body.size());
    auto* resp = flatbuffers::GetRoot<wire::PutRecordBatchResponse>(aligned.data());
    CHECK(resp->results()->size() == (want == 5 ? 0u : 1u));
    CHECK(resp->failed_put_count() == 0);
    off += f.value()->size();
  }
  CHECK(closed);
  CHECK(server.Stop() == 0);
}

TEST_CASE("BadInput: a too-large batch is refused alone and the connection keeps working",
          "[integration][badinput]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"), {"--max-batch-records", "2"});
  REQUIRE(server.Start());
  RawSocket s(server.port());
  REQUIRE(s.Send(PutFrame(1, {"a", "b", "c"}) + PutFrame(2, {"a", "b"})));
  s.ShutdownWrite();
  bool closed = false;
  std::string reply = s.ReadUntilClose(5000, &closed);
  bool closing = true;
  CHECK(FirstErrorCode(reply, &closing) == static_cast<int>(WireError::kBatchTooLarge));
  CHECK_FALSE(closing);
  // The second frame got a normal response after the error frame; then EOF closed politely.
  auto first = proto::DecodeFrame({reinterpret_cast<const uint8_t*>(reply.data()), reply.size()}, 1 << 20);
  REQUIRE(first.ok());
  REQUIRE(first.value().has_value());
  std::string rest = reply.substr(first.value()->size());
  auto second = proto::DecodeFrame({reinterpret_cast<const uint8_t*>(rest.data()), rest.size()}, 1 << 20);
  REQUIRE(second.ok());
  REQUIRE(second.value().has_value());
  CHECK(second.value()->header.type == proto::MessageType::kPutRecordBatchResponse);
  CHECK(second.value()->header.request_id == 2);
  CHECK(closed);
}

TEST_CASE("BadInput: garbage on many sockets does not disturb a well-behaved client",
          "[integration][badinput]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  std::atomic<bool> stop{false};
  std::atomic<int> garbage_conns{0};
  std::thread attacker([&] {
    std::mt19937 rng(7);
    std::string good = PutFrame(1, {"y"});
    while (!stop) {
      RawSocket s(server.port());
      std::string bytes;
      switch (rng() % 4) {
        case 0: bytes.resize(rng() % 5000); for (auto& ch : bytes) ch = static_cast<char>(rng()); break;
        case 1: bytes = good.substr(0, rng() % good.size()); break;  // truncated, then disconnect
        case 2: bytes = good; bytes[proto::kFrameHeaderSize + rng() % (good.size() - proto::kFrameHeaderSize)] ^= 0x20; break;
        default: bytes = "SLUI" + std::string(rng() % 64, '\xff'); break;
      }
      s.Send(bytes);
      garbage_conns++;
    }
  });
  client::ClientOptions o;
  o.port = server.port();
  auto c = client::Client::Connect(o);
  REQUIRE(c.ok());
  int ok_batches = 0;
  std::vector<std::string> recs(100, std::string(100, 'r'));
  std::vector<std::string_view> views(recs.begin(), recs.end());
  for (int i = 0; i < 200; i++) {
    auto r = c.value()->PutRecordBatch("default", views);
    if (r.ok() && r->failed_count == 0) ok_batches++;
  }
  stop = true;
  attacker.join();
  CHECK(ok_batches == 200);
  CHECK(garbage_conns > 10);
  c.value().reset();
  CHECK(server.Stop() == 0);
}

TEST_CASE("BadInput: 2,000 connections at once, idle, mid-frame or never reading, and a client still gets acks",
          "[integration][badinput]") {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
    rl.rlim_cur = 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 2100) SLUICE_SKIP("RLIMIT_NOFILE is too low for 2,000 connections");
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  std::string good = PutFrame(1, {std::string(1000, 'z')});
  std::vector<std::unique_ptr<RawSocket>> conns;
  for (int i = 0; i < 2000; i++) {
    conns.push_back(std::make_unique<RawSocket>(server.port()));
    REQUIRE(conns.back()->connected());
    switch (i % 4) {
      case 0: break;                                                          // idle
      case 1: conns.back()->Send(good.substr(0, proto::kFrameHeaderSize + 3)); break;  // mid-frame, stalled
      case 2: for (int k = 0; k < 50; k++) conns.back()->Send(good); break;   // puts, never reads acks
      case 3: conns.back()->Send(good.substr(0, 10)); break;                  // half a header
    }
  }
  client::ClientOptions o;
  o.port = server.port();
  auto c = client::Client::Connect(o);
  REQUIRE(c.ok());
  std::vector<std::string_view> recs = {"still", "served"};
  for (int i = 0; i < 20; i++) {
    auto r = c.value()->PutRecordBatch("default", recs);
    REQUIRE(r.ok());
    CHECK(r->failed_count == 0);
  }
  conns.clear();  // 2,000 disconnects, some mid-frame
  auto r = c.value()->PutRecordBatch("default", recs);
  REQUIRE(r.ok());
  CHECK(r->failed_count == 0);
  c.value().reset();
  CHECK(server.Stop() == 0);
}
