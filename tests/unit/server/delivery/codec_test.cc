#include <catch2/catch.hpp>

#include <random>

#include "server/delivery/codec.h"

using namespace sluice::server;

TEST_CASE("Codec: every compression round-trips, including empty and multi-block input", "[server][codec]") {
  std::mt19937 rng(1);
  std::string big;
  for (int i = 0; i < 200000; i++) big.push_back("abcdefgh\n"[rng() % 9]);
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd, Compression::kSnappy}) {
    INFO(CompressionName(c));
    for (const std::string& input : {std::string(), std::string("one record\n"), big}) {
      auto packed = Compress(c, input);
      REQUIRE(packed.ok());
      auto back = Decompress(c, packed.value());
      REQUIRE(back.ok());
      CHECK(back.value() == input);
      if (c != Compression::kNone && input.size() > 1000) CHECK(packed->size() < input.size());
    }
  }
}

TEST_CASE("Codec: containers and extensions are Firehose's", "[server][codec]") {
  auto gz = Compress(Compression::kGzip, "x").value();
  CHECK(static_cast<unsigned char>(gz[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(gz[1]) == 0x8b);
  auto sn = Compress(Compression::kSnappy, "x").value();
  CHECK(sn.substr(0, 8) == std::string("\x82SNAPPY\0", 8));
  CHECK(CompressionExtension(Compression::kGzip) == ".gz");
  CHECK(CompressionExtension(Compression::kSnappy) == ".snappy");
  CHECK(CompressionExtension(Compression::kZstd) == ".zst");
  CHECK(CompressionExtension(Compression::kNone) == "");
  CHECK(ParseCompression("lz4").status().message().find("none, gzip, zstd, snappy") != std::string::npos);
}

TEST_CASE("Codec: damaged input is kCorruption, never a crash", "[server][codec]") {
  std::string input(10000, 'q');
  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kSnappy}) {
    std::string packed = Compress(c, input).value();
    std::string bad = packed.substr(0, packed.size() / 2);
    CHECK_FALSE(Decompress(c, bad).ok());
    CHECK_FALSE(Decompress(c, "garbage that is not compressed at all").ok());
  }
}
