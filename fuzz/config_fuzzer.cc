// Fuzz target: untrusted config text -> LoadConfigText + Validate, and stream settings text ->
// ParseStreamConfig (what the catalog and STREAM CREATE/UPDATE feed it). Must return a Status,
// never crash, throw or hang.
#include <cstdint>
#include <string_view>

#include "server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::server;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ServerConfig cfg;
  if (LoadConfigText(text, "fuzz.toml", &cfg).ok()) {
    cfg.ApplyDefaults();
    (void)cfg.Validate();
  }
  ServerConfig server;
  auto stream = ParseStreamConfig(text, "fuzz stream", server);
  if (stream.ok() && stream->name.empty()) __builtin_trap();  // a valid stream always has a name
  // Settings applied to whatever parsed: a key/value pair taken from the input itself.
  size_t cut = size / 2;
  auto applied = ApplyStreamSettings(text.substr(0, cut), "fuzz", {{std::string(text.substr(cut, 24)),
                                                                     std::string(text.substr(cut + 24 > size ? size : cut + 24))}});
  if (applied.ok()) (void)ParseStreamConfig(applied.value(), "fuzz applied", server);
  return 0;
}
