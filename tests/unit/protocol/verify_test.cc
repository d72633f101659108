#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "protocol/frame.h"
#include "protocol/messages.h"
#include "protocol/verify.h"

using namespace sluice::proto;

namespace {
// Copies a frame body into 8-byte-aligned storage, as the server does.
struct Aligned {
  std::vector<uint64_t> words;
  size_t len = 0;
  explicit Aligned(std::string_view frame) {
    std::string_view body = frame.substr(kFrameHeaderSize);
    len = body.size();
    words.resize(len / 8 + 1);
    std::memcpy(words.data(), body.data(), len);
  }
  std::span<const uint8_t> span() const { return {reinterpret_cast<const uint8_t*>(words.data()), len}; }
};

std::string PutFrame(std::vector<std::string> records, std::string stream = "s") {
  std::vector<std::string_view> views(records.begin(), records.end());
  PutRecordBatchEncoder enc;
  std::string out;
  enc.Encode(1, stream, views, &out);
  return out;
}
}  // namespace

TEST_CASE("VerifyPutRecordBatch: a valid batch yields its records", "[protocol][verify]") {
  Aligned body(PutFrame({"a", "", "ccc"}));
  auto r = VerifyPutRecordBatch(body.span(), Limits{});
  REQUIRE(r.ok());
  CHECK(r.value()->stream()->str() == "s");
  REQUIRE(r.value()->records()->size() == 3);
  CHECK(r.value()->records()->Get(2)->data()->size() == 3);
}

TEST_CASE("VerifyPutRecordBatch: limits on records and bytes are kTooLarge", "[protocol][verify]") {
  Limits limits;
  limits.max_batch_records = 2;
  limits.max_batch_bytes = 1024;
  limits.max_record_bytes = 1024;
  Aligned three(PutFrame({"a", "b", "c"}));
  CHECK(VerifyPutRecordBatch(three.span(), limits).status().code() == sluice::base::Code::kTooLarge);
  Aligned big(PutFrame({std::string(2000, 'x')}));
  CHECK(VerifyPutRecordBatch(big.span(), limits).status().code() == sluice::base::Code::kTooLarge);
}

TEST_CASE("VerifyPutRecordBatch: bad FlatBuffers are refused, never trusted", "[protocol][verify]") {
  SECTION("empty body") {
    CHECK_FALSE(VerifyPutRecordBatch({}, Limits{}).ok());
  }
  SECTION("garbage") {
    std::vector<uint64_t> junk(16, 0xdeadbeefcafebabeull);
    std::span<const uint8_t> s(reinterpret_cast<const uint8_t*>(junk.data()), 128);
    CHECK(VerifyPutRecordBatch(s, Limits{}).status().code() == sluice::base::Code::kInvalidArgument);
  }
  SECTION("a Hello is not a PutRecordBatch (required fields missing)") {
    std::string hello;
    EncodeHello(1, "x", "", &hello);
    Aligned body(hello);
    CHECK_FALSE(VerifyPutRecordBatch(body.span(), Limits{}).ok());
  }
  SECTION("random mutations never crash and never pass with out-of-range data") {
    Aligned good(PutFrame({"hello", "world", std::string(100, 'z')}));
    std::mt19937 rng(42);
    int verified = 0;
    for (int i = 0; i < 20000; i++) {
      Aligned m = good;
      auto* p = reinterpret_cast<uint8_t*>(m.words.data());
      for (int k = 0; k < 3; k++) p[rng() % m.len] = static_cast<uint8_t>(rng());
      auto r = VerifyPutRecordBatch(m.span(), Limits{});
      if (r.ok()) {
        verified++;
        for (const auto* rec : *r.value()->records())
          if (rec->data()) CHECK(rec->data()->size() <= m.len);
      }
    }
    CHECK(verified < 20000);
  }
}

TEST_CASE("VerifyPutRecordBatchResponse: counts and indexes must agree", "[protocol][verify]") {
  PutResponseEncoder enc;
  enc.Reset(3);
  enc.AddStored(11);
  enc.AddFailed(WireError::kRecordTooLarge, "too big");
  enc.AddStored(12);
  std::string out;
  enc.Finish(5, &out);
  Aligned body(out);
  auto r = VerifyPutRecordBatchResponse(body.span());
  REQUIRE(r.ok());
  CHECK(r.value()->failed_put_count() == 1);
  CHECK(r.value()->results()->Get(0)->record_id() == 11);
  CHECK(r.value()->results()->Get(1)->error_code() == static_cast<uint16_t>(WireError::kRecordTooLarge));
  CHECK(r.value()->errors()->Get(0)->index() == 1);
  CHECK(r.value()->errors()->Get(0)->message()->str() == "too big");
}
