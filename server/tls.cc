// TlsContext: an OpenSSL server context from PEM files.
#include "server/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace sluice::server {
namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

}  // namespace

base::Result<std::shared_ptr<TlsContext>> TlsContext::Load(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return base::IOError("TLS: SSL_CTX_new: " + OpenSslError());
  std::shared_ptr<TlsContext> out(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Memory BIOs and a write queue that owns its bytes: a retried SSL_write never happens, but
  // partial writes are not wanted either.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
    return base::InvalidArgument("tls_cert_file " + cert_file + ": " + OpenSslError());
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return base::InvalidArgument("tls_key_file " + key_file + ": " + OpenSslError());
  if (SSL_CTX_check_private_key(ctx) != 1)
    return base::InvalidArgument("tls_key_file " + key_file + " does not match tls_cert_file " + cert_file + ": " +
                                 OpenSslError());
  return out;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

}  // namespace sluice::server
