// Frame header encoding and the first stage of verification (header + checksum).
#include "protocol/frame.h"

#include <xxhash.h>

#include <cstring>

namespace sluice::proto {
namespace {

void PutU16(uint8_t* p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
void PutU32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> (8 * i); }
void PutU64(uint8_t* p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = v >> (8 * i); }
uint16_t GetU16(const uint8_t* p) { return p[0] | (p[1] << 8); }
uint32_t GetU32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t GetU64(const uint8_t* p) { return uint64_t(GetU32(p)) | uint64_t(GetU32(p + 4)) << 32; }

}  // namespace

bool IsKnownMessageType(uint8_t type) {
  return type >= static_cast<uint8_t>(MessageType::kHello) &&
         type <= static_cast<uint8_t>(MessageType::kDescribeClusterResponse);
}

void AppendFrame(MessageType type, uint32_t request_id, std::span<const uint8_t> body,
                 std::string* out) {
  uint8_t h[kFrameHeaderSize];
  std::memcpy(h, kMagic, 4);
  h[4] = kProtocolVersion;
  h[5] = static_cast<uint8_t>(type);
  PutU16(h + 6, 0);
  PutU32(h + 8, static_cast<uint32_t>(body.size()));
  PutU32(h + 12, request_id);
  PutU64(h + 16, XXH3_64bits(body.data(), body.size()));
  out->append(reinterpret_cast<const char*>(h), sizeof(h));
  out->append(reinterpret_cast<const char*>(body.data()), body.size());
}

base::Result<FrameHeader> DecodeHeader(std::span<const uint8_t> bytes, uint32_t max_body,
                                       WireError* why) {
  SLUICE_DCHECK(bytes.size() >= kFrameHeaderSize);
  WireError ignored;
  if (why == nullptr) why = &ignored;
  *why = WireError::kMalformedFrame;
  const uint8_t* p = bytes.data();
  if (std::memcmp(p, kMagic, 4) != 0)
    return base::InvalidArgument("bad frame magic (not a Sluice client, or stream out of sync)");
  *why = WireError::kUnsupportedVersion;
  if (p[4] != kProtocolVersion)
    return base::InvalidArgument("unsupported frame version " + std::to_string(p[4]) +
                                 " (this server speaks " + std::to_string(kProtocolVersion) + ")");
  *why = WireError::kUnknownMessageType;
  if (!IsKnownMessageType(p[5]))
    return base::InvalidArgument("unknown message type " + std::to_string(p[5]));
  FrameHeader h;
  h.type = static_cast<MessageType>(p[5]);
  h.flags = GetU16(p + 6);
  *why = WireError::kMalformedFrame;
  if (h.flags != 0)
    return base::InvalidArgument("frame flags must be 0 in version 1, got " + std::to_string(h.flags));
  h.body_len = GetU32(p + 8);
  *why = WireError::kFrameTooLarge;
  if (h.body_len > max_body)
    return base::TooLarge("frame body of " + std::to_string(h.body_len) + " bytes exceeds limit of " +
                          std::to_string(max_body));
  h.request_id = GetU32(p + 12);
  h.checksum = GetU64(p + 16);
  *why = WireError::kOk;
  return h;
}

base::Result<std::optional<Frame>> DecodeFrame(std::span<const uint8_t> buf, uint32_t max_body,
                                               WireError* why) {
  WireError ignored;
  if (why == nullptr) why = &ignored;
  *why = WireError::kOk;
  if (buf.size() < kFrameHeaderSize) return std::optional<Frame>();
  ASSIGN_OR_RETURN(FrameHeader h, DecodeHeader(buf, max_body, why));
  if (buf.size() - kFrameHeaderSize < h.body_len) return std::optional<Frame>();
  std::span<const uint8_t> body = buf.subspan(kFrameHeaderSize, h.body_len);
  if (XXH3_64bits(body.data(), body.size()) != h.checksum) {
    *why = WireError::kBadChecksum;
    return base::Corruption("frame body checksum mismatch");
  }
  return std::optional<Frame>(Frame{h, body});
}

}  // namespace sluice::proto
