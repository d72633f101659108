// Connection: framing, dispatch, staged responses and per-connection backpressure.
#include "server/connection.h"

#include <unistd.h>

#include <cstring>

#include "base/clock.h"
#include "base/constant_time.h"
#include "base/log.h"
#include "protocol/messages.h"
#include "protocol/verify.h"
#include "server/shard.h"

namespace sluice::server {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
// An empty buffer up to this size is kept while the connection is busy (no allocation per
// read); a larger one is freed at once, and any empty one once the connection idles for a
// second (CheckTimeouts), so idle connections hold no buffer.
constexpr size_t kKeepWhileBusy = 1u << 20;

uint32_t LoadLE32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }

}  // namespace

uv_buf_t InputBuffer::Reserve(size_t min) {
  if (cap_ - end_ < min && begin_ > 0) {
    std::memmove(data(), data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (cap_ - end_ < min) {
    size_t cap = std::max(cap_ * 2, end_ + min);
    cap = (cap + 7) & ~size_t(7);
    std::unique_ptr<uint64_t[]> words(new uint64_t[cap / 8]);
    if (end_ > 0) std::memcpy(words.get(), data(), end_);
    words_ = std::move(words);
    cap_ = cap;
  }
  return uv_buf_init(reinterpret_cast<char*>(data() + end_), static_cast<unsigned>(cap_ - end_));
}

void InputBuffer::Consume(size_t n) {
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

void InputBuffer::ReleaseIfEmpty() {
  if (begin_ != end_ || cap_ == 0) return;
  words_.reset();
  cap_ = begin_ = end_ = 0;
}

Connection::Connection(Shard* shard, uint64_t id) : ShardConnection(shard, id) {
  authenticated_ = shard->cfg().auth_token.empty() && shard->cfg().access_keys.empty();
}

uint32_t Connection::EchoedRequestId() const {
  // The request id of a header that is a Sluice header (its magic matched), even if the rest
  // of it is refused; 0 when fewer than 24 bytes arrived or they are not a Sluice header.
  std::span<const uint8_t> unread = in_.Unread();
  if (unread.size() < proto::kFrameHeaderSize || std::memcmp(unread.data(), proto::kMagic, 4) != 0) return 0;
  return LoadLE32(unread.data() + 12);
}

bool Connection::WantRead() const { return ReadingAllowed(); }

void Connection::OnAllocBuffer(uv_buf_t* buf) {
  // Growing the buffer (or taking one) needs client memory; over budget, the room already held
  // is still used (a frame in progress reserved its size, so it can always finish), and with
  // none left the read ends with UV_ENOBUFS and the connection waits (OnReadEnd).
  const size_t room = in_.Room();
  const bool over = shard_->client_memory().Over();
  if (room == 0 && over) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  // At least kReadChunk contiguous (compacting or growing) while the budget has room, as large
  // reads keep the per-frame work low; over it, only the room already held, compacted.
  *buf = in_.Reserve(over ? room : std::max(room, kReadChunk));
  SyncInputCharge();
}

void Connection::OnBytes(size_t n) {
  reads_++;
  in_.Commit(n);
  ProcessInput();
}

void Connection::ProcessInput() {
  const ServerConfig& cfg = shard_->cfg();
  const uint32_t max_body = cfg.limits.MaxFrameBody();
  bool consumed = false;
  while (!in_.Unread().empty() && MayTakeRequest()) {
    proto::WireError why = proto::WireError::kOk;
    auto decoded = proto::DecodeFrame(in_.Unread(), max_body, &why);
    if (!decoded.ok()) {
      // The header was readable (DecodeFrame judges a frame only once its 24 bytes are in):
      // answer with the request id it carries.
      Fail(EchoedRequestId(), why, decoded.status().message());
      break;
    }
    if (!decoded.value().has_value()) {
      // An incomplete frame: once its header is in, reserve the whole frame at once, so a
      // frame that was started can always finish (or time out) without growing step by step.
      std::span<const uint8_t> unread = in_.Unread();
      if (unread.size() >= proto::kFrameHeaderSize) {
        size_t total = proto::kFrameHeaderSize + LoadLE32(unread.data() + 8);
        if (in_.capacity() < total) {
          if (shard_->client_memory().Over()) {
            PauseForMemory();
            break;
          }
          in_.Reserve(total - unread.size());
          SyncInputCharge();
        }
      }
      break;
    }
    const proto::Frame& frame = *decoded.value();
    std::span<const uint8_t> body = frame.body;
    if (!proto::IsAligned(body)) {
      aligned_body_.resize((body.size() + 7) / 8 + 1);
      std::memcpy(aligned_body_.data(), body.data(), body.size());
      body = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(aligned_body_.data()),
                                      body.size());
    }
    HandleFrame(frame, body);
    in_.Consume(frame.size());
    consumed = true;
  }
  if (in_.Unread().empty()) {
    partial_since_ms_ = 0;
    if (in_.capacity() > kKeepWhileBusy) {
      in_.ReleaseIfEmpty();
      SyncInputCharge();
    }
  } else if (consumed || partial_since_ms_ == 0) {
    partial_since_ms_ = base::Clock::Real()->NowUnixMillis();  // a new frame began
  }
}

void Connection::HandleFrame(const proto::Frame& frame, std::span<const uint8_t> body) {
  const ServerConfig& cfg = shard_->cfg();
  const uint32_t req = frame.header.request_id;
  switch (frame.header.type) {
    case proto::MessageType::kHello: {
      auto hello = proto::VerifyHello(body);
      if (!hello.ok()) return Fail(req, proto::WireError::kMalformedBody, hello.status().message());
      if (hello.value()->protocol_version() < proto::kProtocolVersion)
        return Fail(req, proto::WireError::kUnsupportedVersion,
                    "client protocol version " + std::to_string(hello.value()->protocol_version()) +
                        " is older than the server's " + std::to_string(proto::kProtocolVersion));
      if (!cfg.auth_token.empty() || !cfg.access_keys.empty()) {
        const auto* token = hello.value()->auth_token();
        std::string_view given = token ? std::string_view(token->data(), token->size()) : "";
        if (given.empty())
          return Fail(req, proto::WireError::kUnauthenticated,
                      "this server requires an auth token: send it in Hello.auth_token (sluice --auth-token)");
        // The server's token, or an access key as "<id>:<secret>" (the Firehose API's keys).
        bool ok = !cfg.auth_token.empty() && base::ConstantTimeEquals(given, cfg.auth_token);
        if (!ok) {
          const size_t colon = given.find(':');
          const std::string_view id = given.substr(0, colon);
          const std::string_view secret = colon == std::string_view::npos ? std::string_view() : given.substr(colon + 1);
          for (const AccessKey& k : cfg.access_keys)
            if (base::ConstantTimeEquals(id, k.id) && base::ConstantTimeEquals(secret, k.secret)) key_ = &k;
          ok = key_ != nullptr;
        }
        if (!ok) return Fail(req, proto::WireError::kUnauthenticated, "auth token rejected");
      }
      authenticated_ = true;
      std::string out;
      proto::EncodeHelloAck(req, "sluiced/0.1", cfg.limits, &out);
      StageFrame(req, std::move(out));
      return;
    }
    case proto::MessageType::kPutRecordBatch: {
      if (!authenticated_)
        return Fail(req, proto::WireError::kUnauthenticated,
                    "this server requires an auth token: send a Hello with auth_token first (sluice --auth-token)");
      auto batch = proto::VerifyPutRecordBatch(body, cfg.limits);
      shard_->mutable_stats().put_requests.fetch_add(1, std::memory_order_relaxed);
      if (!batch.ok()) {
        if (batch.status().code() == base::Code::kTooLarge) {
          // The frame was well-formed: refuse this request only and keep the connection.
          std::string out;
          proto::EncodeError(req, proto::WireError::kBatchTooLarge, batch.status().message(),
                             false, &out);
          StageFrame(req, std::move(out));
          return;
        }
        return Fail(req, proto::WireError::kMalformedBody, batch.status().message());
      }
      Staged s;
      s.request_id = req;
      s.is_put = true;
      if (key_ != nullptr) {
        std::string_view stream(batch.value()->stream()->data(), batch.value()->stream()->size());
        if (!key_->Allows("PutRecordBatch") || !key_->MayUse(stream)) {
          // Refused as a whole, like an unknown stream: nothing is staged.
          s.put.record_count = batch.value()->records()->size();
          s.put.all_failed = proto::WireError::kUnauthenticated;
          s.put.all_failed_message = "access key " + key_->id + " may not put to stream '" +
                                     std::string(stream.substr(0, 128)) + "'";
        }
      }
      if (s.put.all_failed == proto::WireError::kOk)
        s.put = shard_->puts().Stage(*batch.value(), base::Clock::Real()->NowUnixMillis());
      s.charged = s.put.ResponseBytesBound();
      ChargeStaged(static_cast<int64_t>(s.charged));
      staged_.push_back(std::move(s));
      shard_->MarkDirty(this);
      return;
    }
    case proto::MessageType::kDescribeCluster: {
      if (!authenticated_)
        return Fail(req, proto::WireError::kUnauthenticated,
                    "this server requires an auth token: send a Hello with auth_token first (sluice --auth-token)");
      if (!proto::VerifyDescribeCluster(body).ok())
        return Fail(req, proto::WireError::kMalformedBody, "DescribeCluster body failed verification");
      std::string node;
      bool cluster = false;
      std::vector<proto::MemberInfo> members;
      if (MainDoor* door = shard_->main_door()) door->DescribeCluster(&node, &cluster, &members);
      std::string out;
      proto::EncodeDescribeClusterResponse(req, node, cluster, members, &out);
      StageFrame(req, std::move(out));
      return;
    }
    default:
      return Fail(req, proto::WireError::kInvalidRequest,
                  "message type " + std::to_string(static_cast<int>(frame.header.type)) +
                      " is not a request");
  }
}

void Connection::StageFrame(uint32_t request_id, std::string frame) {
  Staged s;
  s.request_id = request_id;
  s.frame = std::move(frame);
  s.charged = s.frame.size();
  ChargeStaged(static_cast<int64_t>(s.charged));
  staged_.push_back(std::move(s));
  shard_->MarkDirty(this);
}

void Connection::Fail(uint32_t request_id, proto::WireError code, const std::string& message) {
  shard_->mutable_stats().protocol_errors.fetch_add(1, std::memory_order_relaxed);
  SLUICE_LOG_DEBUG("conn", "shard %u conn %lu: %s: %s", shard_->id(),
                   static_cast<unsigned long>(id_), std::string(proto::WireErrorName(code)).c_str(),
                   message.c_str());
  std::string out;
  proto::EncodeError(request_id, code, message, true, &out);
  StageFrame(request_id, std::move(out));
  close_after_drain_ = true;
  UpdateReading();
}

void Connection::Flush(const base::Status& commit) {
  if (staged_.empty()) return;
  std::string out;
  ShardStats& stats = shard_->mutable_stats();
  size_t charged = 0;
  const int64_t now_ns = base::Clock::Real()->NowMonoNanos();
  for (Staged& s : staged_) {
    charged += s.charged;
    if (!s.is_put) {
      out += s.frame;
      continue;
    }
    stats.put_ack_latency.ObserveMicros((now_ns - s.put.staged_mono_ns) / 1000);
    shard_->puts().EncodeResponse(s.put, s.request_id, commit, &shard_->response_encoder(), &out);
    uint32_t accepted = s.put.record_count - s.put.failed_count();
    stats.records_failed.fetch_add(s.put.failed_count() + (commit.ok() ? 0 : accepted),
                                   std::memory_order_relaxed);
    if (commit.ok()) {
      stats.records_stored.fetch_add(accepted, std::memory_order_relaxed);
      stats.bytes_stored.fetch_add(s.put.accepted_bytes, std::memory_order_relaxed);
    }
  }
  staged_.clear();
  // The bounds charged while staged become the bytes actually queued (Write counts those).
  ChargeStaged(-static_cast<int64_t>(charged));
  SendFlushed(std::move(out));
}

void Connection::CheckTimeouts(int64_t now_ms) {
  if (closing()) return;
  const ServerConfig& cfg = shard_->cfg();
  // Idle for a tick: give the receive buffer back.
  if (reads_ == reads_seen_ && in_.Unread().empty() && in_.capacity() > 0) {
    in_.ReleaseIfEmpty();
    SyncInputCharge();
  }
  reads_seen_ = reads_;
  // Only a frame still arriving can time out: complete frames held back by the server's own
  // backpressure (output or memory budget) are not the client's delay.
  std::span<const uint8_t> held = in_.Unread();
  const bool frame_complete = held.size() >= proto::kFrameHeaderSize &&
                              held.size() - proto::kFrameHeaderSize >= LoadLE32(held.data() + 8);
  if (frame_complete) partial_since_ms_ = now_ms;
  if (partial_since_ms_ != 0 && !close_after_drain_ &&
      now_ms - partial_since_ms_ > int64_t(cfg.read_timeout_s) * 1000) {
    std::span<const uint8_t> unread = in_.Unread();
    uint32_t req = EchoedRequestId();
    shard_->mutable_stats().timeouts.fetch_add(1, std::memory_order_relaxed);
    SLUICE_LOG_INFO("conn", "shard %u conn %lu: closing: %zu bytes of a frame arrived and the rest did not within read_timeout_s %u",
                    shard_->id(), static_cast<unsigned long>(id_), unread.size(), cfg.read_timeout_s);
    partial_since_ms_ = 0;
    Fail(req, proto::WireError::kTimeout,
         "the frame was not complete within read_timeout_s (" + std::to_string(cfg.read_timeout_s) + " s)");
    return;
  }
  if (CloseIfWriteStalled(static_cast<uint64_t>(now_ms), uint64_t(cfg.write_timeout_s) * 1000, "a put client"))
    shard_->mutable_stats().timeouts.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace sluice::server
