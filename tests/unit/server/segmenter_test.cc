#include <catch2/catch.hpp>

#include "server/segmenter.h"

using namespace sluice::server;

TEST_CASE("Segmenter: seals on size, on the age of the oldest record, and on demand", "[server][segmenter]") {
  StreamConfig a, b;
  a.name = "a";
  a.buffering = {1, 60};  // 1 MiB, 60 s
  b.name = "b";
  b.buffering = {5, 0};   // as soon as possible
  StreamRegistry streams;
  streams.Add({"a", 1, 3, &a});
  streams.Add({"b", 2, 1, &b});
  Segmenter seg(7, &streams);
  const StreamInfo* sa = streams.FindById(1);
  const StreamInfo* sb = streams.FindById(2);
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
