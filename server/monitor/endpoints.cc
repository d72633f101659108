// Monitor::Serve: the routes of the monitoring endpoints on the HTTP port, and their access rule.
#include <optional>
#include <string>

#include "base/constant_time.h"
#include "server/encoding/base64.h"
#include "server/monitor/monitor.h"
#include "server/monitor/status_page.h"

namespace sluice::server::monitor {
namespace {

constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr std::string_view kRoutes =
    "served here: GET / (status page), /api/status[?stream=NAME], /metrics, /health, /ready; "
    "the Firehose API at POST /\n";

bool LoopbackBind(const std::string& bind) {
  return bind == "::1" || bind == "localhost" || bind.rfind("127.", 0) == 0;
}

// %XX and '+' decoding of one query value; nullopt for a bad escape.
std::optional<std::string> UrlDecode(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); i++) {
    if (v[i] == '+') {
      out.push_back(' ');
    } else if (v[i] == '%') {
      if (i + 2 >= v.size()) return std::nullopt;
      auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
      int hi = hex(v[i + 1]), lo = hex(v[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

// The value of `key` in a query string ("" when absent).
std::optional<std::string> QueryValue(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != key) continue;
    return eq == std::string_view::npos ? std::string() : UrlDecode(pair.substr(eq + 1));
  }
  return std::string();
}

HttpAnswer Text(int status, std::string body, std::string headers = {}) {
  return {status, std::string(kText), std::move(body), std::move(headers)};
}

}  // namespace

HttpAnswer Monitor::Serve(std::string_view method, std::string_view target, std::string_view authorization) {
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  const bool known = path == "/" || path == "/index.html" || path == "/api/status" || path == "/metrics" ||
                     path == "/ready" || path == "/health";
  if (!known) return Text(404, "not found: " + std::string(path.substr(0, 128)) + "\n" + std::string(kRoutes));
  if (method != "GET" && method != "HEAD")
    return Text(405, std::string(method.substr(0, 16)) + " is not served on " + std::string(path) + "; use GET\n",
                "Allow: GET, HEAD\r\n");
  if (path == "/health") return Text(200, "ok\n");
  if (path == "/ready") {
    const Readiness r = Ready();
    return r.ready ? Text(200, "ready\n") : Text(503, "not ready: " + r.reason + "\n");
  }

  // Protected like the admin port.
  const ServerConfig& cfg = services_.status.config();
  if (services_.control.password_required()) {
    std::string_view a = authorization;
    bool ok = false;
    if (a.size() > 6 && (a.substr(0, 6) == "Basic " || a.substr(0, 6) == "basic ")) {
      if (auto decoded = Base64Decode(a.substr(6)); decoded && decoded->find(':') != std::string::npos)
        ok = services_.control.CheckPassword(std::string_view(*decoded).substr(decoded->find(':') + 1));
    }
    if (!ok)
      return Text(401, "authentication required: HTTP Basic with the admin password (any user name)\n",
                  "WWW-Authenticate: Basic realm=\"sluice\", charset=\"UTF-8\"\r\n");
  } else if (!LoopbackBind(cfg.http_bind) && !cfg.admin_allow_remote_without_password) {
    return Text(403, "the status page, /api/status and /metrics are served on a non-loopback http_bind only with "
                     "admin_password set (HTTP Basic authentication), or admin_allow_remote_without_password\n");
  }

  if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", Metrics(), {}};
  if (path == "/api/status") {
    auto stream = QueryValue(query, "stream");
    if (!stream) return Text(400, "bad %-escape in the query string\n");
    if (stream->size() > 64) return Text(400, "stream names are at most 64 characters\n");
    return {200, "application/json", StatusJson(*stream), "Cache-Control: no-store\r\n"};
  }
  // The page: inline script and styles only, nothing from elsewhere (the CSP says so to the browser).
  return {200, "text/html; charset=utf-8", std::string(StatusPageHtml()),
          "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
          "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
          "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'\r\n"};
}

}  // namespace sluice::server::monitor
