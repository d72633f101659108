#include <catch2/catch.hpp>

#include "base/status.h"

using namespace sluice::base;

namespace {
Result<int> Half(int v) {
  if (v % 2) return InvalidArgument("odd: " + std::to_string(v));
  return v / 2;
}
Result<int> Quarter(int v) {
  ASSIGN_OR_RETURN(int h, Half(v));
  return Half(h);
}
Status CheckEven(int v) {
  RETURN_IF_ERROR(Half(v).status());
  return Status::Ok();
}
}  // namespace

TEST_CASE("Status: ok and error carry code and message", "[base][status]") {
  Status ok;
  CHECK(ok.ok());
  CHECK(ok.ToString() == "OK");
  Status e = NotFound("stream x");
  CHECK_FALSE(e.ok());
  CHECK(e.code() == Code::kNotFound);
  CHECK(e.ToString() == "NotFound: stream x");
  CHECK(e.WithContext("put").message() == "put: stream x");
}

TEST_CASE("Result: value or status, and the propagation macros", "[base][status]") {
  CHECK(Quarter(8).value() == 2);
  auto r = Quarter(6);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "odd: 3");
  CHECK(CheckEven(4).ok());
  CHECK(CheckEven(5).code() == Code::kInvalidArgument);
}

TEST_CASE("Code: numbers are stable because they cross the wire", "[base][status]") {
  CHECK(static_cast<int>(Code::kInvalidArgument) == 1);
  CHECK(static_cast<int>(Code::kCorruption) == 6);
  CHECK(static_cast<int>(Code::kUnauthenticated) == 12);
  CHECK(ToString(Code::kThrottled) == "Throttled");
}
