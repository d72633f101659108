// Fuzz target: untrusted admin-port bytes -> RequestParser (inline and RESP), fed in pieces.
#include <cstdint>
#include <string_view>

#include "server/admin/resp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using sluice::server::admin::RequestParser;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // The first byte chooses how the input is cut, as TCP might cut it.
  size_t step = size ? (data[0] % 17) + 1 : 1;
  RequestParser parser;
  size_t commands = 0;
  for (size_t off = 0; off < in.size(); off += step) {
    parser.Feed(in.substr(off, step));
    while (true) {
      auto next = parser.Next();
      if (!next.ok()) return 0;  // a protocol error ends the connection
      if (!next.value().has_value()) break;
      for (const auto& word : *next.value())
        if (word.size() > (1u << 20)) __builtin_trap();  // limits must hold
      commands++;
    }
    if (parser.buffered() > (4u << 20) + 64 * 1024) __builtin_trap();
  }
  (void)commands;
  return 0;
}
