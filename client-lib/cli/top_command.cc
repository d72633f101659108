// `sluice top`: the status page's figures as a live terminal view. Every interval it sends the
// admin command STATUS (the JSON document the status page reads) and draws one row per stream.
// On a terminal: the alternate screen in raw mode, redrawn each refresh, keys to sort, q to quit;
// the terminal is restored on every way out (q, Ctrl-C, SIGTERM, a lost connection). Not on a
// terminal: one plain key=value line per stream per refresh, for logs and scripts.
#include <hiredis/hiredis.h>
#include <poll.h>
#include <simdjson.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "client-lib/cli/put_command.h"

namespace sluice::cli {
namespace {

struct Row {
  std::string name, destination, state, last_error;
  double in_rps = 0, in_bps = 0, out_rps = 0, backlog = 0, freshness = 0, success = 1, retries = 0, backed_up = 0;
  double last_error_ms = 0;
};

struct Status {
  std::string version, ready_reason;
  bool ready = false;
  double uptime_s = 0, rss = 0, now_ms = 0;
  double in_rps = 0, out_rps = 0, backlog = 0;
  std::vector<Row> rows;
  std::vector<std::string> shards;  // "0: 29 commits/s x 300"
};

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

double Num(simdjson::dom::element e) {
  double d = 0;
  if (e.get_double().get(d) == simdjson::SUCCESS) return d;
  int64_t i = 0;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  uint64_t u = 0;
  if (e.get_uint64().get(u) == simdjson::SUCCESS) return static_cast<double>(u);
  return 0;
}
std::string Str(simdjson::dom::element e) {
  std::string_view v;
  return e.get_string().get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
}

// Parses STATUS's document; false (with *error) when it is not what the server sends.
bool Parse(const std::string& json, Status* st, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto e = parser.parse(json).get(doc); e != simdjson::SUCCESS) {
    *error = std::string("STATUS answered something that is not JSON: ") + simdjson::error_message(e);
    return false;
  }
  try {
    st->version = Str(doc["version"]);
    st->ready = bool(doc["ready"]);
    st->ready_reason = Str(doc["ready_reason"]);
    st->uptime_s = Num(doc["uptime_s"]);
    st->rss = Num(doc["rss_bytes"]);
    st->now_ms = Num(doc["now_ms"]);
    st->in_rps = Num(doc["totals"]["incoming_records_per_s"]);
    st->out_rps = Num(doc["totals"]["delivered_records_per_s"]);
    st->backlog = Num(doc["totals"]["backlog_records"]);
    for (simdjson::dom::element s : doc["streams"].get_array()) {
      Row r;
      r.name = Str(s["name"]);
      r.destination = Str(s["destination"]);
      r.state = Str(s["status"]) != "ACTIVE" ? "deleting" : bool(s["paused"]) ? "paused" : "running";
      r.in_rps = Num(s["incoming_records_per_s"]);
      r.in_bps = Num(s["incoming_bytes_per_s"]);
      r.out_rps = Num(s["delivered_records_per_s"]);
      r.backlog = Num(s["backlog_records"]);
      r.freshness = Num(s["data_freshness_s"]);
      r.success = Num(s["success_ratio"]);
      r.retries = Num(s["retries"]);
      r.backed_up = Num(s["backup_records"]);
      r.last_error = Str(s["last_error"]);
      r.last_error_ms = Num(s["last_error_ms"]);
      st->rows.push_back(std::move(r));
    }
    for (simdjson::dom::element s : doc["shards"].get_array()) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "%d: %.0f commits/s x %.0f", int(Num(s["id"])), Num(s["commits_per_s"]),
                    Num(s["records_per_commit"]));
      st->shards.push_back(buf);
    }
  } catch (const simdjson::simdjson_error& e) {
    *error = std::string("STATUS's document lacks a field: ") + e.what();
    return false;
  }
  return true;
}

std::string Human(double n) {
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.2fG", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 1e4) std::snprintf(buf, sizeof buf, "%.1fk", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}
std::string Bytes(double n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (n >= 1024 && i < 4) n /= 1024, i++;
  char buf[32];
  std::snprintf(buf, sizeof buf, i ? "%.1f %s" : "%.0f %s", n, units[i]);
  return buf;
}
std::string Duration(double s) {
  char buf[32];
  if (s < 120) std::snprintf(buf, sizeof buf, "%.0f s", s);
  else if (s < 7200) std::snprintf(buf, sizeof buf, "%.0f min", s / 60);
  else std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  return buf;
}

void Sort(std::vector<Row>* rows, const std::string& by) {
  auto key = [&by](const Row& r) {
    if (by == "out") return r.out_rps;
    if (by == "backlog") return r.backlog;
    if (by == "freshness") return r.freshness;
    if (by == "errors") return r.retries + (1 - r.success) * 1e12 + r.last_error_ms / 1e3;
    return r.in_rps;
  };
  std::stable_sort(rows->begin(), rows->end(), [&](const Row& a, const Row& b) {
    if (by == "name") return a.name < b.name;
    const double x = key(a), y = key(b);
    return x != y ? x > y : a.name < b.name;
  });
}

// The full-screen view: a header, the table (as many rows as fit), the keys.
std::string Screen(const Status& st, const std::string& sort, const std::string& addr, int width, int height) {
  std::string o = "\x1b[H\x1b[2J";
  char line[512];
  std::snprintf(line, sizeof line, "\x1b[1msluice top\x1b[0m  %s  sluiced %s  up %s  %s%s\x1b[0m  RSS %s\r\n", addr.c_str(),
                st.version.c_str(), Duration(st.uptime_s).c_str(), st.ready ? "\x1b[32mready" : "\x1b[31mnot ready: ",
                st.ready ? "" : st.ready_reason.c_str(), Bytes(st.rss).c_str());
  o += line;
  std::snprintf(line, sizeof line, "streams %zu  in %s rec/s  out %s rec/s  backlog %s records  shards", st.rows.size(),
                Human(st.in_rps).c_str(), Human(st.out_rps).c_str(), Human(st.backlog).c_str());
  o += line;
  for (const auto& s : st.shards) o += "  [" + s + "]";
  o += "\r\n\r\n";
  // A column title padded to its width, underlined when the table is sorted by it.
  auto col = [&sort](const char* title, const char* key, int width) {
    char padded[64];
    std::snprintf(padded, sizeof padded, "%*s", width, title);
    return std::string(sort == key ? "\x1b[4m" : "") + padded + (sort == key ? "\x1b[24m" : "");
  };
  std::snprintf(line, sizeof line, "\x1b[7m%s %-12s %-8s %s %11s %s %s %s %7s %s %9s  %s\x1b[0m\r\n",
                col("STREAM", "name", -24).c_str(), "DEST", "STATE", col("IN rec/s", "in", 10).c_str(), "IN bytes/s",
                col("OUT rec/s", "out", 10).c_str(), col("BACKLOG", "backlog", 10).c_str(),
                col("FRESH", "freshness", 9).c_str(), "OK%", col("RETRY", "errors", 7).c_str(), "BACKED UP", "LAST ERROR");
  o += line;
  const int room = std::max(1, height - 6);
  int shown = 0;
  for (const Row& r : st.rows) {
    if (shown == room) break;
    shown++;
    std::string err = r.last_error.empty() ? "" : Duration((st.now_ms - r.last_error_ms) / 1000) + " ago: " + r.last_error;
    std::snprintf(line, sizeof line, "%-24.24s %-12.12s %-8s %10s %11s %10s %10s %9s %6.1f%% %7s %9s  ", r.name.c_str(),
                  r.destination.c_str(), r.state.c_str(), Human(r.in_rps).c_str(), (Bytes(r.in_bps) + "/s").c_str(),
                  Human(r.out_rps).c_str(), Human(r.backlog).c_str(), Duration(r.freshness).c_str(), r.success * 100,
                  Human(r.retries).c_str(), Human(r.backed_up).c_str());
    std::string row = line;
    const int left = width - static_cast<int>(row.size());
    if (left > 0) row += err.substr(0, static_cast<size_t>(left));
    const bool bad = r.success < 1 || r.freshness > 900;
    o += (bad ? "\x1b[31m" : "") + row + (bad ? "\x1b[0m" : "") + "\r\n";
  }
  if (shown < static_cast<int>(st.rows.size()))
    o += "... " + std::to_string(st.rows.size() - static_cast<size_t>(shown)) + " more streams\r\n";
  std::snprintf(line, sizeof line, "\x1b[%d;1H\x1b[2mq quit  sort: i in  o out  b backlog  f freshness  e errors  n name\x1b[0m",
                height);
  o += line;
  return o;
}

// One line per stream, key=value, for logs and scripts.
std::string Lines(const Status& st) {
  char ts[32];
  const time_t now = static_cast<time_t>(st.now_ms / 1000);
  tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string o;
  char line[1024];
  for (const Row& r : st.rows) {
    std::snprintf(line, sizeof line,
                  "%s stream=%s destination=%s state=%s in_records_per_s=%.1f in_bytes_per_s=%.0f out_records_per_s=%.1f "
                  "backlog_records=%.0f freshness_s=%.1f success=%.3f retries=%.0f backed_up=%.0f",
                  ts, r.name.c_str(), r.destination.c_str(), r.state.c_str(), r.in_rps, r.in_bps, r.out_rps, r.backlog,
                  r.freshness, r.success, r.retries, r.backed_up);
    o += line;
    if (!r.last_error.empty()) o += " last_error=\"" + r.last_error.substr(0, 200) + "\"";
    o += "\n";
  }
  return o;
}

// Puts the terminal in raw mode on the alternate screen, and back on destruction.
class RawTerminal {
 public:
  RawTerminal() {
    if (tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      have_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    Write("\x1b[?1049h\x1b[?25l");
  }
  ~RawTerminal() {
    Write("\x1b[?25h\x1b[?1049l");
    if (have_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  static void Write(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::write(STDOUT_FILENO, s.data() + off, s.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

 private:
  termios saved_{};
  bool have_ = false;
};

// Sends one command and returns its reply as a string; false with *error otherwise.
bool Ask(redisContext* c, const std::vector<std::string>& words, std::string* out, std::string* error) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& w : words) argv.push_back(w.data()), lens.push_back(w.size());
  void* raw = redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
  if (raw == nullptr) {
    *error = c->errstr[0] ? c->errstr : "connection closed by server";
    return false;
  }
  auto* r = static_cast<redisReply*>(raw);
  bool ok = r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
  if (ok) out->assign(r->str, r->len);
  else *error = r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "unexpected reply type";
  freeReplyObject(r);
  return ok;
}

}  // namespace

int RunTop(const TopOptions& opts) {
  redisContext* c = ConnectAdmin(opts.addr, "sluice top");
  if (c == nullptr) return 2;
  std::string reply, error;
  if (!opts.password.empty() && !Ask(c, {"AUTH", opts.password}, &reply, &error)) {
    std::fprintf(stderr, "sluice top: AUTH: %s\n", error.c_str());
    redisFree(c);
    return 2;
  }
  const bool tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
  struct sigaction sa{};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::string sort = opts.sort;
  int rc = 0;
  {
    std::unique_ptr<RawTerminal> term = tty ? std::make_unique<RawTerminal>() : nullptr;
    Status st;
    bool have = false;
    for (uint32_t n = 0; !g_stop && (opts.count == 0 || n < opts.count); n++) {
      Status next;
      if (!Ask(c, {"STATUS"}, &reply, &error) || !Parse(reply, &next, &error)) {
        rc = 2;
        break;
      }
      st = std::move(next);
      have = true;
      Sort(&st.rows, sort);
      winsize ws{};
      const int width = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 160;
      const int height = ws.ws_row ? ws.ws_row : 40;
      if (tty) RawTerminal::Write(Screen(st, sort, opts.addr, width, height));
      else std::fputs(Lines(st).c_str(), stdout), std::fflush(stdout);
      if (opts.count != 0 && n + 1 == opts.count) break;
      // Wait for the next refresh; a key redraws at once.
      const auto deadline_ms = static_cast<int>(opts.interval_s * 1000);
      timespec start{}, now{};
      clock_gettime(CLOCK_MONOTONIC, &start);
      for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        const int waited = static_cast<int>((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
        if (waited >= deadline_ms || g_stop) break;
        pollfd p{STDIN_FILENO, POLLIN, 0};
        if (!tty || poll(&p, 1, deadline_ms - waited) <= 0) {
          if (!tty) usleep(static_cast<useconds_t>(std::min(deadline_ms - waited, 200)) * 1000);
          continue;
        }
        char key = 0;
        if (::read(STDIN_FILENO, &key, 1) != 1) continue;
        const std::string before = sort;
        switch (key) {
          case 'q': case 'Q': g_stop = 1; break;
          case 'i': sort = "in"; break;
          case 'o': sort = "out"; break;
          case 'b': sort = "backlog"; break;
          case 'f': sort = "freshness"; break;
          case 'e': sort = "errors"; break;
          case 'n': sort = "name"; break;
          default: break;
        }
        if (sort != before && have) {
          Sort(&st.rows, sort);
          RawTerminal::Write(Screen(st, sort, opts.addr, width, height));
        }
      }
    }
  }
  if (rc == 2) std::fprintf(stderr, "sluice top: %s\n", error.c_str());
  redisFree(c);
  return rc;
}

}  // namespace sluice::cli
