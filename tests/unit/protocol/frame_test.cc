#include <catch2/catch.hpp>

#include <cstring>

#include "protocol/frame.h"
#include "protocol/messages.h"

using namespace sluice::proto;

namespace {
std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
std::string OneFrame() {
  std::string out;
  EncodeError(7, WireError::kThrottled, "Slow down.", false, &out);
  return out;
}
}  // namespace

TEST_CASE("Frame: encode then decode round-trips header and body", "[protocol][frame]") {
  std::string f = OneFrame();
  auto d = DecodeFrame(Bytes(f), 1 << 20);
  REQUIRE(d.ok());
  REQUIRE(d.value().has_value());
  const Frame& frame = *d.value();
  CHECK(frame.header.type == MessageType::kError);
  CHECK(frame.header.request_id == 7);
  CHECK(frame.size() == f.size());
  CHECK(std::memcmp(f.data(), "SLUI", 4) == 0);
}

TEST_CASE("Frame: a truncated frame asks for more bytes at every cut", "[protocol][frame]") {
  std::string f = OneFrame();
  for (size_t cut = 0; cut < f.size(); cut++) {
    auto d = DecodeFrame(Bytes(f.substr(0, cut)), 1 << 20);
    REQUIRE(d.ok());
    CHECK_FALSE(d.value().has_value());
  }
}

TEST_CASE("Frame: two frames back to back decode one at a time", "[protocol][frame]") {
  std::string f = OneFrame() + OneFrame();
  auto d = DecodeFrame(Bytes(f), 1 << 20);
  REQUIRE(d.ok());
  REQUIRE(d.value().has_value());
  CHECK(d.value()->size() * 2 == f.size());
}

TEST_CASE("Frame: bad header fields are refused with the right wire code", "[protocol][frame]") {
  std::string f = OneFrame();
  WireError why = WireError::kOk;
  SECTION("bad magic") {
    f[0] = 'X';
    CHECK_FALSE(DecodeFrame(Bytes(f), 1 << 20, &why).ok());
    CHECK(why == WireError::kMalformedFrame);
  }
  SECTION("unsupported version") {
    f[4] = 9;
    CHECK_FALSE(DecodeFrame(Bytes(f), 1 << 20, &why).ok());
    CHECK(why == WireError::kUnsupportedVersion);
  }
  SECTION("unknown message type") {
    f[5] = 99;
    CHECK_FALSE(DecodeFrame(Bytes(f), 1 << 20, &why).ok());
    CHECK(why == WireError::kUnknownMessageType);
  }
  SECTION("non-zero flags") {
    f[6] = 1;
    CHECK_FALSE(DecodeFrame(Bytes(f), 1 << 20, &why).ok());
    CHECK(why == WireError::kMalformedFrame);
  }
  SECTION("oversized body is refused from the header alone") {
    std::string header = f.substr(0, kFrameHeaderSize);
    auto d = DecodeFrame(Bytes(header), 16, &why);
    REQUIRE_FALSE(d.ok());
    CHECK(d.status().code() == sluice::base::Code::kTooLarge);
    CHECK(why == WireError::kFrameTooLarge);
  }
  SECTION("bad checksum") {
    f.back() ^= 0x40;
    auto d = DecodeFrame(Bytes(f), 1 << 20, &why);
    REQUIRE_FALSE(d.ok());
    CHECK(d.status().code() == sluice::base::Code::kCorruption);
    CHECK(why == WireError::kBadChecksum);
  }
}

TEST_CASE("WireError: names, meanings and retryability come from one table", "[protocol][errors]") {
  CHECK(WireErrorName(WireError::kUnknownStream) == "UnknownStream");
  CHECK(WireErrorMeaning(WireError::kThrottled) == "Slow down.");
  CHECK(IsRetryable(WireError::kThrottled));
  CHECK_FALSE(IsRetryable(WireError::kRecordTooLarge));
  CHECK(static_cast<int>(WireError::kRecordTooLarge) == 9);
  CHECK(ToWireError(sluice::base::IOError("disk")) == WireError::kStorageFailure);
}
