// Base64 with OpenSSL's encoder and a strict decoder (EVP_DecodeBlock accepts whitespace and
// does not report padding, so untrusted input is checked here).
#include "server/encoding/base64.h"

#include <openssl/evp.h>

#include <array>

namespace sluice::server {
namespace {

constexpr std::array<int8_t, 256> MakeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; i++) t[static_cast<unsigned char>(a[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kTable = MakeTable();

}  // namespace

void Base64Append(std::string_view bytes, std::string* out) {
  size_t at = out->size();
  out->resize(at + 4 * ((bytes.size() + 2) / 3));
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out->data() + at),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out->resize(at + static_cast<size_t>(n));
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  Base64Append(bytes, &out);
  return out;
}

bool Base64DecodeAppend(std::string_view in, std::string* out) {
  if (in.size() % 4 != 0) return false;
  const size_t start = out->size();
  out->resize(start + in.size() / 4 * 3);
  char* w = out->data() + start;
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; j++) {
      unsigned char c = static_cast<unsigned char>(in[i + j]);
      if (c == '=') {
        if (i + 4 != in.size() || j < 2) {  // padding only at the very end
          out->resize(start);
          return false;
        }
        pad++;
        v[j] = 0;
        continue;
      }
      if (pad || kTable[c] < 0) {  // data after padding, or not base64
        out->resize(start);
        return false;
      }
      v[j] = kTable[c];
    }
    uint32_t n = uint32_t(v[0]) << 18 | uint32_t(v[1]) << 12 | uint32_t(v[2]) << 6 | uint32_t(v[3]);
    *w++ = static_cast<char>(n >> 16);
    if (pad < 2) *w++ = static_cast<char>(n >> 8 & 0xff);
    if (pad < 1) *w++ = static_cast<char>(n & 0xff);
  }
  out->resize(static_cast<size_t>(w - out->data()));
  return true;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  std::string out;
  if (!Base64DecodeAppend(in, &out)) return std::nullopt;
  return out;
}

}  // namespace sluice::server
