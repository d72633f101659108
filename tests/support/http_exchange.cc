// Raw HTTP/1.1 exchanges for tests.
#include "tests/support/http_exchange.h"

#include <poll.h>

#include <chrono>

namespace sluice::test {

std::vector<std::string> ReadResponses(RawSocket& s, size_t count, bool* closed, bool head_only) {
  std::string in;
  std::vector<std::string> out;
  *closed = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    size_t head_end = in.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t cl = in.find("Content-Length: ");
      size_t len = cl != std::string::npos && cl < head_end ? std::stoul(in.substr(cl + 16)) : 0;
      if (in.rfind("HTTP/1.1 100", 0) == 0 || head_only) len = 0;
      if (in.size() >= head_end + 4 + len) {
        out.push_back(in.substr(0, head_end + 4 + len));
        in.erase(0, head_end + 4 + len);
        continue;
      }
    }
    pollfd p{s.fd(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[65536];
    ssize_t n = ::recv(s.fd(), buf, sizeof buf, 0);
    if (n <= 0) {
      *closed = true;
      break;
    }
    in.append(buf, static_cast<size_t>(n));
  }
  return out;
}

int Status(const std::string& response) { return response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0; }

std::string Body(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

std::string Header(const std::string& response, const std::string& name) {
  const size_t end = response.find("\r\n\r\n");
  size_t at = response.find("\r\n" + name + ": ");
  if (at == std::string::npos || at > end) return "";
  at += name.size() + 4;
  return response.substr(at, response.find("\r\n", at) - at);
}

std::string HttpGet(uint16_t port, const std::string& target, const std::string& extra_headers) {
  RawSocket s(port);
  if (!s.connected() || !s.Send("GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n")) return "";
  bool closed = false;
  auto r = ReadResponses(s, 1, &closed);
  return r.empty() ? "" : r[0];
}

double MetricSample(const std::string& metrics, const std::string& series) {
  const size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + series.size() + 2));
}

double ScrapeMetric(uint16_t http_port, const std::string& series) {
  return MetricSample(Body(HttpGet(http_port, "/metrics")), series);
}

}  // namespace sluice::test
