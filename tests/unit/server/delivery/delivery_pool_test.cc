#include <catch2/catch.hpp>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "protocol/segment_file.h"
#include "server/delivery/delivery_pool.h"
#include "storage/store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/temp_dir.h"

using namespace sluice;
using namespace sluice::server;
using sluice::test::FakeClock;
using sluice::test::TempDir;

namespace {

// Answers attempts from a script (the last entry repeats) and records what it was given.
class ScriptedDestination final : public Destination {
 public:
  ScriptedDestination(std::vector<Outcome> script, FakeClock* clock) : script_(std::move(script)), clock_(clock) {}
  DeliveryResult Deliver(const DeliveryObject& o) override {
    std::lock_guard<std::mutex> lock(mu_);
    times_.push_back(clock_->NowUnixMillis());
    bodies_.emplace_back(o.body);
    ids_.emplace_back(o.segment_id);
    Outcome out = script_[std::min(times_.size() - 1, script_.size() - 1)];
    if (out == Outcome::kOk) return DeliveryResult::Ok();
    if (out == Outcome::kRetry) return DeliveryResult::Retry("scripted retry");
    return DeliveryResult::Fail("scripted failure");
  }
  std::string_view kind() const override { return "Scripted"; }
  std::string_view error_output_type() const override { return "scripted-failed"; }
  size_t attempts() {
    std::lock_guard<std::mutex> lock(mu_);
    return times_.size();
  }
  std::vector<int64_t> times() {
    std::lock_guard<std::mutex> lock(mu_);
    return times_;
  }
  std::vector<std::string> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }

 private:
  std::mutex mu_;
  std::vector<Outcome> script_;
  FakeClock* clock_;
  std::vector<int64_t> times_;
  std::vector<std::string> bodies_;
  std::vector<std::string> ids_;
};

struct Fixture {
  TempDir tmp;
  FakeClock clock;
  std::unique_ptr<storage::Store> store;
  StreamConfig cfg;
  StreamRegistry streams;
  ScriptedDestination* dest = nullptr;  // owned by the pool
  std::unique_ptr<DeliveryPool> pool;

  explicit Fixture(uint32_t retry_s = 10) {
    storage::StoreOptions o;
    o.path = tmp.Sub("db");
    store = std::move(storage::Store::Open(o)).value();
    cfg.name = "s";
    cfg.append_delimiter = true;
    cfg.retry_duration_s = retry_s;
    cfg.backup.path = tmp.Sub("backup");
  }
  void Register(const StreamConfig& c, uint32_t id) {
    StreamInfo info;
    info.name = c.name;
    info.id = id;
    info.cfg = std::make_shared<const StreamConfig>(c);
    streams.Put(std::move(info));
  }
  // Stores one sealed segment of `records` (one chunk at `seq`) for `stream`, shard 0.
  storage::SegmentDescriptor AddSegment(const std::vector<std::string>& records, uint32_t stream = 1, uint64_t seq = 1) {
    storage::WriteBatch wb(store.get());
    storage::ChunkBuilder b;
    b.Start(clock.NowUnixMillis());
    uint64_t bytes = 0;
    for (auto& r : records) {
      b.Add({reinterpret_cast<const uint8_t*>(r.data()), r.size()});
      bytes += r.size();
    }
    wb.PutChunk({stream, 0, seq}, b.Finish());
    storage::SegmentDescriptor d;
    d.stream_id = stream;
    d.first_seq = d.last_seq = seq;
    d.record_count = static_cast<uint32_t>(records.size());
    d.bytes = bytes;
    d.oldest_arrival_ms = clock.NowUnixMillis();
    d.stream_version = 1;
    wb.PutSegment(d);
    REQUIRE(store->Write(&wb, true).ok());
    return d;
  }
  void StartPool(std::vector<Outcome> script) {
    Register(cfg, 1);
    pool = std::make_unique<DeliveryPool>(store.get(), &clock, 2);
    REQUIRE(pool->Init(*streams.Current(), [&](const StreamInfo&) {
      auto d = std::make_unique<ScriptedDestination>(script, &clock);
      dest = d.get();
      return d;
    }).ok());
    REQUIRE(pool->Start().ok());
  }
  // Moves fake time forward in 50 ms steps until `done` or `max_ms` of fake time passed.
  bool Drive(const std::function<bool()>& done, int64_t max_ms) {
    for (int64_t t = 0; t <= max_ms; t += 50) {
      for (int i = 0; i < 50 && !done(); i++) std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (done()) return true;
      clock.Advance(50);
      pool->Poke();
    }
    return done();
  }
  size_t StoredSegments() {
    size_t n = 0;
    REQUIRE(store->ForEachSegment([&](const storage::SegmentDescriptor&) {
      n++;
      return base::Status::Ok();
    }).ok());
    return n;
  }
  std::vector<std::string> BackupFiles() {
    std::vector<std::string> out;
    std::error_code ec;
    if (!std::filesystem::exists(cfg.backup.path)) return out;
    for (auto& e : std::filesystem::recursive_directory_iterator(cfg.backup.path, ec))
      if (e.is_regular_file()) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("DeliveryPool: a delivered segment leaves storage, body has the delimiters", "[server][delivery]") {
  Fixture f;
  f.AddSegment({"a", "bb", ""});
  f.StartPool({Outcome::kOk});
  REQUIRE(f.Drive([&] { return f.pool->pending() == 0 && f.dest->attempts() == 1; }, 1000));
  f.pool->Stop();
  CHECK(f.dest->bodies() == std::vector<std::string>{"a\nbb\n\n"});
  CHECK(f.StoredSegments() == 0);
  uint64_t left = 0;
  REQUIRE(f.store->ScanStream(1, [&](const storage::RecordKey&, const storage::ChunkView&) {
    left++;
    return base::Status::Ok();
  }).ok());
  CHECK(left == 0);
  CHECK(f.pool->stats(1)->records == 3);
}

TEST_CASE("DeliveryPool: retries are spaced by the backoff and survive a restart", "[server][delivery]") {
  Fixture f(/*retry_s=*/600);
  f.AddSegment({"x"});
  f.StartPool({Outcome::kRetry, Outcome::kRetry, Outcome::kRetry, Outcome::kOk});
  REQUIRE(f.Drive([&] { return f.dest->attempts() >= 3; }, 20000));
  auto t = f.dest->times();
  CHECK(t[1] - t[0] >= 850);
  CHECK(t[1] - t[0] <= 1150 + 100);
  CHECK(t[2] - t[1] >= 1700);
  CHECK(t[2] - t[1] <= 2300 + 100);
  f.pool->Stop();
  // The attempt count and first failure were persisted with the segment.
  std::vector<storage::SegmentDescriptor> segs;
  REQUIRE(f.store->ForEachSegment([&](const storage::SegmentDescriptor& d) {
    segs.push_back(d);
    return base::Status::Ok();
  }).ok());
  REQUIRE(segs.size() == 1);
  CHECK(segs[0].attempts == 3);
  CHECK(segs[0].first_failure_ms == t[0]);
  CHECK(segs[0].last_error == "scripted retry");
  // A new pool (a restart) picks the segment up where the old one left it.
  f.StartPool({Outcome::kOk});
  REQUIRE(f.Drive([&] { return f.pool->pending() == 0 && f.dest->attempts() == 1; }, 30000));
  CHECK(f.StoredSegments() == 0);
}

TEST_CASE("DeliveryPool: retries past the budget go to the backup store, then leave storage",
          "[server][delivery]") {
  Fixture f(/*retry_s=*/5);
  auto d = f.AddSegment({"keep", "me"});
  f.StartPool({Outcome::kRetry});
  REQUIRE(f.Drive([&] { return f.pool->pending() == 0; }, 60000));
  f.pool->Stop();
  CHECK(f.dest->attempts() >= 3);
  CHECK(f.StoredSegments() == 0);
  auto files = f.BackupFiles();
  REQUIRE(files.size() == 2);
  CHECK(files[0].find("/scripted-failed/") != std::string::npos);
  CHECK(files[0].ends_with(d.Id() + ".json"));
  CHECK(files[1].ends_with(d.Id() + ".sseg"));
  std::string json = ReadAll(files[0]);
  CHECK(json.find("\"errorCode\":\"Scripted.RetriesExhausted\"") != std::string::npos);
  CHECK(json.find("\"errorMessage\":\"scripted retry\"") != std::string::npos);
  std::string bytes = ReadAll(files[1]);
  auto seg = proto::ParseSegmentFile(bytes);
  REQUIRE(seg.ok());
  CHECK(seg->stream == "s");
  std::vector<std::string> recs;
  seg->ForEach([&](std::string_view r) { recs.emplace_back(r); });
  CHECK(recs == std::vector<std::string>{"keep", "me"});
}

TEST_CASE("DeliveryPool: a permanent failure is backed up after one attempt", "[server][delivery]") {
  Fixture f;
  f.AddSegment({"p"});
  f.StartPool({Outcome::kFail});
  REQUIRE(f.Drive([&] { return f.pool->pending() == 0; }, 1000));
  f.pool->Stop();
  CHECK(f.dest->attempts() == 1);
  REQUIRE(f.BackupFiles().size() == 2);
  CHECK(ReadAll(f.BackupFiles()[0]).find("Scripted.PermanentFailure") != std::string::npos);
}

TEST_CASE("DeliveryPool: when the backup store fails too, the segment stays in storage", "[server][delivery]") {
  Fixture f;
  // A regular file where the backup directory should be: every backup write fails.
  { std::ofstream(f.tmp.Sub("blocker")) << "x"; }
  f.cfg.backup.path = f.tmp.Sub("blocker") + "/backup";
  f.AddSegment({"precious"});
  f.StartPool({Outcome::kFail});
  REQUIRE(f.Drive([&] { return f.pool->stats(1)->backup_failures >= 2; }, 10000));
  f.pool->Stop();
  CHECK(f.StoredSegments() == 1);
  uint64_t records = 0;
  REQUIRE(f.store->ScanStream(1, [&](const storage::RecordKey&, const storage::ChunkView& c) {
    records += c.count();
    return base::Status::Ok();
  }).ok());
  CHECK(records == 1);
}

namespace {
// Blocks every delivery until released: a destination that hangs.
class StuckDestination final : public Destination {
 public:
  DeliveryResult Deliver(const DeliveryObject&) override {
    std::unique_lock<std::mutex> lock(mu_);
    entered_++;
    cv_.wait(lock, [&] { return released_; });
    return DeliveryResult::Ok();
  }
  std::string_view kind() const override { return "Stuck"; }
  std::string_view error_output_type() const override { return "stuck-failed"; }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int entered() {
    std::lock_guard<std::mutex> lock(mu_);
    return entered_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int entered_ = 0;
};
}  // namespace

TEST_CASE("DeliveryPool: a hanging destination does not starve another stream", "[server][delivery]") {
  Fixture f;
  StreamConfig other_cfg;
  other_cfg.name = "other";
  other_cfg.backup.path = f.tmp.Sub("backup-other");
  f.Register(f.cfg, 1);
  f.Register(other_cfg, 2);
  // Several segments of the stuck stream (1) and one of the healthy stream (2).
  for (uint64_t seq = 1; seq <= 4; seq++) f.AddSegment({"r"}, seq == 4 ? 2 : 1, seq);
  StuckDestination* stuck = nullptr;
  ScriptedDestination* healthy = nullptr;
  f.pool = std::make_unique<DeliveryPool>(f.store.get(), &f.clock, 2);
  REQUIRE(f.pool->Init(*f.streams.Current(), [&](const StreamInfo& s) -> std::unique_ptr<Destination> {
    if (s.id == 1) {
      auto d = std::make_unique<StuckDestination>();
      stuck = d.get();
      return d;
    }
    auto d = std::make_unique<ScriptedDestination>(std::vector<Outcome>{Outcome::kOk}, &f.clock);
    healthy = d.get();
    return d;
  }).ok());
  REQUIRE(f.pool->Start().ok());
  // With 2 workers the stuck stream may hold only one; the other delivers meanwhile, and the
  // second worker stays free for it instead of joining the stuck stream.
  REQUIRE(f.Drive([&] { return healthy->attempts() == 1; }, 2000));
  f.Drive([] { return false; }, 500);
  CHECK(stuck->entered() == 1);
  stuck->Release();
  REQUIRE(f.Drive([&] { return f.pool->pending() == 0; }, 5000));
  f.pool->Stop();
  CHECK(stuck->entered() == 3);
  CHECK(f.StoredSegments() == 0);
}

// Attempts that would hold more than the pool's memory budget together wait their turn; one
// always runs. Four segments of 5 x 100 B records: AttemptMemory = 500 + 5 x 40 = 700 bytes each.
static int AttemptsHeldAtOnce(uint64_t budget) {
  Fixture f;
  f.Register(f.cfg, 1);
  for (uint64_t seq = 1; seq <= 4; seq++) f.AddSegment(std::vector<std::string>(5, std::string(100, 'm')), 1, seq);
  StuckDestination* stuck = nullptr;
  f.pool = std::make_unique<DeliveryPool>(f.store.get(), &f.clock, 4, budget);
  REQUIRE(f.pool->Init(*f.streams.Current(), [&](const StreamInfo&) -> std::unique_ptr<Destination> {
    auto d = std::make_unique<StuckDestination>();
    stuck = d.get();
    return d;
  }).ok());
  REQUIRE(f.pool->Start().ok());
  REQUIRE(f.Drive([&] { return stuck->entered() >= 1; }, 2000));
  f.Drive([] { return false; }, 500);  // time for more workers to join, were they allowed
  const int held = stuck->entered();
  CHECK(f.pool->memory_in_flight() == uint64_t(held) * 700);
  stuck->Release();
  REQUIRE(f.Drive([&] { return f.pool->pending() == 0; }, 5000));
  f.pool->Stop();
  CHECK(stuck->entered() == 4);  // the waiting segments went once memory was released
  CHECK(f.pool->memory_in_flight() == 0);
  CHECK(f.StoredSegments() == 0);
  return held;
}

TEST_CASE("DeliveryPool: attempts in flight stay within the memory budget", "[server][delivery]") {
  CHECK(AttemptsHeldAtOnce(1000) == 1);         // two would need 1400 bytes
  CHECK(AttemptsHeldAtOnce(2000) == 2);         // a third would need 2100
  CHECK(AttemptsHeldAtOnce(2100) == 3);         // three fit exactly
  CHECK(AttemptsHeldAtOnce(100) == 1);          // smaller than one segment: still one at a time
  CHECK(AttemptsHeldAtOnce(uint64_t(1) << 30) == 3);  // the stream's limit (threads - 1) binds
}

// A finished attempt parks its buffers for the next one: counted in the budget while parked,
// taken (not counted twice) by the next attempt, and freed after ten idle seconds.
TEST_CASE("DeliveryPool: an attempt's buffers are kept for the next one within the budget", "[server][delivery]") {
  Fixture f;
  f.AddSegment(std::vector<std::string>(50, std::string(1000, 'k')), 1, 1);
  f.StartPool({Outcome::kOk, Outcome::kOk});
  REQUIRE(f.Drive([&] { return f.pool->pending() == 0 && f.dest->attempts() == 1; }, 2000));
  const uint64_t parked = f.pool->memory_in_flight();
  CHECK(parked >= 50 * 1001);       // the records and their delimiters, at least
  CHECK(parked <= uint64_t(256) << 20);  // within the default budget
  f.pool->Submit(f.AddSegment(std::vector<std::string>(50, std::string(1000, 'j')), 1, 51));
  REQUIRE(f.Drive([&] { return f.pool->pending() == 0 && f.dest->attempts() == 2; }, 2000));
  CHECK(f.pool->memory_in_flight() == parked);  // the same buffers again: nothing new was kept
  std::string second;
  for (int i = 0; i < 50; i++) second += std::string(1000, 'j') + "\n";
  REQUIRE(f.dest->bodies().size() == 2);
  CHECK(f.dest->bodies()[1] == second);  // nothing of the first segment shows through
  REQUIRE(f.Drive([&] { return f.pool->memory_in_flight() == 0; }, 11000));  // unused for 10 s: freed
  f.pool->Stop();
  CHECK(f.StoredSegments() == 0);
}

TEST_CASE("DeliveryPool: a segment whose stored records fail their checksum is quarantined, not delivered",
          "[server][delivery]") {
  Fixture f;
  // A bit flip in storage: a chunk that no longer parses, in a segment of its own (seq 7).
  {
    storage::WriteBatch wb(f.store.get());
    wb.PutChunk({1, 0, 7}, "a chunk whose bytes were flipped on disk, long enough to parse");
    storage::SegmentDescriptor bad;
    bad.stream_id = 1;
    bad.first_seq = bad.last_seq = 7;
    bad.record_count = 1;
    bad.stream_version = 1;
    wb.PutSegment(bad);
    REQUIRE(f.store->Write(&wb, true).ok());
  }
  f.AddSegment({"healthy"});  // seq 1, the same stream
  f.StartPool({Outcome::kOk, Outcome::kOk, Outcome::kOk});
  // The healthy segment is delivered; the damaged one is kept, with the reason, for an hour.
  REQUIRE(f.Drive([&] {
    auto p = f.pool->PendingSegments(1);
    return f.dest->attempts() == 1 && p.size() == 1 && !p[0].last_error.empty();
  }, 5000));
  CHECK(f.dest->bodies() == std::vector<std::string>{"healthy\n"});
  auto pending = f.pool->PendingSegments(1);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].first_seq == 7);
  CHECK(pending[0].last_error.rfind("unreadable: ", 0) == 0);
  CHECK(pending[0].next_attempt_ms - f.clock.NowUnixMillis() > 3500 * 1000);
  // No crash loop: a few more seconds of fake time bring no further attempt.
  f.Drive([] { return false; }, 3000);
  CHECK(f.dest->attempts() == 1);
  f.pool->Stop();
  CHECK(f.StoredSegments() == 1);
}
