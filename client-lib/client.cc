// libsluice: blocking sockets, framing through protocol/, request/response matching.
#include "client-lib/client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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
  if (fd_ >= 0) ::close(fd_);
}

size_t Client::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

base::Status Client::Broken(std::string why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (broken_.ok()) broken_ = base::Unavailable(std::move(why));
  return broken_;
}

base::Status Client::SendAll(const std::string& bytes) {
  size_t off = 0;
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

base::Result<PutResult> Client::PutRecordBatch(std::string_view stream,
                                               std::span<const std::string_view> records) {
  ASSIGN_OR_RETURN(uint32_t id, SendPutRecordBatch(stream, records));
  (void)id;
  return ReceivePutResult();
}

}  // namespace sluice::client
