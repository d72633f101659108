// TOML helpers shared by the server settings (config.cc) and the stream settings
// (stream_config.cc): where a node is, typed reads that name the key and its range, key checks.
// Internal to those two files: nothing else includes toml++.
#pragma once

#include <toml++/toml.h>

#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/status.h"
#include "server/stream_config.h"

namespace sluice::server::config_toml {

// "file:line" of a node. Settings given as admin arguments (origin "") have no useful line:
// their errors say "stream settings", and the command's own name comes from the handler.
inline std::string Where(const std::string& origin, const toml::node& node) {
  if (origin.empty()) return "stream settings";
  const auto& src = node.source();
  return origin + ":" + std::to_string(src.begin.line);
}

template <typename T>
base::Status Get(const toml::table& t, std::string_view key, const std::string& origin, T* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return base::Status::Ok();
  if constexpr (std::is_same_v<T, std::string>) {
    if (!n->is_string()) return base::InvalidArgument(Where(origin, *n) + ": " + std::string(key) + " must be a string");
    *out = n->as_string()->get();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!n->is_boolean()) return base::InvalidArgument(Where(origin, *n) + ": " + std::string(key) + " must be true or false");
    *out = n->as_boolean()->get();
  } else {
    if (!n->is_integer()) return base::InvalidArgument(Where(origin, *n) + ": " + std::string(key) + " must be an integer");
    int64_t v = n->as_integer()->get();
    if (v < 0 || static_cast<uint64_t>(v) > std::numeric_limits<T>::max())
      return base::InvalidArgument(Where(origin, *n) + ": " + std::string(key) + " = " + std::to_string(v) +
                                   " is out of range 0.." + std::to_string(std::numeric_limits<T>::max()));
    *out = static_cast<T>(v);
  }
  return base::Status::Ok();
}

inline base::Status CheckKeys(const toml::table& t, const std::set<std::string_view>& allowed,
                       const std::string& origin, std::string_view context) {
  for (const auto& [k, v] : t) {
    if (!allowed.count(k.str())) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return base::InvalidArgument(Where(origin, v) + ": unknown key '" + std::string(k.str()) + "' in " +
                                   std::string(context) + " (allowed: " + list + ")");
    }
  }
  return base::Status::Ok();
}

inline const toml::table* SubTable(const toml::table& t, std::string_view key, const std::string& origin,
                            base::Status* st) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return nullptr;
  if (!n->is_table()) *st = base::InvalidArgument(Where(origin, *n) + ": stream." + std::string(key) + " must be a table");
  return n->as_table();
}

// The [[stream]] table's contents into `s` (stream_config.cc): keys checked, values typed.
base::Status LoadStream(const toml::table& t, const std::string& origin, StreamConfig* s);
// Range and consistency checks of one stream (stream_config.cc). kInvalidArgument naming the key.
base::Status ValidateStream(const StreamConfig& s, bool fault_injection);

}  // namespace sluice::server::config_toml
