// SocketConnection: reading on demand, the counted write queue, stall detection, close.
#include "server/socket_connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include "base/log.h"

namespace sluice::server {
namespace {
constexpr size_t kTlsReadChunk = 16 * 1024 + 512;  // one TLS record and its overhead
// Ciphertext is read here and handed to OpenSSL (which copies it) within the same read callback,
// so one buffer per loop thread serves every TLS connection: an idle one holds none.
char* TlsReadBuffer() {
  thread_local char buffer[kTlsReadChunk];
  return buffer;
}
}  // namespace

SocketConnection::~SocketConnection() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // frees its memory BIOs too
}

base::Status SocketConnection::EnableTls(SSL_CTX* ctx) {
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr) return base::IOError("TLS: SSL_new failed");
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  if (rbio == nullptr || wbio == nullptr) {
    BIO_free(rbio);
    BIO_free(wbio);
    return base::IOError("TLS: BIO_new failed");
  }
  BIO_set_mem_eof_return(rbio, -1);  // an empty read BIO means "more to come", not EOF
  SSL_set_bio(ssl_, rbio, wbio);
  SSL_set_accept_state(ssl_);
  return base::Status::Ok();
}

bool SocketConnection::FlushTls() {
  BIO* wbio = SSL_get_wbio(ssl_);
  size_t pending = BIO_ctrl_pending(wbio);
  if (pending == 0) return true;
  std::string out(pending, '\0');
  int n = BIO_read(wbio, out.data(), static_cast<int>(pending));
  if (n <= 0) return true;
  out.resize(static_cast<size_t>(n));
  return WriteRaw(std::move(out));
}

void SocketConnection::DrainTls() {
  if (tls_draining_) return;  // the loop below re-checks WantRead after each delivery
  tls_draining_ = true;
  while (!closing_) {
    if (!SSL_is_init_finished(ssl_)) {
      int r = SSL_do_handshake(ssl_);
      if (!FlushTls()) break;
      if (r != 1) {
        int err = SSL_get_error(ssl_, r);
        if (err == SSL_ERROR_WANT_READ) break;
        unsigned long e = ERR_get_error();
        char why[256] = "handshake failed";
        if (e != 0) ERR_error_string_n(e, why, sizeof why);
        ERR_clear_error();
        SLUICE_LOG_DEBUG("conn", "TLS handshake: %s", why);
        Close();
        break;
      }
      if (!tls_pending_.empty()) {  // output staged before the handshake finished
        std::string pending = std::move(tls_pending_);
        tls_pending_.clear();
        if (!Write(std::move(pending))) break;
      }
      continue;
    }
    if (!WantRead()) break;  // the subclass paused: the rest stays in OpenSSL until it resumes
    uv_buf_t buf;
    OnAllocBuffer(&buf);
    if (buf.len == 0) {
      OnReadEnd(UV_ENOBUFS);
      break;
    }
    int n = SSL_read(ssl_, buf.base, static_cast<int>(buf.len));
    if (n > 0) {
      OnBytes(static_cast<size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ) {
      FlushTls();  // e.g. session tickets after the handshake
      break;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {  // close_notify: the peer finished sending
      OnReadEnd(UV_EOF);
      break;
    }
    ERR_clear_error();
    Close();
    break;
  }
  tls_draining_ = false;
}

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
  // Plaintext OpenSSL already holds is delivered as soon as the subclass wants it again.
  if (want && ssl_ != nullptr && !tls_draining_ &&
      (SSL_pending(ssl_) > 0 || BIO_ctrl_pending(SSL_get_rbio(ssl_)) > 0))
    DrainTls();
  want = !closing_ && WantRead();
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
  auto* self = static_cast<SocketConnection*>(handle->data);
  if (self->ssl_ != nullptr) {  // ciphertext lands in the thread's buffer, then OpenSSL's
    *buf = uv_buf_init(TlsReadBuffer(), static_cast<unsigned>(kTlsReadChunk));
    return;
  }
  self->OnAllocBuffer(buf);
}

void SocketConnection::OnReadCb(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) noexcept {
  auto* self = static_cast<SocketConnection*>(stream->data);
  if (nread > 0 && self->ssl_ != nullptr) {
    BIO_write(SSL_get_rbio(self->ssl_), TlsReadBuffer(), static_cast<int>(nread));
    self->DrainTls();
  } else if (nread > 0) {
    self->OnBytes(static_cast<size_t>(nread));
  } else if (nread == UV_EOF || nread == UV_ENOBUFS) {
    self->OnReadEnd(nread);
  } else if (nread < 0) {
    self->Close();
  }
}

bool SocketConnection::Write(std::string data) {
  if (ssl_ == nullptr) return WriteRaw(std::move(data));
  if (closing_ || data.empty()) return !closing_;
  if (!SSL_is_init_finished(ssl_)) {
    tls_pending_ += data;  // sent once the handshake finishes (DrainTls)
    return true;
  }
  // Memory BIOs take everything: SSL_write completes or fails, it never waits.
  if (SSL_write(ssl_, data.data(), static_cast<int>(data.size())) <= 0) {
    ERR_clear_error();
    Close();
    return false;
  }
  return FlushTls();
}

bool SocketConnection::WriteRaw(std::string data) {
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
