// AdminServer: the telnet/redis-cli admin port, on main's libuv loop.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <unordered_set>

#include "base/status.h"
#include "server/admin/admin_services.h"
#include "server/admin/resp.h"

namespace sluice::server::admin {

class AdminConnection;

// Accepts admin connections and runs their commands on main's loop. Commands are short: they
// read counters and snapshots or post work to shards, never block on I/O.
// Memory is bounded per connection by RespLimits and the output budget, and overall by
// max_connections (extra connections get -ERR and are closed).
// Thread: main's loop. Created and destroyed by Server.
class AdminServer {
 public:
  AdminServer(uv_loop_t* loop, AdminServices* services) : loop_(loop), services_(services) {}
  // Binds and listens. Returns kIOError naming the address when it cannot.
  base::Status Listen(const std::string& host, uint16_t port);
  uint16_t port() const { return port_; }
  // Stops accepting and closes every admin connection.
  void Close();

  // --- Used by AdminConnection ---
  AdminServices& services() { return *services_; }
  uv_loop_t* loop() { return loop_; }
  void Forget(AdminConnection* c) { conns_.erase(c); }

  static constexpr size_t kMaxConnections = 1024;
  static constexpr size_t kOutputBudget = 1u << 20;

 private:
  static void OnConnection(uv_stream_t* server, int status) noexcept;

  uv_loop_t* loop_;
  AdminServices* services_;
  uv_tcp_t tcp_;
  bool listening_ = false;
  uint16_t port_ = 0;
  std::unordered_set<AdminConnection*> conns_;
};

}  // namespace sluice::server::admin
