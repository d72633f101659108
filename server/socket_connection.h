// SocketConnection: one accepted TCP socket on a libuv loop: reading on demand, a counted write
// queue, write-stall detection and a self-deleting close. The put port's Connection and the
// admin port's AdminConnection are built on it, and so will every future port's be.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace sluice::server {

// Design: the subclass says when it wants to read (WantRead) and what to do with bytes
// (OnAllocBuffer/OnBytes/OnPeerClosed); the base starts and stops libuv reading to match
// (UpdateReading). Writes are queued with Write; output_bytes() counts what libuv has not
// written yet, and every change of it is reported to OnOutputChange so a port can charge a
// budget shared by its connections. Close() ends the socket; OnClosed() runs in the close
// callback, after every write callback, and must delete the object (or let its owner do so).
// Thread: the owning loop; not thread-safe.
class SocketConnection {
 public:
  SocketConnection(const SocketConnection&) = delete;
  SocketConnection& operator=(const SocketConnection&) = delete;

  // Immediate close (idempotent). Queued writes are cancelled.
  void Close();
  // Speaks TLS on this socket (server side) from now on: reads are decrypted before OnBytes,
  // Write encrypts. Call right after OpenFd/Accept, before reading starts.
  base::Status EnableTls(SSL_CTX* ctx);
  bool closing() const { return closing_; }
  size_t output_bytes() const { return output_bytes_; }
  uint32_t pending_writes() const { return pending_writes_; }

 protected:
  SocketConnection() { tcp_.data = this; }
  virtual ~SocketConnection();

  // uv_tcp_init + uv_tcp_open(fd) (the put port hands over accepted fds). On error the fd is
  // closed; when the handle exists (handle_open()) the connection closes itself as usual.
  base::Status OpenFd(uv_loop_t* loop, int fd);
  // uv_tcp_init + uv_accept from a listening handle (the admin port).
  base::Status Accept(uv_loop_t* loop, uv_stream_t* server);
  bool handle_open() const { return handle_open_; }
  uv_tcp_t* tcp() { return &tcp_; }

  // Starts or stops reading to match WantRead(). A failing uv_read_start closes.
  void UpdateReading();
  bool reading() const { return reading_; }

  // Queues `data` (taking it over). Returns false, and closes, when libuv refuses it.
  bool Write(std::string data);
  // Unsent bytes as libuv counts them (part of output_bytes()).
  size_t WriteQueueSize() const;
  // True (and the connection closed, with a log line) when output has waited `timeout_ms`
  // without any write completing or the queue shrinking. Call it periodically (e.g. 1 s).
  bool CloseIfWriteStalled(uint64_t now_ms, uint64_t timeout_ms, const char* who);

  virtual bool WantRead() const = 0;
  virtual void OnAllocBuffer(uv_buf_t* buf) = 0;
  virtual void OnBytes(size_t n) = 0;  // n > 0 bytes were read into the last buffer
  // EOF (UV_EOF), or ENOBUFS when OnAllocBuffer handed out nothing; other errors close.
  virtual void OnReadEnd(ssize_t status) = 0;
  virtual void OnWritten(int status) = 0;   // after each write callback (status < 0: failed)
  virtual void OnOutputChange(int64_t delta) {}
  virtual void OnClosed() = 0;

 private:
  struct WriteReq {
    uv_write_t req;
    std::string data;
    SocketConnection* conn;
  };
  static void OnAllocCb(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) noexcept;
  static void OnReadCb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void OnWriteCb(uv_write_t* req, int status) noexcept;
  static void OnCloseCb(uv_handle_t* handle) noexcept;
  void AddOutput(int64_t delta);
  bool WriteRaw(std::string data);
  // TLS: decrypts what the socket delivered into the subclass's buffers while it wants to read.
  void DrainTls();
  // TLS: sends what OpenSSL produced (handshake, records) as raw bytes.
  bool FlushTls();

  uv_tcp_t tcp_;
  bool handle_open_ = false;
  bool reading_ = false;
  bool closing_ = false;
  uint32_t pending_writes_ = 0;
  size_t output_bytes_ = 0;
  uint64_t writes_done_ = 0;   // completed writes (progress for the stall check)
  uint64_t writes_seen_ = 0;   // writes_done_ at the last stall check
  size_t queue_seen_ = 0;      // write queue size at the last stall check
  uint64_t progress_ms_ = 0;   // last time output made progress
  // TLS (null without): the session, and plaintext written before the handshake finished.
  SSL* ssl_ = nullptr;
  std::string tls_pending_;
  bool tls_draining_ = false;
};

}  // namespace sluice::server
