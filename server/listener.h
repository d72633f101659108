// Listener: the put port's listening socket; accepts on main's loop and deals connections to
// the shards round-robin (the kernel's SO_REUSEPORT hash spreads connections unevenly).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"

namespace sluice::server {

// Thread: main's loop. Created and destroyed by main.
class Listener {
 public:
  // Called with each accepted, non-blocking, close-on-exec fd; the callee owns it.
  using AcceptFn = std::function<void(int fd)>;
  Listener(uv_loop_t* loop, AcceptFn on_accept) : loop_(loop), on_accept_(std::move(on_accept)) {}

  // Binds and listens. Returns kInvalidArgument for a bad address, kIOError with the errno
  // text when the port is taken or cannot be bound.
  base::Status Listen(const std::string& host, uint16_t port, int backlog = 1024);
  // The bound port (useful with port 0).
  uint16_t port() const { return port_; }
  // Stops accepting and closes the socket; pending connections in the backlog are reset.
  void Close();

 private:
  static void OnReadable(uv_poll_t* handle, int status, int events) noexcept;
  static void OnRetry(uv_timer_t* handle) noexcept;
  void AcceptAll();

  uv_loop_t* loop_;
  AcceptFn on_accept_;
  uv_poll_t poll_;
  uv_timer_t retry_;  // re-arms polling after running out of file descriptors
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace sluice::server
