// libsluice: blocking sockets, framing through protocol/, request/response matching.
#include "client-lib/client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>

#include "protocol/verify.h"

namespace sluice::client {
namespace {

constexpr uint32_t kMaxResponseBody = 64u << 20;

base::Status WaitFd(int fd, short events, int timeout_ms, const char* what) {
  pollfd p{fd, events, 0};
  for (;;) {
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc > 0) return base::Status::Ok();
    if (rc == 0) return base::Unavailable(std::string(what) + " timed out after " + std::to_string(timeout_ms) + " ms");
    if (errno != EINTR) return base::Unavailable(std::string(what) + ": " + std::strerror(errno));
  }
}

base::Result<int> ConnectSocket(const ClientOptions& o) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(o.port);
  int rc = ::getaddrinfo(o.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return base::Unavailable("cannot resolve " + o.host + ": " + gai_strerror(rc));
  base::Status last = base::Unavailable("no address for " + o.host);
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = base::Unavailable("connect " + o.host + ":" + port + ": " + std::strerror(errno));
      ::close(fd);
      continue;
    }
    base::Status st = WaitFd(fd, POLLOUT, o.connect_timeout_ms, "connect");
    int err = 0;
    socklen_t len = sizeof(err);
    if (st.ok()) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (!st.ok() || err != 0) {
      last = st.ok() ? base::Unavailable("connect " + o.host + ":" + port + ": " + std::strerror(err)) : st;
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::freeaddrinfo(res);
    return fd;
  }
  ::freeaddrinfo(res);
  return last;
}

}  // namespace

base::Result<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  std::unique_ptr<Client> c(new Client());
  c->options_ = options;
  ASSIGN_OR_RETURN(c->fd_, ConnectSocket(options));
  if (options.tls) RETURN_IF_ERROR(c->StartTls());
  std::string hello;
  proto::EncodeHello(0, options.client_name, options.auth_token, &hello);
  RETURN_IF_ERROR(c->SendAll(hello));
  ASSIGN_OR_RETURN(proto::FrameHeader h, c->ReadFrame());
  std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(c->rx_.data()) + proto::kFrameHeaderSize,
                                h.body_len);
  if (h.type == proto::MessageType::kError) {
    ASSIGN_OR_RETURN(const wire::Error* e, proto::VerifyError(body));
    return proto::FromWire(e->code(), e->message() ? e->message()->string_view() : "");
  }
  if (h.type != proto::MessageType::kHelloAck)
    return base::Corruption("expected HelloAck, got message type " + std::to_string(int(h.type)));
  ASSIGN_OR_RETURN(const wire::HelloAck* ack, proto::VerifyHelloAck(body));
  c->limits_.max_record_bytes = ack->max_record_bytes();
  c->limits_.max_batch_records = ack->max_batch_records();
  c->limits_.max_batch_bytes = ack->max_batch_bytes();
  if (!c->limits_.Validate().ok()) return base::Corruption("server announced invalid limits");
  return c;
}

Client::~Client() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (tls_ctx_ != nullptr) SSL_CTX_free(tls_ctx_);
  if (fd_ >= 0) ::close(fd_);
}

namespace {
std::string TlsError(const char* what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return std::string(what) + ": " + buf;
}
}  // namespace

base::Status Client::StartTls() {
  tls_ctx_ = SSL_CTX_new(TLS_client_method());
  if (tls_ctx_ == nullptr) return base::Unavailable(TlsError("TLS"));
  SSL_CTX_set_min_proto_version(tls_ctx_, TLS1_2_VERSION);
  SSL_CTX_set_verify(tls_ctx_, SSL_VERIFY_PEER, nullptr);
  if (options_.ca_file.empty() ? SSL_CTX_set_default_verify_paths(tls_ctx_) != 1
                               : SSL_CTX_load_verify_locations(tls_ctx_, options_.ca_file.c_str(), nullptr) != 1)
    return base::InvalidArgument(TlsError(("TLS CA file " + options_.ca_file).c_str()));
  // A write of a long batch may be partial and retried from another buffer address.
  SSL_CTX_set_mode(tls_ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  ssl_ = SSL_new(tls_ctx_);
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return base::Unavailable(TlsError("TLS"));
  // The certificate must name the host we connected to: an IP address or a DNS name.
  in6_addr a6;
  in_addr a4;
  const bool ip = inet_pton(AF_INET, options_.host.c_str(), &a4) == 1 || inet_pton(AF_INET6, options_.host.c_str(), &a6) == 1;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
  if (ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, options_.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, options_.host.c_str());
    X509_VERIFY_PARAM_set1_host(param, options_.host.c_str(), 0);
  }
  for (;;) {
    int r = SSL_connect(ssl_);
    if (r == 1) return base::Status::Ok();
    int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      RETURN_IF_ERROR(WaitFd(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, options_.connect_timeout_ms, "TLS handshake"));
      continue;
    }
    long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK)
      return base::Unavailable(std::string("TLS: the server's certificate is not trusted: ") +
                               X509_verify_cert_error_string(verify));
    return base::Unavailable(TlsError("TLS handshake"));
  }
}

size_t Client::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

bool Client::WaitResult(int64_t timeout_ns) {
  if (ssl_ != nullptr) {
    std::lock_guard<std::mutex> lock(ssl_mu_);
    if (SSL_pending(ssl_) > 0) return true;  // decrypted already, the socket may be empty
  }
  pollfd p{fd_, POLLIN, 0};
  timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
  if (timeout_ns < 0) ts = {0, 0};
  int rc = ::ppoll(&p, 1, &ts, nullptr);
  return rc != 0;  // readable, hung up, or an error ReceivePutResult will report
}

base::Status Client::Broken(std::string why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (broken_.ok()) broken_ = base::Unavailable(std::move(why));
  return broken_;
}

base::Status Client::SendAll(const std::string& bytes) {
  size_t off = 0;
  while (ssl_ != nullptr && off < bytes.size()) {
    int n, err;
    {
      std::lock_guard<std::mutex> lock(ssl_mu_);
      n = SSL_write(ssl_, bytes.data() + off, static_cast<int>(std::min<size_t>(bytes.size() - off, 1 << 30)));
      err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, n);
    }
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
      base::Status st = WaitFd(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, options_.io_timeout_ms, "send");
      if (!st.ok()) return Broken(st.message());
      continue;
    }
    return Broken(TlsError("TLS send"));
  }
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      base::Status st = WaitFd(fd_, POLLOUT, options_.io_timeout_ms, "send");
      if (!st.ok()) return Broken(st.message());
      continue;
    }
    return Broken(std::string("send: ") + std::strerror(errno));
  }
  return base::Status::Ok();
}

base::Status Client::ReadExact(uint8_t* dst, size_t n) {
  size_t off = 0;
  while (ssl_ != nullptr && off < n) {
    int r, err;
    {
      std::lock_guard<std::mutex> lock(ssl_mu_);
      r = SSL_read(ssl_, dst + off, static_cast<int>(std::min<size_t>(n - off, 1 << 30)));
      err = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
    }
    if (r > 0) {
      off += static_cast<size_t>(r);
      continue;
    }
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      base::Status st = WaitFd(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, options_.io_timeout_ms, "receive");
      if (!st.ok()) return Broken(st.message());
      continue;
    }
    if (err == SSL_ERROR_ZERO_RETURN) return Broken("connection closed by server");
    return Broken(TlsError("TLS receive"));
  }
  while (off < n) {
    ssize_t r = ::recv(fd_, dst + off, n - off, 0);
    if (r > 0) {
      off += static_cast<size_t>(r);
      continue;
    }
    if (r == 0) return Broken("connection closed by server");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      base::Status st = WaitFd(fd_, POLLIN, options_.io_timeout_ms, "receive");
      if (!st.ok()) return Broken(st.message());
      continue;
    }
    return Broken(std::string("recv: ") + std::strerror(errno));
  }
  return base::Status::Ok();
}

base::Result<proto::FrameHeader> Client::ReadFrame() {
  uint8_t header[proto::kFrameHeaderSize];
  RETURN_IF_ERROR(ReadExact(header, sizeof(header)));
  auto h = proto::DecodeHeader(header, kMaxResponseBody);
  if (!h.ok()) return Broken("bad response frame: " + h.status().message());
  size_t total = proto::kFrameHeaderSize + h->body_len;
  rx_.resize((total + 7) / 8);
  auto* buf = reinterpret_cast<uint8_t*>(rx_.data());
  std::memcpy(buf, header, sizeof(header));
  RETURN_IF_ERROR(ReadExact(buf + proto::kFrameHeaderSize, h->body_len));
  auto frame = proto::DecodeFrame(std::span<const uint8_t>(buf, total), kMaxResponseBody);
  if (!frame.ok()) return Broken("bad response frame: " + frame.status().message());
  return h;
}

base::Result<uint32_t> Client::SendPutRecordBatch(std::string_view stream,
                                                  std::span<const std::string_view> records) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!broken_.ok()) return broken_;
  }
  if (records.empty()) return base::InvalidArgument("a batch needs at least one record");
  if (records.size() > limits_.max_batch_records)
    return base::TooLarge("batch of " + std::to_string(records.size()) + " records exceeds the server's " +
                          std::to_string(limits_.max_batch_records));
  uint64_t bytes = 0;
  for (auto r : records) bytes += r.size();
  if (bytes > limits_.max_batch_bytes)
    return base::TooLarge("batch of " + std::to_string(bytes) + " bytes exceeds the server's " +
                          std::to_string(limits_.max_batch_bytes));
  uint32_t id = next_request_id_++;
  tx_.clear();
  encoder_.Encode(id, stream, records, &tx_);
  {
    // Registered before sending so the receiver can never see a response it does not expect.
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back({id, static_cast<uint32_t>(records.size())});
  }
  RETURN_IF_ERROR(SendAll(tx_));
  return id;
}

base::Result<PutResult> Client::ReceivePutResult() {
  Pending expect;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.empty()) return base::InvalidArgument("no batch in flight");
    if (!broken_.ok()) return broken_;
    expect = pending_.front();
  }
  ASSIGN_OR_RETURN(proto::FrameHeader h, ReadFrame());
  std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(rx_.data()) + proto::kFrameHeaderSize,
                                h.body_len);
  PutResult out;
  out.request_id = h.request_id;
  if (h.type == proto::MessageType::kError) {
    auto e = proto::VerifyError(body);
    if (!e.ok()) return Broken("malformed Error frame: " + e.status().message());
    std::string msg = e.value()->message() ? e.value()->message()->str() : "";
    if (e.value()->closing() || h.request_id != expect.request_id)
      return Broken("server closed the connection: " + proto::FromWire(e.value()->code(), msg).message());
    out.failed_count = expect.record_count;
    out.records.assign(expect.record_count, RecordResult{0, e.value()->code(), msg});
  } else if (h.type == proto::MessageType::kPutRecordBatchResponse) {
    auto r = proto::VerifyPutRecordBatchResponse(body);
    if (!r.ok()) return Broken("malformed response: " + r.status().message());
    const auto* resp = r.value();
    if (h.request_id != expect.request_id || resp->results()->size() != expect.record_count)
      return Broken("response does not match request " + std::to_string(expect.request_id));
    out.failed_count = resp->failed_put_count();
    out.records.reserve(expect.record_count);
    for (const wire::RecordResult* rr : *resp->results())
      out.records.push_back({rr->record_id(), rr->error_code(), {}});
    if (resp->errors()) {
      for (const wire::RecordError* e : *resp->errors())
        if (e->message()) out.records[e->index()].error_message = e->message()->str();
    }
  } else {
    return Broken("unexpected message type " + std::to_string(int(h.type)) + " from server");
  }
  std::lock_guard<std::mutex> lock(mu_);
  pending_.pop_front();
  return out;
}

base::Result<Client::ClusterDescription> Client::DescribeCluster() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pending_.empty()) return base::InvalidArgument("DescribeCluster needs a connection with nothing in flight");
    if (!broken_.ok()) return broken_;
  }
  const uint32_t id = next_request_id_++;
  tx_.clear();
  proto::EncodeDescribeCluster(id, &tx_);
  RETURN_IF_ERROR(SendAll(tx_));
  ASSIGN_OR_RETURN(proto::FrameHeader h, ReadFrame());
  std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(rx_.data()) + proto::kFrameHeaderSize, h.body_len);
  if (h.type == proto::MessageType::kError) {
    auto e = proto::VerifyError(body);
    if (!e.ok()) return Broken("malformed Error frame: " + e.status().message());
    base::Status st = proto::FromWire(e.value()->code(), e.value()->message() ? e.value()->message()->str() : "");
    if (e.value()->closing()) return Broken(st.message());
    return st;
  }
  if (h.type != proto::MessageType::kDescribeClusterResponse || h.request_id != id)
    return Broken("unexpected answer to DescribeCluster (message type " + std::to_string(int(h.type)) + ")");
  auto r = proto::VerifyDescribeClusterResponse(body);
  if (!r.ok()) return Broken("malformed DescribeClusterResponse: " + r.status().message());
  ClusterDescription out;
  out.node = r.value()->node() ? r.value()->node()->str() : "";
  out.cluster = r.value()->cluster();
  for (const wire::ClusterMember* m : *r.value()->members())
    out.members.push_back({m->node()->str(), m->address()->str(), m->state() ? m->state()->str() : "active",
                           m->connections(), m->backlog_bytes()});
  return out;
}

base::Result<PutResult> Client::PutRecordBatch(std::string_view stream,
                                               std::span<const std::string_view> records) {
  ASSIGN_OR_RETURN(uint32_t id, SendPutRecordBatch(stream, records));
  (void)id;
  return ReceivePutResult();
}

}  // namespace sluice::client
