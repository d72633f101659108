#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "storage/data_dir.h"
#include "storage/store.h"
#include "tests/support/temp_dir.h"

using namespace sluice::storage;
using sluice::base::Code;
using sluice::test::TempDir;

namespace {

std::unique_ptr<Store> OpenStore(const std::string& path, bool read_only = false) {
  StoreOptions o;
  o.path = path;
  o.read_only = read_only;
  auto s = Store::Open(o);
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

// Appends `n` chunks of `per` records each for (stream, shard), one synced write per chunk.
void Append(Store* store, uint32_t stream, uint16_t shard, int n, int per, uint64_t* seq) {
  ChunkBuilder b;
  for (int i = 0; i < n; i++) {
    WriteBatch wb(store);
    b.Start(1000 + i);
    for (int r = 0; r < per; r++) {
      std::string rec = "s" + std::to_string(stream) + "-" + std::to_string(*seq) + "-" + std::to_string(r);
      b.Add({reinterpret_cast<const uint8_t*>(rec.data()), rec.size()});
    }
    wb.PutChunk({stream, shard, *seq}, b.Finish());
    wb.PutNextSeq(shard, *seq + 1);
    REQUIRE(store->Write(&wb, true).ok());
    (*seq)++;
  }
}

uint64_t CountRecords(Store* store, uint32_t stream) {
  uint64_t n = 0;
  REQUIRE(store->ScanStream(stream, [&](const RecordKey&, const ChunkView& c) {
    n += c.count();
    return sluice::base::Status::Ok();
  }).ok());
  return n;
}

std::string LargestWal(const std::string& dir) {
  std::string best;
  uintmax_t size = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".log" && e.file_size() > size) {
      size = e.file_size();
      best = e.path();
    }
  }
  return best;
}

}  // namespace

TEST_CASE("Store: appended chunks survive close and reopen, in key order", "[storage][store]") {
  TempDir tmp;
  uint64_t seq = 1;
  {
    auto store = OpenStore(tmp.Sub("db"));
    Append(store.get(), 1, 0, 10, 5, &seq);
    Append(store.get(), 2, 1, 3, 2, &seq);
  }
  auto store = OpenStore(tmp.Sub("db"));
  CHECK(CountRecords(store.get(), 1) == 50);
  CHECK(CountRecords(store.get(), 2) == 6);
  CHECK(CountRecords(store.get(), 3) == 0);
  uint64_t last = 0;
  REQUIRE(store->ScanStream(1, [&](const RecordKey& k, const ChunkView& c) {
    CHECK(k.seq > last);
    last = k.seq;
    std::string first;
    c.ForEach([&](std::string_view r) { if (first.empty()) first = r; });
    CHECK(first == "s1-" + std::to_string(k.seq) + "-0");
    return sluice::base::Status::Ok();
  }).ok());
  CHECK(store->NextSeq(0).value() == 11);  // the helper shares one counter across shards
  CHECK(store->NextSeq(1).value() == 14);
  CHECK(store->NextSeq(7).value() == 1);
}

TEST_CASE("Store: stream ids are stable across restarts and never reused", "[storage][catalog]") {
  TempDir tmp;
  uint32_t a, b;
  {
    auto store = OpenStore(tmp.Sub("db"));
    a = store->RegisterStream("alpha", "x = 1", 10).value().id;
    b = store->RegisterStream("beta", "", 11).value().id;
    CHECK(a != b);
  }
  auto store = OpenStore(tmp.Sub("db"));
  auto again = store->RegisterStream("alpha", "x = 2", 99);
  REQUIRE(again.ok());
  CHECK(again->id == a);
  CHECK(again->created_unix_ms == 10);
  CHECK(store->RegisterStream("gamma", "", 12).value().id > b);
  auto list = store->ListStreams();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 3);
  CHECK(list->at(0).name == "alpha");
  CHECK(list->at(0).config == "x = 2");
}

TEST_CASE("Store: read-only open replays the WAL without the lock", "[storage][store]") {
  TempDir tmp;
  uint64_t seq = 1;
  auto writer = OpenStore(tmp.Sub("db"));
  Append(writer.get(), 1, 0, 4, 3, &seq);
  auto reader = OpenStore(tmp.Sub("db"), /*read_only=*/true);
  CHECK(CountRecords(reader.get(), 1) == 12);
  WriteBatch wb(reader.get());
  CHECK(reader->Write(&wb, true).code() == Code::kInvalidArgument);
}

TEST_CASE("Store: a corrupted stored chunk is reported, not returned", "[storage][store]") {
  TempDir tmp;
  auto store = OpenStore(tmp.Sub("db"));
  WriteBatch wb(store.get());
  wb.PutChunk({1, 0, 1}, "this is not a chunk at all, but long enough");
  REQUIRE(store->Write(&wb, true).ok());
  auto st = store->ScanStream(1, [](const RecordKey&, const ChunkView&) { return sluice::base::Status::Ok(); });
  CHECK(st.code() == Code::kCorruption);
  CHECK(st.message().find("seq=1") != std::string::npos);
}

TEST_CASE("Store: a torn WAL tail is recovered, corruption mid-WAL refuses to open", "[storage][recovery]") {
  TempDir tmp;
  uint64_t seq = 1;
  {
    auto store = OpenStore(tmp.Sub("db"));
    Append(store.get(), 1, 0, 200, 4, &seq);
  }
  std::string wal = LargestWal(tmp.Sub("db"));
  REQUIRE_FALSE(wal.empty());
  auto size = std::filesystem::file_size(wal);
  REQUIRE(size > 4096);

  SECTION("torn tail: the last write is dropped, everything before it is kept") {
    std::filesystem::resize_file(wal, size - 20);
    auto store = OpenStore(tmp.Sub("db"));
    uint64_t n = CountRecords(store.get(), 1);
    CHECK(n >= 196);
    CHECK(n < 800);
  }
  SECTION("flipped bytes in the middle: Open fails loudly with kCorruption") {
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.write("\xff\x00\xff\x00", 4);
    f.close();
    StoreOptions o;
    o.path = tmp.Sub("db");
    auto store = Store::Open(o);
    REQUIRE_FALSE(store.ok());
    CHECK(store.status().code() == Code::kCorruption);
  }
}

TEST_CASE("DataDirLock: one holder at a time, with its pid in the message", "[storage][lock]") {
  TempDir tmp;
  CHECK(DataDirLock::CheckNotHeld(tmp.path()).ok());
  auto held = DataDirLock::Acquire(tmp.path());
  REQUIRE(held.ok());
  // flock locks belong to the open file description, so a second open in this process conflicts too.
  auto second = DataDirLock::Acquire(tmp.path());
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Code::kBusy);
  CHECK(second.status().message().find(std::to_string(getpid())) != std::string::npos);
  CHECK(DataDirLock::CheckNotHeld(tmp.path()).code() == Code::kBusy);
}
