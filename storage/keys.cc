// Big-endian key encoding.
#include "storage/keys.h"

namespace sluice::storage {

void PutBE32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; i--) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutBE64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; i--) out->push_back(static_cast<char>(v >> (8 * i)));
}
uint32_t GetBE32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(u[0]) << 24 | uint32_t(u[1]) << 16 | uint32_t(u[2]) << 8 | uint32_t(u[3]);
}
uint64_t GetBE64(const char* p) { return uint64_t(GetBE32(p)) << 32 | GetBE32(p + 4); }

void EncodeRecordKey(const RecordKey& key, std::string* out) {
  out->clear();
  PutBE32(out, key.stream_id);
  out->push_back(static_cast<char>(key.shard >> 8));
  out->push_back(static_cast<char>(key.shard));
  PutBE64(out, key.seq);
}

std::string EncodeRecordKey(const RecordKey& key) {
  std::string out;
  EncodeRecordKey(key, &out);
  return out;
}

bool DecodeRecordKey(std::string_view bytes, RecordKey* key) {
  if (bytes.size() != kRecordKeySize) return false;
  key->stream_id = GetBE32(bytes.data());
  key->shard = static_cast<uint16_t>((static_cast<unsigned char>(bytes[4]) << 8) |
                                     static_cast<unsigned char>(bytes[5]));
  key->seq = GetBE64(bytes.data() + 6);
  return true;
}

std::string StreamPrefix(uint32_t stream_id) {
  std::string out;
  PutBE32(&out, stream_id);
  return out;
}

}  // namespace sluice::storage
