// StreamRegistry: the delivery streams a server knows, by name, with their stable storage ids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice::server {

struct StreamInfo {
  std::string name;
  uint32_t id = 0;  // stable storage id from the catalog
};

// Built by main before the shards start and never changed while they run, so shards read it
// without locks.
// Thread: written by main during startup only; read-only afterwards from any thread.
class StreamRegistry {
 public:
  void Add(StreamInfo info) { by_name_.emplace(info.name, std::move(info)); }
  // Returns nullptr for an unknown stream.
  const StreamInfo* Find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : &it->second;
  }
  size_t size() const { return by_name_.size(); }

 private:
  std::unordered_map<std::string, StreamInfo> by_name_;
};

}  // namespace sluice::server
