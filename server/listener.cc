// Listener: socket(2)/bind/listen plus accept4 driven by a uv_poll_t.
#include "server/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace sluice::server {

base::Status Listener::Listen(const std::string& host, uint16_t port, int backlog) {
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    family = v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(*v6);
  } else {
    return base::InvalidArgument("bind address '" + host + "' is not an IPv4 or IPv6 address");
  }
  fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return base::IOError(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  std::string where = host + ":" + std::to_string(port);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd_, backlog) != 0) {
    base::Status st = base::IOError("cannot listen on " + where + ": " + std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
    return st;
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof(bound);
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
  port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                  : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  int rc = uv_poll_init(loop_, &poll_, fd_);
  if (rc == 0) rc = uv_timer_init(loop_, &retry_);
  if (rc == 0) {
    retry_.data = this;
    poll_.data = this;
    rc = uv_poll_start(&poll_, UV_READABLE, OnReadable);
  }
  if (rc != 0) return base::IOError(std::string("uv_poll: ") + uv_strerror(rc));
  return base::Status::Ok();
}

void Listener::OnReadable(uv_poll_t* handle, int status, int) noexcept {
  auto* self = static_cast<Listener*>(handle->data);
  if (status < 0) {
    SLUICE_LOG_WARN("listener", "poll: %s", uv_strerror(status));
    return;
  }
  self->AcceptAll();
}

void Listener::AcceptAll() {
  // Bounded so a connection storm cannot starve main's other work (signals).
  for (int i = 0; i < 256; i++) {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      on_accept_(fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // The socket stays readable, so a level-triggered poll would spin: back off instead.
      SLUICE_LOG_WARN("listener", "accept: %s; pausing accepts for 100 ms", std::strerror(errno));
      uv_poll_stop(&poll_);
      uv_timer_start(&retry_, OnRetry, 100, 0);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      SLUICE_LOG_WARN("listener", "accept: %s", std::strerror(errno));
    }
    return;
  }
}

void Listener::OnRetry(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Listener*>(handle->data);
  if (self->fd_ >= 0) uv_poll_start(&self->poll_, UV_READABLE, OnReadable);
}

void Listener::Close() {
  if (fd_ < 0) return;
  uv_poll_stop(&poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&retry_), nullptr);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace sluice::server
