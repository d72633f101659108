// AdminServer and AdminConnection: bytes -> RequestParser -> Dispatch -> RESP replies.
#include "server/admin/admin_server.h"

#include "base/log.h"
#include "server/admin/command_table.h"

namespace sluice::server::admin {

// One admin client. Deletes itself in its close callback.
// Thread: main's loop.
class AdminConnection {
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
    std::string out;
    while (!closing_ && !close_after_write_) {
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
          delete w;
          self->pending_writes_--;
          if (status < 0 || (self->close_after_write_ && self->pending_writes_ == 0)) {
            self->Close();
            return;
          }
          if (self->paused_ &&
              uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&self->tcp_)) < AdminServer::kOutputBudget / 2) {
            self->paused_ = false;
            self->UpdateReading();
          }
        }) != 0) {
      delete w;
      Close();
      return;
    }
    pending_writes_++;
    // A client that sends commands but does not read replies stops being read.
    if (uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&tcp_)) > AdminServer::kOutputBudget) {
      paused_ = true;
      UpdateReading();
    }
  }

  AdminServer* server_;
  uv_tcp_t tcp_;
  char rbuf_[16 * 1024];
  RequestParser parser_;
  Session session_;
  uint32_t pending_writes_ = 0;
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

void AdminServer::Close() {
  if (!listening_) return;
  listening_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), nullptr);
  std::vector<AdminConnection*> all(conns_.begin(), conns_.end());
  for (auto* c : all) c->Close();
}

}  // namespace sluice::server::admin
