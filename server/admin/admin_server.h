// AdminServer: the telnet/redis-cli admin port, on main's libuv loop.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <unordered_set>

#include "base/status.h"
#include "server/admin/admin_services.h"
#include "server/tls.h"
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
  AdminServer(uv_loop_t* loop, AdminServices services) : loop_(loop), services_(services) {}
  // Speak TLS with the holder's context (main, before Listen).
  void set_tls(const TlsContextHolder* holder) { tls_ = holder; }
  // Binds and listens. Returns kIOError naming the address when it cannot.
  base::Status Listen(const std::string& host, uint16_t port);
  uint16_t port() const { return port_; }
  // Stops accepting and closes every admin connection.
  void Close();

  // --- Used by AdminConnection ---
  AdminServices& services() { return services_; }
  uv_loop_t* loop() { return loop_; }
  void Forget(AdminConnection* c) {
    conns_.erase(c);
    paused_.erase(c);
  }
  // Replies queued on every admin connection together, and the connections that stopped
  // reading because of it or of their own budget.
  void AddOutput(int64_t delta) { output_bytes_ = static_cast<size_t>(static_cast<int64_t>(output_bytes_) + delta); }
  bool OverTotalBudget() const { return output_bytes_ >= kTotalOutputBudget; }
  void Paused(AdminConnection* c) { paused_.insert(c); }
  // After a write completed: resumes paused connections that are under both budgets again.
  void ResumePaused();

  static constexpr size_t kMaxConnections = 1024;
  // Replies waiting for one client; past it the connection takes no new command.
  static constexpr size_t kOutputBudget = 1u << 20;
  // Replies waiting for all admin clients together (so 1,024 clients that never read hold at
  // most this, not 1,024 x kOutputBudget).
  static constexpr size_t kTotalOutputBudget = 32u << 20;
  // The kernel send buffer of an admin connection.
  static constexpr size_t kSocketSendBuffer = 128u << 10;
  // A client whose queued replies make no progress this long is closed.
  static constexpr uint64_t kWriteTimeoutMs = 60'000;

 private:
  static void OnConnection(uv_stream_t* server, int status) noexcept;
  static void OnStallTimer(uv_timer_t* handle) noexcept;

  uv_loop_t* loop_;
  const TlsContextHolder* tls_ = nullptr;
  AdminServices services_;
  uv_tcp_t tcp_;
  bool listening_ = false;
  uint16_t port_ = 0;
  std::unordered_set<AdminConnection*> conns_;
  std::unordered_set<AdminConnection*> paused_;
  uv_timer_t stall_timer_{};
  bool timer_ready_ = false;
  size_t output_bytes_ = 0;
};

}  // namespace sluice::server::admin
