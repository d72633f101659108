// AdminServer and AdminConnection: bytes -> RequestParser -> Dispatch -> RESP replies.
#include "server/admin/admin_server.h"

#include "base/log.h"
#include "server/admin/command_table.h"

namespace sluice::server::admin {

// One admin client. Deletes itself in its close callback.
// Thread: main's loop.
class AdminConnection {
  friend class AdminServer;  // ResumePaused: CanResume, Resume

 public:
  explicit AdminConnection(AdminServer* server) : server_(server) { tcp_.data = this; }
  uv_tcp_t* tcp() { return &tcp_; }

  void Start() {
    session_.authenticated = !server_->services().password_required();
    UpdateReading();
  }

  void Close() {
    if (closing_) return;
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) {
      auto* self = static_cast<AdminConnection*>(h->data);
      self->server_->Forget(self);
      delete self;
    });
  }

  // Sends `reply` and closes once it is written.
  void SendAndClose(std::string reply) {
    Write(std::move(reply));
    close_after_write_ = true;
    UpdateReading();
    if (pending_writes_ == 0) Close();
  }

 private:
  struct WriteReq {
    uv_write_t req;
    std::string data;
    AdminConnection* conn;
  };

  void UpdateReading() {
    bool want = !closing_ && !close_after_write_ && !paused_;
    if (want == reading_) return;
    if (want) {
      int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_),
                    [](uv_handle_t* h, size_t, uv_buf_t* buf) {
                      auto* self = static_cast<AdminConnection*>(h->data);
                      *buf = uv_buf_init(self->rbuf_, sizeof(self->rbuf_));
                    },
                    [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
                      auto* self = static_cast<AdminConnection*>(s->data);
                      if (n > 0) self->OnData(std::string_view(self->rbuf_, static_cast<size_t>(n)));
                      else if (n < 0) self->Close();
                    });
      if (rc != 0) {
        SLUICE_LOG_WARN("admin", "read start: %s", uv_strerror(rc));
        Close();
        return;
      }
    } else {
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    }
    reading_ = want;
  }

  void OnData(std::string_view bytes) {
    parser_.Feed(bytes);
    ProcessCommands();
  }

  // Runs buffered commands until none is complete or the replies waiting for this client (or
  // for all admin clients) reach their budget: then reading stops until the client reads.
  void ProcessCommands() {
    std::string out;
    while (!closing_ && !close_after_write_) {
      // Over the total budget a client with nothing queued still gets its next reply: the
      // clients that do not read are the ones held back (and closed after kWriteTimeoutMs).
      const size_t queued = output_bytes_ + out.size();
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
    return paused_ && output_bytes_ <= AdminServer::kOutputBudget / 2 &&
           (output_bytes_ == 0 || !server_->OverTotalBudget());
  }

  // Closes a client whose queued replies made no progress for kWriteTimeoutMs.
  void CheckStalled(uint64_t now_ms) {
    if (closing_) return;
    if (output_bytes_ == 0 || writes_done_ != writes_seen_) {
      progress_ms_ = now_ms;
    } else if (now_ms - progress_ms_ > AdminServer::kWriteTimeoutMs) {
      SLUICE_LOG_INFO("admin", "closing an admin client that read none of its %zu reply bytes for %llu s", output_bytes_,
                      static_cast<unsigned long long>(AdminServer::kWriteTimeoutMs / 1000));
      Close();
      return;
    }
    writes_seen_ = writes_done_;
  }
  void Resume() {
    paused_ = false;
    ProcessCommands();
    UpdateReading();
  }

  void Write(std::string data) {
    if (closing_ || data.empty()) return;
    auto* w = new WriteReq;
    w->data = std::move(data);
    w->conn = this;
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, [](uv_write_t* req, int status) {
          auto* w = static_cast<WriteReq*>(req->data);
          AdminConnection* self = w->conn;
          self->output_bytes_ -= w->data.size();
          self->server_->AddOutput(-static_cast<int64_t>(w->data.size()));
          delete w;
          self->pending_writes_--;
          self->writes_done_++;
          if (status < 0 || (self->close_after_write_ && self->pending_writes_ == 0)) {
            self->Close();
          }
          self->server_->ResumePaused();
        }) != 0) {
      delete w;
      Close();
      return;
    }
    output_bytes_ += w->data.size();
    server_->AddOutput(static_cast<int64_t>(w->data.size()));
    pending_writes_++;
  }

  AdminServer* server_;
  uv_tcp_t tcp_;
  char rbuf_[16 * 1024];
  RequestParser parser_;
  Session session_;
  uint32_t pending_writes_ = 0;
  size_t output_bytes_ = 0;  // queued in libuv, not yet written
  uint64_t writes_done_ = 0;
  uint64_t writes_seen_ = 0;
  uint64_t progress_ms_ = 0;
  bool reading_ = false;
  bool paused_ = false;
  bool close_after_write_ = false;
  bool closing_ = false;
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
  if (int rc = uv_tcp_init(self->loop_, conn->tcp()); rc != 0) {
    SLUICE_LOG_WARN("admin", "cannot accept: %s", uv_strerror(rc));
    delete conn;
    return;
  }
  self->conns_.insert(conn);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(conn->tcp())) != 0) {
    conn->Close();
    return;
  }
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
  for (AdminConnection* c : all) c->CheckStalled(now);
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
