// FlatBuffers verification plus semantic checks for each message type.
#include "protocol/verify.h"

#include <string>

namespace sluice::proto {
namespace {

constexpr uint32_t kMaxDepth = 16;

template <typename T>
base::Result<const T*> VerifyRoot(std::span<const uint8_t> body, uint32_t max_tables,
                                  const char* what) {
  SLUICE_DCHECK(IsAligned(body));
  if (body.size() < sizeof(flatbuffers::uoffset_t))
    return base::InvalidArgument(std::string(what) + " body is too short");
  flatbuffers::Verifier verifier(body.data(), body.size(), kMaxDepth, max_tables);
  if (!verifier.VerifyBuffer<T>(nullptr))
    return base::InvalidArgument(std::string(what) + " body failed FlatBuffers verification");
  return flatbuffers::GetRoot<T>(body.data());
}

}  // namespace

base::Result<const wire::Hello*> VerifyHello(std::span<const uint8_t> body) {
  return VerifyRoot<wire::Hello>(body, 8, "Hello");
}

base::Result<const wire::HelloAck*> VerifyHelloAck(std::span<const uint8_t> body) {
  return VerifyRoot<wire::HelloAck>(body, 8, "HelloAck");
}

base::Result<const wire::PutRecordBatch*> VerifyPutRecordBatch(std::span<const uint8_t> body,
                                                               const Limits& limits) {
  ASSIGN_OR_RETURN(const wire::PutRecordBatch* batch,
                   VerifyRoot<wire::PutRecordBatch>(body, limits.max_batch_records + 8,
                                                    "PutRecordBatch"));
  const auto* records = batch->records();
  // An empty batch is valid: it is answered with an empty response (docs/protocol.md).
  if (records->size() > limits.max_batch_records)
    return base::TooLarge("batch has " + std::to_string(records->size()) +
                          " records, limit is " + std::to_string(limits.max_batch_records));
  uint64_t bytes = 0;
  for (const wire::Record* r : *records) bytes += r->data() ? r->data()->size() : 0;
  if (bytes > limits.max_batch_bytes)
    return base::TooLarge("batch has " + std::to_string(bytes) + " payload bytes, limit is " +
                          std::to_string(limits.max_batch_bytes));
  return batch;
}

base::Result<const wire::PutRecordBatchResponse*> VerifyPutRecordBatchResponse(
    std::span<const uint8_t> body) {
  ASSIGN_OR_RETURN(const wire::PutRecordBatchResponse* resp,
                   VerifyRoot<wire::PutRecordBatchResponse>(body, kMaxBatchRecordsCap + 8,
                                                            "PutRecordBatchResponse"));
  // The Verifier checks the vector's length field, not that its 8-byte structs are 8-byte
  // aligned; any builder aligns them, so a misaligned one is a forged body (found by fuzzing:
  // reading it would be undefined behaviour).
  if ((reinterpret_cast<uintptr_t>(resp->results()->Data()) & (alignof(wire::RecordResult) - 1)) != 0)
    return base::InvalidArgument("PutRecordBatchResponse results are misaligned");
  uint32_t failed = 0;
  for (const wire::RecordResult* r : *resp->results()) failed += r->error_code() != 0;
  if (failed != resp->failed_put_count())
    return base::InvalidArgument("PutRecordBatchResponse failed_put_count " +
                                 std::to_string(resp->failed_put_count()) + " disagrees with " +
                                 std::to_string(failed) + " failed results");
  if (resp->errors()) {
    for (const wire::RecordError* e : *resp->errors()) {
      if (e->index() >= resp->results()->size())
        return base::InvalidArgument("PutRecordBatchResponse error index out of range");
    }
  }
  return resp;
}

base::Result<const wire::Error*> VerifyError(std::span<const uint8_t> body) {
  return VerifyRoot<wire::Error>(body, 4, "Error");
}

base::Result<const wire::DescribeCluster*> VerifyDescribeCluster(std::span<const uint8_t> body) {
  return VerifyRoot<wire::DescribeCluster>(body, 4, "DescribeCluster");
}

base::Result<const wire::DescribeClusterResponse*> VerifyDescribeClusterResponse(std::span<const uint8_t> body) {
  auto r = VerifyRoot<wire::DescribeClusterResponse>(body, 4 * 4096 + 8, "DescribeClusterResponse");
  if (!r.ok()) return r;
  const auto* members = r.value()->members();
  if (members == nullptr) return base::InvalidArgument("DescribeClusterResponse without members");
  if (members->size() > 4096) return base::InvalidArgument("DescribeClusterResponse with over 4096 members");
  for (const wire::ClusterMember* m : *members) {
    if (m->node() == nullptr || m->node()->size() == 0 || m->node()->size() > 64 || m->address() == nullptr ||
        m->address()->size() < 3 || m->address()->size() > 260)
      return base::InvalidArgument("DescribeClusterResponse with a member lacking a node id or address");
    std::string_view a(m->address()->data(), m->address()->size());
    size_t colon = a.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == a.size())
      return base::InvalidArgument("DescribeClusterResponse member address '" + std::string(a.substr(0, 64)) +
                                   "' is not host:port");
  }
  return r;
}

}  // namespace sluice::proto
