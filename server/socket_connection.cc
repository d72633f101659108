// SocketConnection: reading on demand, the counted write queue, stall detection, close.
#include "server/socket_connection.h"

#include <unistd.h>

#include "base/log.h"

namespace sluice::server {

base::Status SocketConnection::OpenFd(uv_loop_t* loop, int fd) {
  int rc = uv_tcp_init(loop, &tcp_);
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
  return base::Status::Ok();
}

base::Status SocketConnection::Accept(uv_loop_t* loop, uv_stream_t* server) {
  int rc = uv_tcp_init(loop, &tcp_);
  if (rc != 0) return base::IOError(std::string("uv_tcp_init: ") + uv_strerror(rc));
  handle_open_ = true;
  rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_));
  if (rc != 0) {
    Close();
    return base::IOError(std::string("uv_accept: ") + uv_strerror(rc));
  }
  return base::Status::Ok();
}

void SocketConnection::UpdateReading() {
  bool want = !closing_ && WantRead();
  if (want == reading_) return;
  if (want) {
    int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAllocCb, OnReadCb);
    if (rc != 0) {
      SLUICE_LOG_WARN("conn", "read start: %s", uv_strerror(rc));
      Close();
      return;
    }
  } else {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  }
  reading_ = want;
}

void SocketConnection::OnAllocCb(uv_handle_t* handle, size_t, uv_buf_t* buf) noexcept {
  static_cast<SocketConnection*>(handle->data)->OnAllocBuffer(buf);
}

void SocketConnection::OnReadCb(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) noexcept {
  auto* self = static_cast<SocketConnection*>(stream->data);
  if (nread > 0) {
    self->OnBytes(static_cast<size_t>(nread));
  } else if (nread == UV_EOF || nread == UV_ENOBUFS) {
    self->OnReadEnd(nread);
  } else if (nread < 0) {
    self->Close();
  }
}

bool SocketConnection::Write(std::string data) {
  if (closing_ || data.empty()) return !closing_;
  auto* w = new WriteReq;
  w->data = std::move(data);
  w->conn = this;
  w->req.data = w;
  if (pending_writes_ == 0) writes_seen_ = writes_done_ + 1;  // new output: a fresh stall window
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, OnWriteCb);
  if (rc != 0) {
    SLUICE_LOG_DEBUG("conn", "write: %s", uv_strerror(rc));
    delete w;
    Close();
    return false;
  }
  pending_writes_++;
  AddOutput(static_cast<int64_t>(w->data.size()));
  return true;
}

void SocketConnection::OnWriteCb(uv_write_t* req, int status) noexcept {
  auto* w = static_cast<WriteReq*>(req->data);
  SocketConnection* self = w->conn;
  self->AddOutput(-static_cast<int64_t>(w->data.size()));
  delete w;
  self->pending_writes_--;
  self->writes_done_++;
  if (status < 0) self->Close();  // the peer is gone; a no-op when already closing (ECANCELED)
  self->OnWritten(status);
}

void SocketConnection::AddOutput(int64_t delta) {
  output_bytes_ = static_cast<size_t>(static_cast<int64_t>(output_bytes_) + delta);
  OnOutputChange(delta);
}

size_t SocketConnection::WriteQueueSize() const {
  return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&tcp_));
}

bool SocketConnection::CloseIfWriteStalled(uint64_t now_ms, uint64_t timeout_ms, const char* who) {
  if (closing_) return false;
  size_t queued = WriteQueueSize();
  if (pending_writes_ == 0 || writes_done_ != writes_seen_ || queued < queue_seen_) {
    progress_ms_ = now_ms;  // nothing waits, or the peer took some of it
  } else if (now_ms - progress_ms_ > timeout_ms) {
    SLUICE_LOG_INFO("conn", "closing %s: it read none of %zu queued bytes for %llu s", who, output_bytes_,
                    static_cast<unsigned long long>(timeout_ms / 1000));
    Close();
    return true;
  }
  writes_seen_ = writes_done_;
  queue_seen_ = queued;
  return false;
}

void SocketConnection::Close() {
  if (closing_) return;
  closing_ = true;
  if (!handle_open_) return;
  if (reading_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnCloseCb);
}

void SocketConnection::OnCloseCb(uv_handle_t* handle) noexcept {
  static_cast<SocketConnection*>(handle->data)->OnClosed();
}

}  // namespace sluice::server
