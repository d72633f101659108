#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "storage/keys.h"
#include "storage/record_chunk.h"

using namespace sluice::storage;

namespace {
std::span<const uint8_t> B(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
}  // namespace

TEST_CASE("RecordChunk: build then parse returns every record in order", "[storage][chunk]") {
  ChunkBuilder b;
  b.Start(1234);
  std::vector<std::string> recs = {"one", "", std::string(5000, 'x'), "four"};
  for (auto& r : recs) b.Add(B(r));
  std::string bytes(b.Finish());
  auto v = ChunkView::Parse(bytes);
  REQUIRE(v.ok());
  CHECK(v->count() == 4);
  CHECK(v->arrival_unix_ms() == 1234);
  CHECK(v->payload_bytes() == 3 + 0 + 5000 + 4);
  std::vector<std::string> got;
  v->ForEach([&](std::string_view r) { got.emplace_back(r); });
  CHECK(got == recs);
}

TEST_CASE("RecordChunk: any flipped bit or truncation is kCorruption", "[storage][chunk]") {
  ChunkBuilder b;
  b.Start(1);
  b.Add(B(std::string("abcdef")));
  b.Add(B(std::string("ghij")));
  std::string good(b.Finish());
  for (size_t i = 0; i < good.size(); i++) {
    std::string bad = good;
    bad[i] ^= 0x01;
    auto v = ChunkView::Parse(bad);
    CHECK_FALSE(v.ok());
    if (!v.ok()) CHECK(v.status().code() == sluice::base::Code::kCorruption);
  }
  for (size_t cut = 0; cut < good.size(); cut++)
    CHECK_FALSE(ChunkView::Parse(std::string_view(good).substr(0, cut)).ok());
}

TEST_CASE("Keys: record keys sort by stream, shard, then sequence", "[storage][keys]") {
  std::vector<RecordKey> keys = {{1, 0, 2}, {1, 0, 256}, {1, 1, 1}, {2, 0, 1}, {256, 0, 0}};
  for (size_t i = 1; i < keys.size(); i++) CHECK(EncodeRecordKey(keys[i - 1]) < EncodeRecordKey(keys[i]));
  RecordKey back;
  REQUIRE(DecodeRecordKey(EncodeRecordKey({7, 3, 99}), &back));
  CHECK(back == RecordKey{7, 3, 99});
  CHECK_FALSE(DecodeRecordKey("short", &back));
}

TEST_CASE("Keys: record ids are unique across shards, sequences and indexes", "[storage][keys]") {
  CHECK(MakeRecordId(0, 1, 0) != 0);
  CHECK(MakeRecordId(0, 1, 1) != MakeRecordId(0, 1, 0));
  CHECK(MakeRecordId(1, 1, 0) != MakeRecordId(0, 1, 0));
  CHECK(MakeRecordId(0, 2, 0) != MakeRecordId(0, 1, 0));
}
