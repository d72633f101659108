// `sluice admin`: one admin command, or a small REPL with history (libedit), against the admin
// port. Commands go out as RESP arrays (one command) or as inline lines (the REPL: the server
// splits words and quotes exactly as for telnet); replies are printed as redis-cli prints them.
#include <editline/readline.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "client-lib/cli/put_command.h"

namespace sluice::cli {
namespace {

constexpr int kReplyTimeoutMs = 60000;
constexpr size_t kMaxReplyBytes = 512u << 20;  // a reply larger than this is refused, not buffered
constexpr int kMaxDepth = 16;

int Dial(const std::string& host, uint16_t port, std::string* error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) {
    *error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    *error = "connect " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  return fd;
}

// Reads RESP2 replies from a socket and renders them as redis-cli does.
class ReplyReader {
 public:
  explicit ReplyReader(int fd) : fd_(fd) {}
  // Appends the rendering of one reply to *out. Returns false when the connection failed or the
  // reply is malformed (*error says which); *is_error is set for a -ERR reply.
  bool Read(bool tty, std::string* out, bool* is_error, std::string* error) {
    return ReadOne(tty, 0, "", out, is_error, error);
  }

 private:
  bool Fill(std::string* error) {
    if (buf_.size() - pos_ > kMaxReplyBytes) {
      *error = "reply larger than " + std::to_string(kMaxReplyBytes) + " bytes";
      return false;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, kReplyTimeoutMs) <= 0) {
      *error = "no reply within " + std::to_string(kReplyTimeoutMs / 1000) + " s";
      return false;
    }
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
      *error = n == 0 ? "connection closed by server" : std::string("recv: ") + std::strerror(errno);
      return false;
    }
    if (pos_ > 0 && pos_ == buf_.size()) buf_.clear(), pos_ = 0;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  bool Line(std::string* line, std::string* error) {
    for (;;) {
      size_t eol = buf_.find("\r\n", pos_);
      if (eol != std::string::npos) {
        *line = buf_.substr(pos_, eol - pos_);
        pos_ = eol + 2;
        return true;
      }
      if (!Fill(error)) return false;
    }
  }
  bool Bytes(size_t n, std::string* data, std::string* error) {
    while (buf_.size() - pos_ < n + 2)
      if (!Fill(error)) return false;
    *data = buf_.substr(pos_, n);
    pos_ += n + 2;
    return true;
  }
  static bool Number(const std::string& s, long long* v) {
    char* end = nullptr;
    errno = 0;
    *v = std::strtoll(s.c_str(), &end, 10);
    return !s.empty() && *end == '\0' && errno == 0;
  }
  bool ReadOne(bool tty, int depth, const std::string& indent, std::string* out, bool* is_error, std::string* error) {
    std::string line;
    if (!Line(&line, error)) return false;
    if (line.empty()) {
      *error = "malformed reply: empty line";
      return false;
    }
    std::string rest = line.substr(1);
    long long n = 0;
    switch (line[0]) {
      case '+':
        *out += rest + "\n";
        return true;
      case '-':
        *is_error = true;
        *out += "(error) " + rest + "\n";
        return true;
      case ':':
        *out += (tty ? "(integer) " : "") + rest + "\n";
        return true;
      case '$': {
        if (!Number(rest, &n) || n < -1 || static_cast<unsigned long long>(n) > kMaxReplyBytes) break;
        if (n == -1) {
          *out += tty ? "(nil)\n" : "\n";
          return true;
        }
        std::string data;
        if (!Bytes(static_cast<size_t>(n), &data, error)) return false;
        *out += (tty && depth > 0 ? "\"" + data + "\"" : data) + "\n";
        return true;
      }
      case '*': {
        if (!Number(rest, &n) || n < -1 || n > 100'000'000 || depth >= kMaxDepth) break;
        if (n <= 0) {
          *out += tty ? "(empty array)\n" : "";
          return true;
        }
        for (long long i = 0; i < n; i++) {
          if (tty) {
            std::string num = std::to_string(i + 1) + ") ";
            *out += (i == 0 ? "" : indent) + num;
            if (!ReadOne(tty, depth + 1, indent + std::string(num.size(), ' '), out, is_error, error)) return false;
          } else if (!ReadOne(tty, depth + 1, indent, out, is_error, error)) {
            return false;
          }
        }
        return true;
      }
    }
    *error = "malformed reply: '" + line.substr(0, 64) + "'";
    return false;
  }

  int fd_;
  std::string buf_;
  size_t pos_ = 0;
};

bool SendAll(int fd, const std::string& bytes, std::string* error) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string EncodeArray(const std::vector<std::string>& words) {
  std::string out;
  out.append("*").append(std::to_string(words.size())).append("\r\n");
  for (const std::string& w : words) out.append("$").append(std::to_string(w.size())).append("\r\n").append(w).append("\r\n");
  return out;
}

// Sends one request and prints its reply. Returns 0, 1 for an error reply, 2 when the
// connection failed.
int RoundTrip(int fd, ReplyReader& reader, const std::string& request, bool tty) {
  std::string error, out;
  bool is_error = false;
  if (!SendAll(fd, request, &error) || !reader.Read(tty, &out, &is_error, &error)) {
    std::fprintf(stderr, "sluice admin: %s\n", error.c_str());
    return 2;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return is_error ? 1 : 0;
}

}  // namespace

int RunAdmin(const AdminOptions& opts) {
  std::string host, error;
  uint16_t port = 0;
  if (!ParseAddr(opts.addr, &host, &port)) {
    std::fprintf(stderr, "sluice admin: --addr must be HOST:PORT, got '%s'\n", opts.addr.c_str());
    return 2;
  }
  int fd = Dial(host, port, &error);
  if (fd < 0) {
    std::fprintf(stderr, "sluice admin: %s (is sluiced running with --admin-port %u?)\n", error.c_str(), port);
    return 2;
  }
  ReplyReader reader(fd);
  const bool tty = isatty(STDOUT_FILENO);
  int rc = 0;
  if (!opts.password.empty()) rc = RoundTrip(fd, reader, EncodeArray({"AUTH", opts.password}), false);
  if (rc == 0 && !opts.command.empty()) {
    rc = RoundTrip(fd, reader, EncodeArray(opts.command), tty);
  } else if (rc == 0) {
    // The REPL: lines go out inline, so quoting works as in telnet.
    const char* home = std::getenv("HOME");
    std::string history = home ? std::string(home) + "/.sluice_history" : "";
    using_history();
    if (!history.empty()) read_history(history.c_str());
    std::string prompt = opts.addr + "> ";
    const bool interactive = isatty(STDIN_FILENO);
    for (;;) {
      char* raw = nullptr;
      std::string line;
      if (interactive) {
        raw = readline(prompt.c_str());
        if (raw == nullptr) break;
        line = raw;
        std::free(raw);
      } else {
        char buf[65536];
        if (!std::fgets(buf, sizeof(buf), stdin)) break;
        line = buf;
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      }
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      if (interactive) add_history(line.c_str());
      int r = RoundTrip(fd, reader, line + "\r\n", tty);
      if (r == 2) {
        rc = 2;
        break;
      }
      if (r == 1) rc = 1;
      std::string word = line.substr(line.find_first_not_of(" \t"), 4);
      for (auto& ch : word) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (word == "QUIT" || word == "SHUT") break;
    }
    if (interactive && !history.empty()) write_history(history.c_str());
  }
  ::close(fd);
  return rc;
}

}  // namespace sluice::cli
