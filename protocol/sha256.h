// SHA-256 and HMAC-SHA256 (OpenSSL libcrypto), as SigV4 signing and verification use them.
#pragma once

#include <string>
#include <string_view>

namespace sluice::proto {

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// Raw (32-byte) HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(std::string_view key, std::string_view data);
// Lowercase hex of raw bytes.
std::string HexLower(std::string_view bytes);

}  // namespace sluice::proto
