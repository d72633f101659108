// Frame encoders for every message type.
#include "protocol/messages.h"

namespace sluice::proto {
namespace {

void FinishFrame(flatbuffers::FlatBufferBuilder& fbb, MessageType type, uint32_t request_id,
                 std::string* out) {
  AppendFrame(type, request_id, std::span<const uint8_t>(fbb.GetBufferPointer(), fbb.GetSize()),
              out);
  fbb.Clear();
}

}  // namespace

void EncodeHello(uint32_t request_id, std::string_view client_name, std::string_view auth_token,
                 std::string* out) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto name = fbb.CreateString(client_name.data(), client_name.size());
  auto token = fbb.CreateString(auth_token.data(), auth_token.size());
  fbb.Finish(wire::CreateHello(fbb, kProtocolVersion, name, token));
  FinishFrame(fbb, MessageType::kHello, request_id, out);
}

void EncodeHelloAck(uint32_t request_id, std::string_view server_name, const Limits& limits,
                    std::string* out) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto name = fbb.CreateString(server_name.data(), server_name.size());
  fbb.Finish(wire::CreateHelloAck(fbb, kProtocolVersion, name, limits.max_record_bytes,
                                  limits.max_batch_records, limits.max_batch_bytes));
  FinishFrame(fbb, MessageType::kHelloAck, request_id, out);
}

void EncodeDescribeCluster(uint32_t request_id, std::string* out) {
  flatbuffers::FlatBufferBuilder fbb(64);
  fbb.Finish(wire::CreateDescribeCluster(fbb));
  FinishFrame(fbb, MessageType::kDescribeCluster, request_id, out);
}

void EncodeDescribeClusterResponse(uint32_t request_id, std::string_view node, bool cluster,
                                   const std::vector<MemberInfo>& members, std::string* out) {
  flatbuffers::FlatBufferBuilder fbb(256 + members.size() * 128);
  std::vector<flatbuffers::Offset<wire::ClusterMember>> offsets;
  offsets.reserve(members.size());
  for (const MemberInfo& m : members)
    offsets.push_back(wire::CreateClusterMember(fbb, fbb.CreateString(m.node), fbb.CreateString(m.address),
                                                fbb.CreateString(m.state), m.connections, m.backlog_bytes));
  auto vec = fbb.CreateVector(offsets);
  auto name = fbb.CreateString(node.data(), node.size());
  fbb.Finish(wire::CreateDescribeClusterResponse(fbb, name, cluster, vec));
  FinishFrame(fbb, MessageType::kDescribeClusterResponse, request_id, out);
}

void EncodeError(uint32_t request_id, WireError code, std::string_view message, bool closing,
                 std::string* out) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto msg = fbb.CreateString(message.data(), message.size());
  fbb.Finish(wire::CreateError(fbb, static_cast<uint16_t>(code), msg, closing));
  FinishFrame(fbb, MessageType::kError, request_id, out);
}

void PutRecordBatchEncoder::Encode(uint32_t request_id, std::string_view stream,
                                   std::span<const std::string_view> records, std::string* out) {
  offsets_.clear();
  offsets_.reserve(records.size());
  for (std::string_view r : records) {
    auto data = fbb_.CreateVector(reinterpret_cast<const uint8_t*>(r.data()), r.size());
    offsets_.push_back(wire::CreateRecord(fbb_, data));
  }
  auto vec = fbb_.CreateVector(offsets_);
  auto name = fbb_.CreateString(stream.data(), stream.size());
  fbb_.Finish(wire::CreatePutRecordBatch(fbb_, name, vec));
  FinishFrame(fbb_, MessageType::kPutRecordBatch, request_id, out);
}

void PutResponseEncoder::Reset(size_t expected) {
  results_.clear();
  errors_.clear();
  results_.reserve(expected);
}

void PutResponseEncoder::AddStored(uint64_t record_id) { results_.emplace_back(record_id, 0); }

void PutResponseEncoder::AddFailed(WireError code, std::string_view message) {
  errors_.emplace_back(static_cast<uint32_t>(results_.size()), std::string(message));
  results_.emplace_back(0, static_cast<uint16_t>(code));
}

void PutResponseEncoder::Finish(uint32_t request_id, std::string* out) {
  std::vector<flatbuffers::Offset<wire::RecordError>> errs;
  errs.reserve(errors_.size());
  for (auto& [index, msg] : errors_)
    // Shared: a batch that fails for one reason carries its message once, so a response stays
    // a small multiple of its request (24 bytes a failed record, not 24 + the message).
    errs.push_back(wire::CreateRecordError(fbb_, index, fbb_.CreateSharedString(msg)));
  auto results = fbb_.CreateVectorOfStructs(results_);
  auto errors = errs.empty() ? 0 : fbb_.CreateVector(errs);
  fbb_.Finish(wire::CreatePutRecordBatchResponse(fbb_, static_cast<uint32_t>(errors_.size()),
                                                 results, errors));
  FinishFrame(fbb_, MessageType::kPutRecordBatchResponse, request_id, out);
  Reset(0);
}

}  // namespace sluice::proto
