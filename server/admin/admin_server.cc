// AdminServer and AdminConnection: bytes -> RequestParser -> Dispatch -> RESP replies.
#include "server/admin/admin_server.h"

#include "base/log.h"
#include "server/admin/command_table.h"
#include "server/socket_connection.h"

namespace sluice::server::admin {

// One admin client. Deletes itself in its close callback.
// Thread: main's loop.
class AdminConnection final : public SocketConnection {
  friend class AdminServer;  // OnConnection: Accept; ResumePaused: CanResume, Resume

 public:
  explicit AdminConnection(AdminServer* server) : server_(server) {}

  void Start() {
    session_.authenticated = !server_->services().control.password_required();
    // Replies are small and admin clients few: a small kernel send buffer makes a client that
    // does not read meet its budget (and stop costing CPU) after ~1 MiB, not after the kernel
    // took several MiB of replies for it.
    int sndbuf = static_cast<int>(AdminServer::kSocketSendBuffer);
    uv_send_buffer_size(reinterpret_cast<uv_handle_t*>(tcp()), &sndbuf);  // best effort
    UpdateReading();
  }

  // Sends `reply` and closes once it is written.
  void SendAndClose(std::string reply) {
    Write(std::move(reply));
    close_after_write_ = true;
    UpdateReading();
    if (pending_writes() == 0) Close();
  }

 private:
  bool WantRead() const override { return !close_after_write_ && !paused_; }
  void OnAllocBuffer(uv_buf_t* buf) override { *buf = uv_buf_init(rbuf_, sizeof(rbuf_)); }
  void OnBytes(size_t n) override {
    parser_.Feed(std::string_view(rbuf_, n));
    ProcessCommands();
  }
  void OnReadEnd(ssize_t) override { Close(); }
  void OnWritten(int status) override {
    if (close_after_write_ && pending_writes() == 0) Close();
    server_->ResumePaused();
  }
  void OnOutputChange(int64_t delta) override { server_->AddOutput(delta); }
  void OnClosed() override {
    server_->Forget(this);
    delete this;
  }

  // Runs buffered commands until none is complete or the replies waiting for this client (or
  // for all admin clients) reach their budget: then reading stops until the client reads.
  void ProcessCommands() {
    std::string out;
    while (!closing() && !close_after_write_) {
      // Over the total budget a client with nothing queued still gets its next reply: the
      // clients that do not read are the ones held back (and closed after kWriteTimeoutMs).
      const size_t queued = output_bytes() + out.size();
      if (queued >= AdminServer::kOutputBudget || (server_->OverTotalBudget() && queued > 0)) {
        paused_ = true;
        server_->Paused(this);
        UpdateReading();
        break;
      }
      auto next = parser_.Next();
      if (!next.ok()) {
        // The byte stream cannot be trusted any more: say why and close (Redis does the same).
        ReplyError(&out, next.status().message());
        SendAndClose(std::move(out));
        return;
      }
      if (!next.value().has_value()) break;
      CommandContext ctx{*next.value(), session_, server_->services(), &out};
      Dispatch(ctx);
      if (session_.close_after_reply) {
        SendAndClose(std::move(out));
        return;
      }
    }
    if (!out.empty()) Write(std::move(out));
  }

  // Called by the server once this connection is under both budgets again.
  bool CanResume() const {
    return paused_ && output_bytes() <= AdminServer::kOutputBudget / 2 &&
           (output_bytes() == 0 || !server_->OverTotalBudget());
  }
  void Resume() {
    paused_ = false;
    ProcessCommands();
    UpdateReading();
  }

  AdminServer* server_;
  char rbuf_[16 * 1024];
  RequestParser parser_;
  Session session_;
  bool paused_ = false;
  bool close_after_write_ = false;
};

base::Status AdminServer::Listen(const std::string& host, uint16_t port) {
  sockaddr_storage addr{};
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0)
    return base::InvalidArgument("admin bind address '" + host + "' is not an IPv4 or IPv6 address");
  std::string where = host + ":" + std::to_string(port);
  int rc = uv_tcp_init(loop_, &tcp_);
  if (rc != 0) return base::IOError("admin port: " + std::string(uv_strerror(rc)));
  tcp_.data = this;
  listening_ = true;
  rc = uv_tcp_bind(&tcp_, reinterpret_cast<sockaddr*>(&addr), 0);
  // Bind errors are reported by uv_listen in libuv 1.44: check both.
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&tcp_), 128, OnConnection);
  if (rc != 0) return base::IOError("cannot listen on admin port " + where + ": " + uv_strerror(rc));
  rc = uv_timer_init(loop_, &stall_timer_);
  if (rc == 0) {
    stall_timer_.data = this;
    timer_ready_ = true;
    rc = uv_timer_start(&stall_timer_, OnStallTimer, 1000, 1000);
  }
  if (rc != 0) return base::IOError("admin port timer: " + std::string(uv_strerror(rc)));
  uv_unref(reinterpret_cast<uv_handle_t*>(&stall_timer_));
  sockaddr_storage bound{};
  int len = sizeof(bound);
  uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                           : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return base::Status::Ok();
}

void AdminServer::OnConnection(uv_stream_t* server, int status) noexcept {
  auto* self = static_cast<AdminServer*>(server->data);
  if (status < 0) return;
  auto* conn = new AdminConnection(self);
  if (base::Status st = conn->Accept(self->loop_, server); !st.ok()) {
    SLUICE_LOG_WARN("admin", "cannot accept: %s", st.ToString().c_str());
    if (!conn->handle_open()) delete conn;  // else its close callback deletes it
    return;
  }
  if (self->tls_ != nullptr) {
    std::shared_ptr<TlsContext> tls = self->tls_->Get();
    if (base::Status st = conn->EnableTls(tls->ctx()); !st.ok()) {
      SLUICE_LOG_WARN("admin", "cannot start TLS: %s", st.ToString().c_str());
      conn->Close();
      return;
    }
  }
  self->conns_.insert(conn);
  if (self->conns_.size() > kMaxConnections) {
    std::string out;
    ReplyError(&out, "max number of admin clients reached (" + std::to_string(kMaxConnections) + ")");
    conn->SendAndClose(std::move(out));
    return;
  }
  conn->Start();
}

void AdminServer::OnStallTimer(uv_timer_t* handle) noexcept {
  auto* self = static_cast<AdminServer*>(handle->data);
  uint64_t now = uv_now(self->loop_);
  std::vector<AdminConnection*> all(self->conns_.begin(), self->conns_.end());
  for (AdminConnection* c : all) c->CloseIfWriteStalled(now, kWriteTimeoutMs, "an admin client");
}

void AdminServer::ResumePaused() {
  if (paused_.empty()) return;
  std::vector<AdminConnection*> ready;
  for (AdminConnection* c : paused_)
    if (c->CanResume()) ready.push_back(c);
  for (AdminConnection* c : ready) {
    paused_.erase(c);
    c->Resume();
  }
}

void AdminServer::Close() {
  if (!listening_) return;
  listening_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), nullptr);
  if (timer_ready_) uv_close(reinterpret_cast<uv_handle_t*>(&stall_timer_), nullptr);
  std::vector<AdminConnection*> all(conns_.begin(), conns_.end());
  for (auto* c : all) c->Close();
}

}  // namespace sluice::server::admin
