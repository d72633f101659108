// sluice::Producer: the installed interface (include/sluice/sluice.h) over client::Client.
#include "sluice/sluice.h"

#include "client-lib/client.h"
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

Result<BatchOutcome> Producer::Receive() {
  auto r = impl_->client->ReceivePutResult();
  if (!r.ok()) return ToError(r.status());
  BatchOutcome out;
  out.failed_count = r->failed_count;
  out.records.reserve(r->records.size());
  for (const client::RecordResult& rec : r->records) {
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

Result<BatchOutcome> Producer::PutRecordBatch(std::string_view stream, const std::vector<std::string_view>& records) {
  auto sent = Send(stream, records);
  if (!sent) return sent.error();
  return Receive();
}

size_t Producer::in_flight() const { return impl_->client->in_flight(); }

}  // namespace sluice
