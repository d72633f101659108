// Secret comparison whose time does not depend on where the inputs differ.
#pragma once

#include <string_view>

namespace sluice::base {

// True when a == b. Takes time proportional to the sizes only (a length mismatch still returns
// false without an early exit on content).
inline bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() != b.size();
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; i++) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace sluice::base
