// SegmentDescriptor encoding.
#include "storage/segment.h"

#include <xxhash.h>

#include <cstdio>
#include <cstring>

#include "storage/keys.h"

namespace sluice::storage {
namespace {
constexpr size_t kFixed = 68;
template <typename T>
void Put(std::string* out, T v) {
  for (size_t i = 0; i < sizeof(T); i++) out->push_back(static_cast<char>(static_cast<uint64_t>(v) >> (8 * i)));
}
template <typename T>
T Get(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); i++) v |= uint64_t(static_cast<unsigned char>(p[i])) << (8 * i);
  return static_cast<T>(v);
}
}  // namespace

namespace {
std::string& NodePrefix() {
  static std::string prefix;  // written once before threads start (SetSegmentIdNode)
  return prefix;
}
}  // namespace

void SetSegmentIdNode(std::string node) { NodePrefix() = node.empty() ? "" : node + "-"; }

const std::string& SegmentIdPrefix() { return NodePrefix(); }

std::string SegmentDescriptor::Id() const {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%08x%04x%016llx", stream_id, shard,
                static_cast<unsigned long long>(first_seq));
  return NodePrefix() + buf;
}

std::string EncodeSegmentKey(const SegmentDescriptor& d) {
  return EncodeRecordKey({d.stream_id, d.shard, d.first_seq});
}

std::string EncodeSegmentValue(const SegmentDescriptor& d) {
  std::string v;
  v.reserve(kFixed + d.last_error.size() + 8);
  const bool partition = !d.partition.empty();
  Put<uint8_t>(&v, partition ? 2 : 1);
  Put<uint8_t>(&v, 0);
  Put<uint16_t>(&v, 0);
  Put<uint32_t>(&v, d.record_count);
  Put<uint64_t>(&v, d.last_seq);
  Put<uint64_t>(&v, d.bytes);
  Put<int64_t>(&v, d.oldest_arrival_ms);
  Put<int64_t>(&v, d.sealed_ms);
  Put<uint32_t>(&v, d.stream_version);
  Put<uint32_t>(&v, d.attempts);
  Put<int64_t>(&v, d.first_failure_ms);
  Put<int64_t>(&v, d.next_attempt_ms);
  std::string_view err = std::string_view(d.last_error).substr(0, 4096);
  Put<uint32_t>(&v, static_cast<uint32_t>(err.size()));
  v.append(err);
  if (partition) {
    Put<uint32_t>(&v, static_cast<uint32_t>(d.partition.size()));
    v.append(d.partition);
  }
  Put<uint64_t>(&v, XXH3_64bits(v.data(), v.size()));
  return v;
}

base::Status DecodeSegmentValue(std::string_view v, SegmentDescriptor* d) {
  if (v.size() < kFixed + 8) return base::Corruption("segment descriptor truncated");
  if (v[0] != 1 && v[0] != 2) return base::Corruption("segment descriptor has unknown format");
  uint64_t err_len = Get<uint32_t>(v.data() + 64);
  uint64_t part_len = 0;
  if (v[0] == 2) {
    if (v.size() < kFixed + err_len + 4 + 8) return base::Corruption("segment descriptor has a bad length");
    part_len = Get<uint32_t>(v.data() + kFixed + err_len);
    if (part_len == 0) return base::Corruption("segment descriptor has an empty partition");
  }
  if (v.size() != kFixed + err_len + (v[0] == 2 ? 4 + part_len : 0) + 8)
    return base::Corruption("segment descriptor has a bad length");
  if (XXH3_64bits(v.data(), v.size() - 8) != Get<uint64_t>(v.data() + v.size() - 8))
    return base::Corruption("segment descriptor checksum mismatch");
  d->record_count = Get<uint32_t>(v.data() + 4);
  d->last_seq = Get<uint64_t>(v.data() + 8);
  d->bytes = Get<uint64_t>(v.data() + 16);
  d->oldest_arrival_ms = Get<int64_t>(v.data() + 24);
  d->sealed_ms = Get<int64_t>(v.data() + 32);
  d->stream_version = Get<uint32_t>(v.data() + 40);
  d->attempts = Get<uint32_t>(v.data() + 44);
  d->first_failure_ms = Get<int64_t>(v.data() + 48);
  d->next_attempt_ms = Get<int64_t>(v.data() + 56);
  d->last_error.assign(v.data() + kFixed, err_len);
  if (v[0] == 2) d->partition.assign(v.data() + kFixed + err_len + 4, part_len);
  else d->partition.clear();
  if (d->last_seq < d->first_seq) return base::Corruption("segment descriptor ends before it starts");
  return base::Status::Ok();
}

}  // namespace sluice::storage
