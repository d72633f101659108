// The only path from untrusted frame bodies to typed FlatBuffers views.
//
// Every view returned here has passed the FlatBuffers Verifier (bounds, offsets, required
// fields, depth and table-count limits) and the semantic checks the type needs (limits, index
// ranges). Views point into `body`: keep it alive and unmodified while they are used.
// REQUIRES for every function: body.data() is 8-byte aligned (FlatBuffers reads scalars in
// place; see AlignedBody in server/connection.cc for how a receive buffer guarantees it).
#pragma once

#include <cstdint>
#include <span>

#include "base/status.h"
#include "protocol/limits.h"
#include "protocol/sluice_generated.h"

namespace sluice::proto {

// Returns kInvalidArgument when the body is not a valid Hello.
base::Result<const wire::Hello*> VerifyHello(std::span<const uint8_t> body);
base::Result<const wire::HelloAck*> VerifyHelloAck(std::span<const uint8_t> body);

// Returns kInvalidArgument for a structurally bad body, kTooLarge when the batch has more
// records or payload bytes than `limits` allow. A single record above max_record_bytes is NOT
// an error here: the server rejects that record alone and stores the rest.
base::Result<const wire::PutRecordBatch*> VerifyPutRecordBatch(std::span<const uint8_t> body,
                                                               const Limits& limits);

// Also checks that every error index is inside the results vector and that failed_put_count
// matches the results.
base::Result<const wire::PutRecordBatchResponse*> VerifyPutRecordBatchResponse(
    std::span<const uint8_t> body);

base::Result<const wire::Error*> VerifyError(std::span<const uint8_t> body);
base::Result<const wire::DescribeCluster*> VerifyDescribeCluster(std::span<const uint8_t> body);
// Also checks that every member has a node and a host:port address (at most 4096 members).
base::Result<const wire::DescribeClusterResponse*> VerifyDescribeClusterResponse(std::span<const uint8_t> body);

inline bool IsAligned(std::span<const uint8_t> body) {
  return (reinterpret_cast<uintptr_t>(body.data()) & 7u) == 0;
}

}  // namespace sluice::proto
