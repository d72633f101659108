// TLS for the server's ports: one OpenSSL context (certificate chain and key from files, TLS 1.2
// or later), swapped whole when SIGHUP re-reads the files. Connections use it through
// SocketConnection::EnableTls (memory BIOs: libuv does the socket I/O, OpenSSL only the bytes).
#pragma once

#include <memory>
#include <string>

#include "base/mutex.h"
#include "base/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace sluice::server {

class TlsContext {
 public:
  // Loads the PEM certificate chain and private key and checks that they match. kInvalidArgument
  // names the file and OpenSSL's reason.
  static base::Result<std::shared_ptr<TlsContext>> Load(const std::string& cert_file, const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* ctx() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// The context new connections take. Thread-safe: main swaps it (SIGHUP), shards read it.
class TlsContextHolder {
 public:
  std::shared_ptr<TlsContext> Get() const {
    base::MutexLock lock(mu_);
    return ctx_;
  }
  void Set(std::shared_ptr<TlsContext> ctx) {
    base::MutexLock lock(mu_);
    ctx_ = std::move(ctx);
  }

 private:
  mutable base::Mutex mu_;
  std::shared_ptr<TlsContext> ctx_ SLUICE_GUARDED_BY(mu_);
};

}  // namespace sluice::server
