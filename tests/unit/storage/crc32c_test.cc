#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "storage/crc32c.h"

using sluice::storage::Crc32cExtend;
using sluice::storage::Crc32cRoutedHere;

namespace {

// Bit by bit, straight from the definition (reflected polynomial 0x82F63B78).
uint32_t ReferenceCrc32c(const std::vector<uint8_t>& bytes) {
  uint32_t reg = 0xFFFFFFFFu;
  for (uint8_t b : bytes) {
    reg ^= b;
    for (int i = 0; i < 8; i++) reg = (reg >> 1) ^ (0x82F63B78u & (0u - (reg & 1u)));
  }
  return ~reg;
}

uint32_t Crc(const std::vector<uint8_t>& bytes) { return Crc32cExtend(0, bytes.data(), bytes.size()); }

}  // namespace

TEST_CASE("crc32c: the check values of RFC 3720 and the catalogue", "[storage][crc32c]") {
  const std::string digits = "123456789";
  CHECK(Crc32cExtend(0, digits.data(), digits.size()) == 0xE3069283u);
  CHECK(Crc(std::vector<uint8_t>(32, 0x00)) == 0x8A9136AAu);
  CHECK(Crc(std::vector<uint8_t>(32, 0xFF)) == 0x62A8AB43u);
  std::vector<uint8_t> up(32), down(32);
  for (int i = 0; i < 32; i++) {
    up[i] = static_cast<uint8_t>(i);
    down[i] = static_cast<uint8_t>(31 - i);
  }
  CHECK(Crc(up) == 0x46DD794Eu);
  CHECK(Crc(down) == 0x113FDB5Cu);
  CHECK(Crc32cExtend(0, nullptr, 0) == 0u);
}

TEST_CASE("crc32c: equals the bitwise definition at every length to 300 and from every prefix", "[storage][crc32c]") {
  std::mt19937 rng(18);
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 300; n++) sizes.push_back(n);
  sizes.push_back((1u << 20) + 7);
  for (size_t n : sizes) {
    std::vector<uint8_t> bytes(n);
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
    const uint32_t want = ReferenceCrc32c(bytes);
    INFO("length " << n);
    REQUIRE(Crc(bytes) == want);
    // Extending from the CRC of a prefix gives the CRC of the whole: every split point of the
    // short buffers (unaligned starts included), a few of the long one.
    size_t wrong = 0;
    for (size_t split = 0; split <= n; split += n > 300 ? 99991 : 1) {
      const uint32_t head = Crc32cExtend(0, bytes.data(), split);
      if (Crc32cExtend(head, bytes.data() + split, n - split) != want) wrong++;
    }
    REQUIRE(wrong == 0);
  }
}

TEST_CASE("crc32c: RocksDB computes its checksums through it", "[storage][crc32c]") {
  CHECK(Crc32cRoutedHere());
}
