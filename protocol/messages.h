// Encoders for every message: each appends one complete frame (header + body) to `out`.
// The server and the client both build their frames here, so the two cannot drift.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/error_codes.h"
#include "protocol/frame.h"
#include "protocol/limits.h"
#include "protocol/sluice_generated.h"

namespace sluice::proto {

void EncodeHello(uint32_t request_id, std::string_view client_name, std::string_view auth_token,
                 std::string* out);
void EncodeHelloAck(uint32_t request_id, std::string_view server_name, const Limits& limits,
                    std::string* out);
void EncodeDescribeCluster(uint32_t request_id, std::string* out);
struct MemberInfo {
  std::string node, address, state;
  uint64_t connections = 0;
  uint64_t backlog_bytes = 0;
};
void EncodeDescribeClusterResponse(uint32_t request_id, std::string_view node, bool cluster,
                                   const std::vector<MemberInfo>& members, std::string* out);
void EncodeError(uint32_t request_id, WireError code, std::string_view message, bool closing,
                 std::string* out);

// Builds PutRecordBatch frames. Reuses its FlatBufferBuilder across calls.
// Thread: one owner; not thread-safe.
class PutRecordBatchEncoder {
 public:
  void Encode(uint32_t request_id, std::string_view stream,
              std::span<const std::string_view> records, std::string* out);

 private:
  flatbuffers::FlatBufferBuilder fbb_{64 << 10};
  std::vector<flatbuffers::Offset<wire::Record>> offsets_;
};

// Builds a PutRecordBatchResponse, one Add call per request record, in request order.
// Thread: one owner; not thread-safe.
class PutResponseEncoder {
 public:
  void Reset(size_t expected);
  void AddStored(uint64_t record_id);
  // Identical messages within one response are stored once (FlatBuffers shared strings).
  void AddFailed(WireError code, std::string_view message);
  // Appends the frame and resets the encoder.
  void Finish(uint32_t request_id, std::string* out);
  size_t size() const { return results_.size(); }

 private:
  flatbuffers::FlatBufferBuilder fbb_{4 << 10};
  std::vector<wire::RecordResult> results_;
  std::vector<std::pair<uint32_t, std::string>> errors_;
};

}  // namespace sluice::proto
