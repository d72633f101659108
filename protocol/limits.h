// Every size limit of the wire protocol, defined once.
#pragma once

#include <cstdint>

#include "base/status.h"

namespace sluice::proto {

// Hard caps that configuration can never exceed: record ids reserve 14 bits for the index of a
// record in its batch, and one frame must fit comfortably in memory.
inline constexpr uint32_t kMaxBatchRecordsCap = 16'383;
inline constexpr uint32_t kMaxBatchBytesCap = 64u << 20;
inline constexpr uint32_t kMaxStreamNameBytes = 64;  // Firehose: 1..64 [a-zA-Z0-9_.-]
// Room for FlatBuffers tables and vectors around the payload bytes.
inline constexpr uint32_t kFramePerRecordOverhead = 32;
inline constexpr uint32_t kFrameFixedOverhead = 64u << 10;

// The limits a server enforces; a client learns them from HelloAck.
struct Limits {
  // Largest record payload. Default: 1,024,000 (Firehose's 1,000 KiB). Reloadable: no.
  uint32_t max_record_bytes = 1'024'000;
  // Most records in one PutRecordBatch. Default: 500 (Firehose). Reloadable: no.
  uint32_t max_batch_records = 500;
  // Most payload bytes in one PutRecordBatch. Default: 4 MiB (Firehose). Reloadable: no.
  uint32_t max_batch_bytes = 4u << 20;

  // Largest frame body accepted; anything longer is refused before it is buffered.
  uint32_t MaxFrameBody() const {
    return max_batch_bytes + max_batch_records * kFramePerRecordOverhead + kFrameFixedOverhead;
  }
  // Returns kInvalidArgument naming the field when a limit is outside its allowed range.
  base::Status Validate() const;
};

}  // namespace sluice::proto
