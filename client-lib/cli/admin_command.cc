// `sluice admin`: one admin command, or a small REPL with history (libedit), against the admin
// port, with hiredis as the RESP client. One command goes out as a RESP array; REPL lines go out
// inline, so the server splits words and quotes exactly as for telnet. Replies print as
// redis-cli prints them.
#include <editline/readline.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "client-lib/cli/put_command.h"

namespace sluice::cli {
namespace {

constexpr int kReplyTimeoutS = 60;

// Renders a reply as redis-cli does: numbered and quoted on a terminal, plain lines otherwise.
void Render(const redisReply* r, bool tty, int depth, const std::string& indent, std::string* out, bool* is_error) {
  switch (r->type) {
    case REDIS_REPLY_STATUS:
      out->append(r->str, r->len).append("\n");
      return;
    case REDIS_REPLY_ERROR:
      *is_error = true;
      out->append(tty ? "(error) " : "").append(r->str, r->len).append("\n");
      return;
    case REDIS_REPLY_INTEGER:
      out->append(tty ? "(integer) " : "").append(std::to_string(r->integer)).append("\n");
      return;
    case REDIS_REPLY_NIL:
      out->append(tty ? "(nil)\n" : "\n");
      return;
    case REDIS_REPLY_STRING:
      if (tty && depth > 0) out->append("\"").append(r->str, r->len).append("\"\n");
      else out->append(r->str, r->len).append("\n");
      return;
    case REDIS_REPLY_ARRAY:
      if (r->elements == 0) {
        if (tty) out->append("(empty array)\n");
        return;
      }
      for (size_t i = 0; i < r->elements; i++) {
        std::string num = tty ? std::to_string(i + 1) + ") " : "";
        if (tty) out->append(i == 0 ? "" : indent).append(num);
        Render(r->element[i], tty, depth + 1, indent + std::string(num.size(), ' '), out, is_error);
      }
      return;
  }
}

bool IsShutdown(std::string word) {
  for (auto& ch : word) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return word == "SHUTDOWN";
}

// Waits for one reply and prints it. Returns 0, 1 for an error reply, 2 when the connection
// failed. After SHUTDOWN the server may close without a reply: that is success (redis-cli too).
// `quiet`: print only an error reply (AUTH before a one-shot command, as redis-cli -a).
int PrintReply(redisContext* c, bool tty, bool shutdown = false, bool quiet = false) {
  void* raw = nullptr;
  if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
    if (shutdown && c->err == REDIS_ERR_EOF) return 0;
    std::fprintf(stderr, "sluice admin: %s\n", c->errstr[0] ? c->errstr : "connection closed by server");
    return 2;
  }
  auto* reply = static_cast<redisReply*>(raw);
  std::string out;
  bool is_error = false;
  Render(reply, tty, 0, "", &out, &is_error);
  freeReplyObject(reply);
  if (quiet && !is_error) return 0;
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return is_error ? 1 : 0;
}

int SendArgv(redisContext* c, const std::vector<std::string>& words, bool tty, bool quiet = false) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& w : words) {
    argv.push_back(w.data());
    lens.push_back(w.size());
  }
  if (redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()) != REDIS_OK) {
    std::fprintf(stderr, "sluice admin: %s\n", c->errstr);
    return 2;
  }
  return PrintReply(c, tty, !words.empty() && IsShutdown(words[0]), quiet);
}

}  // namespace

redisContext* ConnectAdmin(const std::string& addr, const char* who) {
  std::string host;
  uint16_t port = 0;
  if (!ParseAddr(addr, &host, &port)) {
    std::fprintf(stderr, "%s: --addr must be HOST:PORT, got '%s'\n", who, addr.c_str());
    return nullptr;
  }
  timeval connect_timeout{5, 0};
  redisContext* c = redisConnectWithTimeout(host.c_str(), port, connect_timeout);
  if (c == nullptr || c->err) {
    std::fprintf(stderr, "%s: cannot connect to %s: %s (is sluiced running with --admin-port %u?)\n", who,
                 addr.c_str(), c ? c->errstr : "out of memory", port);
    if (c) redisFree(c);
    return nullptr;
  }
  timeval io_timeout{kReplyTimeoutS, 0};
  redisSetTimeout(c, io_timeout);
  return c;
}

int RunAdmin(const AdminOptions& opts) {
  redisContext* c = ConnectAdmin(opts.addr, "sluice admin");
  if (c == nullptr) return 2;
  const bool tty = isatty(STDOUT_FILENO);
  int rc = 0;
  if (!opts.password.empty()) rc = SendArgv(c, {"AUTH", opts.password}, tty, /*quiet=*/true);
  if (rc == 0 && !opts.command.empty()) {
    rc = SendArgv(c, opts.command, tty);
  } else if (rc == 0) {
    const char* home = std::getenv("HOME");
    std::string history = home ? std::string(home) + "/.sluice_history" : "";
    using_history();
    if (!history.empty()) read_history(history.c_str());
    std::string prompt = opts.addr + "> ";
    const bool interactive = isatty(STDIN_FILENO);
    for (;;) {
      std::string line;
      if (interactive) {
        char* raw = readline(prompt.c_str());
        if (raw == nullptr) break;
        line = raw;
        std::free(raw);
      } else {
        char buf[65536];
        if (!std::fgets(buf, sizeof(buf), stdin)) break;
        line = buf;
      }
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      size_t first = line.find_first_not_of(" \t");
      if (first == std::string::npos) continue;  // the server answers nothing to an empty line
      if (interactive) add_history(line.c_str());
      std::string inline_cmd = line + "\r\n";
      if (redisAppendFormattedCommand(c, inline_cmd.data(), inline_cmd.size()) != REDIS_OK) {
        rc = 2;
        break;
      }
      std::string first_word = line.substr(first, line.find_first_of(" \t", first) - first);
      int r = PrintReply(c, tty, IsShutdown(first_word));
      if (r == 2) {
        rc = 2;
        break;
      }
      if (r == 1) rc = 1;
      std::string word = line.substr(first, 8);
      for (auto& ch : word) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (word.rfind("QUIT", 0) == 0 || word.rfind("SHUTDOWN", 0) == 0) break;
    }
    if (interactive && !history.empty()) write_history(history.c_str());
  }
  redisFree(c);
  return rc;
}

}  // namespace sluice::cli
