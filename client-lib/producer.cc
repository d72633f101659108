// sluice::Producer: the installed interface (include/sluice/sluice.h) over client::Client.
#include "sluice/sluice.h"

#include "client-lib/client.h"
#include "client-lib/cluster_lane.h"
#include "protocol/error_codes.h"

namespace sluice {
namespace {

Error ToError(const base::Status& st) {
  ErrorCode code = ErrorCode::kServer;
  switch (st.code()) {
    case base::Code::kInvalidArgument:
    case base::Code::kTooLarge: code = ErrorCode::kInvalidArgument; break;
    case base::Code::kUnavailable:
    case base::Code::kShuttingDown: code = ErrorCode::kUnavailable; break;
    case base::Code::kUnauthenticated: code = ErrorCode::kUnauthenticated; break;
    case base::Code::kCorruption: code = ErrorCode::kProtocol; break;
    default: break;
  }
  return Error{code, st.message()};
}

}  // namespace

const char* Version() { return SLUICE_VERSION; }

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "Ok";
    case ErrorCode::kInvalidArgument: return "InvalidArgument";
    case ErrorCode::kUnavailable: return "Unavailable";
    case ErrorCode::kUnauthenticated: return "Unauthenticated";
    case ErrorCode::kProtocol: return "Protocol";
    case ErrorCode::kServer: return "Server";
  }
  return "Unknown";
}

struct Producer::Impl {
  std::unique_ptr<client::Client> client;
};

Producer::Producer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Producer::~Producer() = default;

Result<std::unique_ptr<Producer>> Producer::Connect(const Options& o) {
  client::ClientOptions co;
  co.host = o.host;
  co.port = o.port;
  co.auth_token = o.auth_token;
  co.client_name = o.client_name;
  co.connect_timeout_ms = o.connect_timeout_ms;
  co.tls = o.tls;
  co.ca_file = o.ca_file;
  co.io_timeout_ms = o.io_timeout_ms;
  auto c = client::Client::Connect(co);
  if (!c.ok()) return ToError(c.status());
  auto impl = std::make_unique<Impl>();
  impl->client = std::move(c).value();
  return std::unique_ptr<Producer>(new Producer(std::move(impl)));
}

ServerLimits Producer::limits() const {
  const proto::Limits& l = impl_->client->server_limits();
  return {l.max_record_bytes, l.max_batch_records, l.max_batch_bytes};
}

Result<uint32_t> Producer::Send(std::string_view stream, const std::vector<std::string_view>& records) {
  auto r = impl_->client->SendPutRecordBatch(stream, records);
  if (!r.ok()) return ToError(r.status());
  return r.value();
}

namespace {
BatchOutcome ToOutcome(const client::PutResult& r) {
  BatchOutcome out;
  out.failed_count = r.failed_count;
  out.records.reserve(r.records.size());
  for (const client::RecordResult& rec : r.records) {
    RecordOutcome o;
    o.record_id = rec.record_id;
    o.error_code = rec.error_code;
    if (!rec.ok()) {
      auto wire = static_cast<proto::WireError>(rec.error_code);
      o.error_name = std::string(proto::WireErrorName(wire));
      o.retryable = proto::IsRetryable(wire);
      o.message = rec.error_message;
    }
    out.records.push_back(std::move(o));
  }
  return out;
}
}  // namespace

Result<BatchOutcome> Producer::Receive() {
  auto r = impl_->client->ReceivePutResult();
  if (!r.ok()) return ToError(r.status());
  return ToOutcome(r.value());
}

Result<BatchOutcome> Producer::PutRecordBatch(std::string_view stream, const std::vector<std::string_view>& records) {
  auto sent = Send(stream, records);
  if (!sent) return sent.error();
  return Receive();
}

size_t Producer::in_flight() const { return impl_->client->in_flight(); }

struct ClusterProducer::Impl {
  std::unique_ptr<client::ClusterLane> lane;
};

ClusterProducer::ClusterProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClusterProducer::~ClusterProducer() = default;

Result<std::unique_ptr<ClusterProducer>> ClusterProducer::Connect(const ClusterOptions& o) {
  client::ClusterLaneOptions lo;
  lo.seeds = o.seeds;
  lo.connection.auth_token = o.connection.auth_token;
  lo.connection.client_name = o.connection.client_name;
  lo.connection.connect_timeout_ms = o.connection.connect_timeout_ms;
  lo.connection.io_timeout_ms = o.connection.io_timeout_ms;
  lo.connection.tls = o.connection.tls;
  lo.connection.ca_file = o.connection.ca_file;
  lo.failover_timeout_ms = o.failover_timeout_ms;
  lo.rebalance_interval_ms = o.rebalance_interval_ms;
  auto lane = client::ClusterLane::Connect(lo);
  if (!lane.ok()) return ToError(lane.status());
  auto impl = std::make_unique<Impl>();
  impl->lane = std::move(lane).value();
  return std::unique_ptr<ClusterProducer>(new ClusterProducer(std::move(impl)));
}

ServerLimits ClusterProducer::limits() const {
  const proto::Limits& l = impl_->lane->server_limits();
  return {l.max_record_bytes, l.max_batch_records, l.max_batch_bytes};
}

Result<uint64_t> ClusterProducer::Send(std::string_view stream, const std::vector<std::string_view>& records) {
  auto r = impl_->lane->Send(stream, records);
  if (!r.ok()) return ToError(r.status());
  return r.value();
}

Result<std::pair<uint64_t, BatchOutcome>> ClusterProducer::Receive() {
  auto r = impl_->lane->Receive();
  if (!r.ok()) return ToError(r.status());
  return std::make_pair(r->first, ToOutcome(r->second));
}

Result<BatchOutcome> ClusterProducer::PutRecordBatch(std::string_view stream, const std::vector<std::string_view>& records) {
  if (in_flight() != 0) return Error{ErrorCode::kInvalidArgument, "PutRecordBatch needs nothing in flight"};
  auto sent = Send(stream, records);
  if (!sent) return sent.error();
  auto r = Receive();
  if (!r) return r.error();
  return std::move(r->second);
}

size_t ClusterProducer::in_flight() const { return impl_->lane->in_flight(); }
bool ClusterProducer::wants_rebalance() const { return impl_->lane->wants_rebalance(); }
std::string ClusterProducer::node() const { return impl_->lane->node(); }
std::vector<std::string> ClusterProducer::members() const {
  std::vector<std::string> out;
  for (const auto& m : impl_->lane->members()) out.push_back(m.node);
  return out;
}
uint64_t ClusterProducer::failovers() const { return impl_->lane->failovers(); }

}  // namespace sluice
