#include <catch2/catch.hpp>

#include <vector>

#include "protocol/segment_file.h"

using namespace sluice::proto;

TEST_CASE("SegmentFile: write then parse returns header fields and records", "[protocol][segment_file]") {
  SegmentFileWriter w;
  w.Begin("clicks", "0000000100000000000000000000002a", "{\"errorCode\":\"X\"}");
  std::vector<std::string> recs = {"a", "", std::string(70000, 'z')};
  for (auto& r : recs) w.Add(r);
  std::string file(w.Finish());
  auto v = ParseSegmentFile(file);
  REQUIRE(v.ok());
  CHECK(v->stream == "clicks");
  CHECK(v->segment_id == "0000000100000000000000000000002a");
  CHECK(v->metadata_json == "{\"errorCode\":\"X\"}");
  CHECK(v->record_count == 3);
  std::vector<std::string> got;
  v->ForEach([&](std::string_view r) { got.emplace_back(r); });
  CHECK(got == recs);
}

TEST_CASE("SegmentFile: every flipped byte and every truncation is kCorruption", "[protocol][segment_file]") {
  SegmentFileWriter w;
  w.Begin("s", "id", "{}");
  w.Add("hello");
  w.Add("world");
  std::string good(w.Finish());
  for (size_t i = 0; i < good.size(); i++) {
    std::string bad = good;
    bad[i] ^= 0x10;
    auto v = ParseSegmentFile(bad);
    CHECK_FALSE(v.ok());
    if (!v.ok()) CHECK(v.status().code() == sluice::base::Code::kCorruption);
  }
  for (size_t cut = 0; cut < good.size(); cut++) CHECK_FALSE(ParseSegmentFile(good.substr(0, cut)).ok());
}
