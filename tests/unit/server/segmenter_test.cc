#include <catch2/catch.hpp>

#include "server/segmenter.h"

using namespace sluice::server;

TEST_CASE("Segmenter: seals on size, on the age of the oldest record, and on demand", "[server][segmenter]") {
  StreamConfig a, b;
  a.name = "a";
  a.buffering = {1, 60};  // 1 MiB, 60 s
  b.name = "b";
  b.buffering = {5, 0};   // as soon as possible
  StreamRegistry registry;
  StreamInfo ia;
  ia.name = "a";
  ia.id = 1;
  ia.version = 3;
  ia.cfg = std::make_shared<const StreamConfig>(a);
  registry.Put(ia);
  StreamInfo ib;
  ib.name = "b";
  ib.id = 2;
  ib.cfg = std::make_shared<const StreamConfig>(b);
  registry.Put(ib);
  StreamView streams(&registry);
  Segmenter seg(7, &streams);
  const StreamInfo* sa = streams->FindById(1);
  const StreamInfo* sb = streams->FindById(2);
  std::vector<sluice::storage::SegmentDescriptor> out;

  seg.OnCommitted({sa, 1, 10, 5, 1000, 100'000});
  seg.OnCommitted({sa, 1, 12, 5, 1000, 100'500});
  CHECK_FALSE(seg.AnyOverSize());
  seg.SealDue(100'000 + 59'999, false, &out);
  CHECK(out.empty());
  seg.SealDue(100'000 + 60'000, false, &out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].stream_id == 1);
  CHECK(out[0].shard == 7);
  CHECK(out[0].first_seq == 10);
  CHECK(out[0].last_seq == 12);
  CHECK(out[0].record_count == 10);
  CHECK(out[0].bytes == 2000);
  CHECK(out[0].oldest_arrival_ms == 100'000);
  CHECK(out[0].stream_version == 3);

  out.clear();
  seg.OnCommitted({sa, 1, 20, 1, 1u << 20, 200'000});
  CHECK(seg.AnyOverSize());
  // The next chunk of the same stream starts a new segment.
  seg.OnCommitted({sa, 1, 22, 1, 10, 200'000});
  seg.OnCommitted({sb, 2, 21, 1, 10, 200'000});
  seg.SealDue(200'000, false, &out);  // a: over size; b: interval 0
  REQUIRE(out.size() == 2);
  CHECK(out[0].first_seq == 20);
  CHECK(out[0].last_seq == 20);
  CHECK(out[1].stream_id == 2);
  CHECK(seg.open_segments() == 1);  // a's second segment, 10 bytes, not yet due

  out.clear();
  seg.OnCommitted({sa, 1, 30, 1, 10, 300'000});
  seg.SealDue(200'001, true, &out);  // shutdown seals everything
  REQUIRE(out.size() == 1);
  CHECK(out[0].first_seq == 22);
  CHECK(out[0].last_seq == 30);
}

TEST_CASE("Segmenter: a changed or removed stream version seals its open segment", "[server][segmenter]") {
  StreamConfig a;
  a.name = "a";
  a.buffering = {5, 900};
  StreamRegistry registry;
  StreamInfo ia;
  ia.name = "a";
  ia.id = 1;
  ia.cfg = std::make_shared<const StreamConfig>(a);
  registry.Put(ia);
  StreamView streams(&registry);
  Segmenter seg(0, &streams);
  std::vector<sluice::storage::SegmentDescriptor> out;
  seg.OnCommitted({streams->FindById(1), 1, 1, 2, 10, 1000});

  // Nothing changed: the refresh is a no-op and the segment stays open.
  CHECK(streams.Refresh() == nullptr);
  // Version 2 of the stream: the version-1 segment is sealed with version 1.
  ia.version = 2;
  registry.Put(ia);
  StreamSetPtr before = streams.Refresh();
  REQUIRE(before != nullptr);
  seg.SealChanged(*before, 2000, &out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].stream_version == 1);
  CHECK(out[0].sealed_ms == 2000);
  CHECK(seg.open_segments() == 0);

  // Counters survive the version change (metrics are per stream, not per version).
  CHECK(streams->FindById(1)->counters == before->FindById(1)->counters);

  // A removed stream's open segment is sealed too, never left behind.
  out.clear();
  seg.OnCommitted({streams->FindById(1), 1, 2, 1, 5, 3000});
  registry.Remove(1);
  before = streams.Refresh();
  seg.SealChanged(*before, 4000, &out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].stream_version == 2);
  CHECK(streams->FindById(1) == nullptr);
}
