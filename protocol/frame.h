// Frame header: the fixed 24 bytes in front of every message on a Sluice connection.
//
//   0       4       5       6               8              12              16              24
//   +-------+-------+-------+---------------+---------------+---------------+---------------+
//   | magic | ver   | type  |    flags      |   body_len    |  request_id   |  xxh3_64(body) |
//   | "SLUI"| u8=1  | u8    |  u16 = 0      |   u32         |  u32          |  u64           |
//   +-------+-------+-------+---------------+---------------+---------------+---------------+
//   All integers little-endian. The body (body_len bytes, a FlatBuffers buffer whose root
//   table is given by `type`) follows immediately. request_id is chosen by the client and
//   echoed in the response to that request; the server answers requests in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "base/status.h"
#include "protocol/error_codes.h"
#include "protocol/limits.h"

namespace sluice::proto {

inline constexpr size_t kFrameHeaderSize = 24;
inline constexpr uint8_t kMagic[4] = {'S', 'L', 'U', 'I'};
inline constexpr uint8_t kProtocolVersion = 1;

enum class MessageType : uint8_t {
  kHello = 1,
  kHelloAck = 2,
  kPutRecordBatch = 3,
  kPutRecordBatchResponse = 4,
  kError = 5,
  kDescribeCluster = 6,
  kDescribeClusterResponse = 7,
};
bool IsKnownMessageType(uint8_t type);

struct FrameHeader {
  MessageType type = MessageType::kError;
  uint16_t flags = 0;
  uint32_t body_len = 0;
  uint32_t request_id = 0;
  uint64_t checksum = 0;
};

// A complete frame inside a receive buffer. `body` points into that buffer.
struct Frame {
  FrameHeader header;
  std::span<const uint8_t> body;
  size_t size() const { return kFrameHeaderSize + body.size(); }
};

// Appends header + body to `out`, computing the checksum.
void AppendFrame(MessageType type, uint32_t request_id, std::span<const uint8_t> body,
                 std::string* out);

// Decodes and checks a header (magic, version, flags, known type, body_len <= max_body).
// REQUIRES: bytes.size() >= kFrameHeaderSize.
// Returns kInvalidArgument for a malformed header, kTooLarge when body_len > max_body; on error
// *why (when given) gets the wire code to answer with.
base::Result<FrameHeader> DecodeHeader(std::span<const uint8_t> bytes, uint32_t max_body,
                                       WireError* why = nullptr);

// Cuts the first frame out of `buf`. Returns std::nullopt when `buf` holds only part of a
// frame (call again with more bytes), an error when the header is invalid, the body is too
// long, or the checksum does not match (kCorruption). A valid header is rejected as soon as
// its 24 bytes are in, so an oversized frame is never buffered.
// *why (when given) gets the wire code to answer with.
base::Result<std::optional<Frame>> DecodeFrame(std::span<const uint8_t> buf, uint32_t max_body,
                                               WireError* why = nullptr);

}  // namespace sluice::proto
