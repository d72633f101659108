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
// OnAlloc hands out what is left of the buffer while at least this much is free.
constexpr size_t kMinReadRoom = 4 * 1024;

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

Connection::Connection(Shard* shard, uint64_t id) : shard_(shard), id_(id) {
  tcp_.data = this;
  authenticated_ = shard->cfg().auth_token.empty();
}

uint32_t Connection::EchoedRequestId() const {
  // The request id of a header that is a Sluice header (its magic matched), even if the rest
  // of it is refused; 0 when fewer than 24 bytes arrived or they are not a Sluice header.
  std::span<const uint8_t> unread = in_.Unread();
  if (unread.size() < proto::kFrameHeaderSize || std::memcmp(unread.data(), proto::kMagic, 4) != 0) return 0;
  return LoadLE32(unread.data() + 12);
}

void Connection::SyncInputCharge() {
  size_t cap = in_.capacity();
  if (cap == charged_input_) return;
  shard_->client_memory().Add(static_cast<int64_t>(cap) - static_cast<int64_t>(charged_input_));
  charged_input_ = cap;
}

void Connection::ChargeOutput(int64_t delta) {
  output_bytes_ = static_cast<size_t>(static_cast<int64_t>(output_bytes_) + delta);
  shard_->client_memory().Add(delta);
}

void Connection::PauseForMemory() {
  if (!paused_for_memory_) shard_->client_memory().pauses.fetch_add(1, std::memory_order_relaxed);
  paused_for_memory_ = true;
  shard_->PauseForMemory(this);
  UpdateReading();
}

base::Status Connection::Open(int fd) {
  int rc = uv_tcp_init(shard_->loop(), &tcp_);
  if (rc != 0) {
    ::close(fd);
    return base::IOError(std::string("uv_tcp_init: ") + uv_strerror(rc));
  }
  handle_open_ = true;
  rc = uv_tcp_open(&tcp_, fd);
  if (rc != 0) {
    ::close(fd);
    Close();
    return base::IOError(std::string("uv_tcp_open: ") + uv_strerror(rc));
  }
  uv_tcp_nodelay(&tcp_, 1);
  UpdateReading();
  return base::Status::Ok();
}

void Connection::UpdateReading() {
  bool want = !closing_ && !close_after_drain_ && !paused_for_output_ && !paused_for_budget_ &&
              !paused_for_memory_ && !peer_eof_ && !shard_->stopping();
  if (want == reading_) return;
  if (want) {
    int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead);
    if (rc != 0) {
      SLUICE_LOG_WARN("conn", "shard %u conn %lu: read start: %s", shard_->id(),
                      static_cast<unsigned long>(id_), uv_strerror(rc));
      Close();
      return;
    }
  } else {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  }
  reading_ = want;
}

void Connection::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) noexcept {
  auto* self = static_cast<Connection*>(handle->data);
  // Growing the buffer (or taking one) needs client memory; over budget, the room already held
  // is still used (a frame in progress reserved its size, so it can always finish), and with
  // none left OnRead gets UV_ENOBUFS and the connection waits.
  const size_t room = self->in_.Room();
  const bool over = self->shard_->client_memory().Over();
  if (room == 0 && over) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = self->in_.Reserve(room >= kMinReadRoom || over ? 1 : kReadChunk);
  self->SyncInputCharge();
}

void Connection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) noexcept {
  auto* self = static_cast<Connection*>(stream->data);
  if (nread > 0) {
    self->in_.Commit(static_cast<size_t>(nread));
    self->ProcessInput();
  } else if (nread == UV_ENOBUFS) {
    self->PauseForMemory();
  } else if (nread == UV_EOF) {
    // The peer finished sending; it may still read the acks of what it sent.
    self->peer_eof_ = true;
    self->UpdateReading();
    self->close_after_drain_ = true;
    self->MaybeCloseAfterDrain();
  } else if (nread < 0) {
    self->Close();
  }
}

void Connection::ProcessInput() {
  const ServerConfig& cfg = shard_->cfg();
  const uint32_t max_body = cfg.limits.MaxFrameBody();
  bool consumed = false;
  while (!closing_ && !close_after_drain_ && !paused_for_budget_ && !paused_for_memory_ && !paused_for_output_) {
    if (in_.Unread().empty()) break;
    if (shard_->OverCommitBudget()) {
      paused_for_budget_ = true;
      shard_->PauseForBudget(this);
      UpdateReading();
      break;
    }
    // The responses waiting for this client (staged and unsent) are bounded before a frame
    // that would add to them is read: a client that does not read stops being read.
    if (output_bytes_ >= cfg.connection_output_budget) {
      paused_for_output_ = true;
      UpdateReading();
      break;
    }
    if (shard_->client_memory().Over()) {
      PauseForMemory();
      break;
    }
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
    in_.ReleaseIfEmpty();
    SyncInputCharge();
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
      if (!cfg.auth_token.empty()) {
        const auto* token = hello.value()->auth_token();
        std::string_view given = token ? std::string_view(token->data(), token->size()) : "";
        if (given.empty())
          return Fail(req, proto::WireError::kUnauthenticated,
                      "this server requires an auth token: send it in Hello.auth_token (sluice --auth-token)");
        if (!base::ConstantTimeEquals(given, cfg.auth_token))
          return Fail(req, proto::WireError::kUnauthenticated, "auth token rejected");
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
      s.put = shard_->puts().Stage(*batch.value(), base::Clock::Real()->NowUnixMillis());
      s.charged = s.put.ResponseBytesBound();
      ChargeOutput(static_cast<int64_t>(s.charged));
      staged_.push_back(std::move(s));
      shard_->MarkDirty(this);
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
  ChargeOutput(static_cast<int64_t>(s.charged));
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
  for (Staged& s : staged_) {
    charged += s.charged;
    if (!s.is_put) {
      out += s.frame;
      continue;
    }
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
  // The bounds charged while staged become the bytes actually queued.
  ChargeOutput(-static_cast<int64_t>(charged));
  if (closing_ || out.empty()) {
    MaybeCloseAfterDrain();
    return;
  }
  auto* w = new WriteReq;
  w->data = std::move(out);
  w->conn = this;
  w->req.data = w;
  ChargeOutput(static_cast<int64_t>(w->data.size()));
  if (pending_writes_ == 0) write_progress_ms_ = base::Clock::Real()->NowUnixMillis();
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, OnWrite);
  if (rc != 0) {
    SLUICE_LOG_DEBUG("conn", "shard %u conn %lu: write: %s", shard_->id(), static_cast<unsigned long>(id_),
                     uv_strerror(rc));
    ChargeOutput(-static_cast<int64_t>(w->data.size()));
    delete w;
    Close();
    return;
  }
  pending_writes_++;
  if (!close_after_drain_ && output_bytes_ > shard_->cfg().connection_output_budget) {
    paused_for_output_ = true;
    UpdateReading();
  }
}

void Connection::OnWrite(uv_write_t* req, int status) noexcept {
  auto* w = static_cast<WriteReq*>(req->data);
  Connection* self = w->conn;
  self->ChargeOutput(-static_cast<int64_t>(w->data.size()));
  delete w;
  self->pending_writes_--;
  self->writes_done_++;
  if (status < 0) {
    self->Close();  // the peer is gone; a no-op when already closing (UV_ECANCELED)
    return;
  }
  if (self->paused_for_output_ &&
      self->output_bytes_ <= self->shard_->cfg().connection_output_budget / 2) {
    self->paused_for_output_ = false;
    self->ProcessInput();  // frames already buffered first, then read again
    self->UpdateReading();
  }
  self->MaybeCloseAfterDrain();
}

size_t Connection::UnsentBytes() const {
  return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&tcp_));
}

void Connection::MaybeCloseAfterDrain() {
  if (close_after_drain_ && !closing_ && staged_.empty() && !in_dirty_list && pending_writes_ == 0)
    Close();
}

void Connection::ResumeAfterBudget() {
  paused_for_budget_ = false;
  paused_for_memory_ = false;
  ProcessInput();
  UpdateReading();
}

void Connection::CheckTimeouts(int64_t now_ms) {
  if (closing_) return;
  const ServerConfig& cfg = shard_->cfg();
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
  size_t queued = UnsentBytes();
  if (pending_writes_ == 0 || writes_done_ != writes_seen_ || queued < queue_seen_) {
    write_progress_ms_ = now_ms;  // nothing waits, or the client took some of it
  } else if (now_ms - write_progress_ms_ > int64_t(cfg.write_timeout_s) * 1000) {
    shard_->mutable_stats().timeouts.fetch_add(1, std::memory_order_relaxed);
    SLUICE_LOG_INFO("conn", "shard %u conn %lu: closing: the client read none of %zu response bytes for write_timeout_s %u",
                    shard_->id(), static_cast<unsigned long>(id_), queued, cfg.write_timeout_s);
    Close();
    return;
  }
  writes_seen_ = writes_done_;
  queue_seen_ = queued;
}

void Connection::BeginDrainAndClose() {
  close_after_drain_ = true;
  UpdateReading();
  MaybeCloseAfterDrain();
}

void Connection::Close() {
  if (closing_) return;
  closing_ = true;
  if (reading_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClose);
}

void Connection::OnClose(uv_handle_t* handle) noexcept {
  auto* self = static_cast<Connection*>(handle->data);
  // Every write callback has run (with UV_ECANCELED) before the close callback: what is left
  // charged is the receive buffer and staged responses that were never encoded.
  size_t staged = 0;
  for (const Staged& s : self->staged_) staged += s.charged;
  self->ChargeOutput(-static_cast<int64_t>(staged));
  self->shard_->client_memory().Add(-static_cast<int64_t>(self->charged_input_));
  self->shard_->OnConnectionClosed(self);
  delete self;
}

}  // namespace sluice::server
