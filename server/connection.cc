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
// Buffers above this are released once empty, so one large frame does not pin memory.
constexpr size_t kShrinkAbove = 1u << 20;

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
  if (begin_ == end_) {
    begin_ = end_ = 0;
    if (cap_ > kShrinkAbove) {
      words_.reset();
      cap_ = 0;
    }
  }
}

Connection::Connection(Shard* shard, uint64_t id) : shard_(shard), id_(id) {
  tcp_.data = this;
  authenticated_ = shard->cfg().auth_token.empty();
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
              !peer_eof_ && !shard_->stopping();
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
  *buf = self->in_.Reserve(kReadChunk);
}

void Connection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) noexcept {
  auto* self = static_cast<Connection*>(stream->data);
  if (nread > 0) {
    self->in_.Commit(static_cast<size_t>(nread));
    self->ProcessInput();
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
  const uint32_t max_body = shard_->cfg().limits.MaxFrameBody();
  while (!closing_ && !close_after_drain_ && !paused_for_budget_) {
    if (shard_->OverCommitBudget()) {
      paused_for_budget_ = true;
      shard_->PauseForBudget(this);
      UpdateReading();
      return;
    }
    proto::WireError why = proto::WireError::kOk;
    auto decoded = proto::DecodeFrame(in_.Unread(), max_body, &why);
    if (!decoded.ok()) {
      Fail(0, why, decoded.status().message());
      return;
    }
    if (!decoded.value().has_value()) break;
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
                    "this server requires a Hello with an auth token first");
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
  for (Staged& s : staged_) {
    if (!s.is_put) {
      out += s.frame;
      continue;
    }
    shard_->puts().EncodeResponse(s.put, s.request_id, commit, &shard_->response_encoder(), &out);
    uint32_t accepted = s.put.record_count - static_cast<uint32_t>(s.put.rejected.size());
    stats.records_failed.fetch_add(s.put.rejected.size() + (commit.ok() ? 0 : accepted),
                                   std::memory_order_relaxed);
    if (commit.ok()) {
      stats.records_stored.fetch_add(accepted, std::memory_order_relaxed);
      stats.bytes_stored.fetch_add(s.put.accepted_bytes, std::memory_order_relaxed);
    }
  }
  staged_.clear();
  if (closing_ || out.empty()) {
    MaybeCloseAfterDrain();
    return;
  }
  auto* w = new WriteReq;
  w->data = std::move(out);
  w->conn = this;
  w->req.data = w;
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, OnWrite);
  if (rc != 0) {
    delete w;
    Close();
    return;
  }
  pending_writes_++;
  if (!close_after_drain_ && UnsentBytes() > shard_->cfg().connection_output_budget) {
    paused_for_output_ = true;
    UpdateReading();
  }
}

void Connection::OnWrite(uv_write_t* req, int status) noexcept {
  auto* w = static_cast<WriteReq*>(req->data);
  Connection* self = w->conn;
  delete w;
  self->pending_writes_--;
  if (status < 0) {
    self->Close();  // the peer is gone; a no-op when already closing (UV_ECANCELED)
    return;
  }
  if (self->paused_for_output_ &&
      self->UnsentBytes() <= self->shard_->cfg().connection_output_budget / 2) {
    self->paused_for_output_ = false;
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
  ProcessInput();
  UpdateReading();
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
  self->shard_->OnConnectionClosed(self);
  delete self;
}

}  // namespace sluice::server
