// Integration: streams managed at run time through the admin port (sluice admin and raw inline
// commands): create, put, FLUSH, update with VERSION, PAUSE across a restart, DELETE with and
// without FORCE, BACKUPS and REPLAY, CONFIG GET/SET.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/stat.h>

#include <sys/resource.h>

#include <filesystem>
#include <fstream>

#include "client-lib/client.h"
#include "client-lib/replay.h"
#include "tests/support/clients.h"
#include "tests/support/delivered.h"
#include "tests/support/raw_socket.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::RawSocket;
using sluice::test::TempDir;
using sluice::test::TestServer;
using sluice::test::WaitFor;

namespace {

// Runs `sluice admin` with one command; returns its stdout (non-tty: redis-cli's plain form).
std::string Admin(const TestServer& server, std::vector<std::string> words, int* rc = nullptr) {
  std::vector<std::string> argv = {test::BinaryPath("sluice"), "admin", "--addr",
                                   "127.0.0.1:" + std::to_string(server.admin_port())};
  argv.insert(argv.end(), words.begin(), words.end());
  std::string out, err;
  int code = test::RunCommand(argv, &out, &err);
  INFO(err);
  if (rc) *rc = code;
  else CHECK(code == 0);
  return out;
}

std::string Ask(uint16_t port, const std::string& bytes) { return test::AdminAsk(port, bytes); }

uint32_t Put(const TestServer& server, const std::string& stream, std::vector<std::string_view> records) {
  client::ClientOptions o;
  o.port = server.port();
  auto c = client::Client::Connect(o);
  REQUIRE(c.ok());
  auto r = c.value()->PutRecordBatch(stream, records);
  REQUIRE(r.ok());
  return r->failed_count;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

size_t CountFiles(const std::string& root, const std::string& ext) {
  size_t n = 0;
  std::error_code ec;
  if (!std::filesystem::exists(root, ec)) return 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(root, ec))
    n += e.is_regular_file() && e.path().extension() == ext;
  return n;
}

}  // namespace

TEST_CASE("Admin streams: create, put, FLUSH, update with VERSION, pause across a restart, delete",
          "[integration][admin][streams]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  const std::string delivered = tmp.Sub("data") + "/delivered/logs";

  CHECK(Admin(server, {"STREAM", "CREATE", "logs", "append_delimiter", "true", "compression", "gzip",
                       "buffering.interval_s", "900"}) == "OK\n");
  int rc = 0;
  CHECK(Contains(Admin(server, {"STREAM", "CREATE", "logs"}, &rc), "STREAM CREATE: stream 'logs' exists"));
  CHECK(rc == 1);
  // Bad settings name the problem and create nothing.
  uint16_t p = server.admin_port();
  CHECK(Contains(Ask(p, "STREAM CREATE bad/name\r\n"), "must be 1..64 characters of [a-zA-Z0-9_.-]"));
  CHECK(Contains(Ask(p, "STREAM CREATE x colour red\r\n"), "-ERR STREAM CREATE: unknown key 'colour' (one of: destination,"));
  CHECK(Contains(Ask(p, "STREAM CREATE x buffering.size_mib 0\r\n"), "buffering.size_mib must be 1..128, got 0"));
  CHECK(Contains(Ask(p, "STREAM CREATE x buffering.interval_s -5\r\n"), "must be a non-negative integer"));
  CHECK(Contains(Ask(p, "STREAM CREATE x append_delimiter maybe\r\n"), "must be true or false"));
  CHECK(Contains(Ask(p, "STREAM CREATE x compression\r\n"), "settings come in key value pairs; 'compression' has no value"));
  CHECK(Contains(Ask(p, "STREAM CREATE x compression lz4\r\n"), "compression"));
  CHECK(Contains(Ask(p, "STREAM CREATE x name y\r\n"), "unknown key 'name'"));
  CHECK(Admin(server, {"STREAM", "LIST"}) == "default\nlogs\n");

  // Put, FLUSH, and the object appears.
  CHECK(Put(server, "logs", {"a", "b", "c"}) == 0);
  CHECK(Admin(server, {"FLUSH", "logs"}) == "OK\n");
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(delivered).size() == 3; }));
  CHECK(test::DeliveredFiles(delivered)[0].find("logs-1-") != std::string::npos);  // version 1 in the name

  // UPDATE with a stale VERSION is refused; with the current one it applies and returns the new version.
  CHECK(Contains(Ask(p, "STREAM UPDATE logs VERSION 7 compression none\r\n"),
                 "VERSION 7 is not the stream's current version 1"));
  CHECK(Contains(Ask(p, "STREAM UPDATE logs VERSION x compression none\r\n"), "VERSION must be 1..4294967295"));
  CHECK(Contains(Ask(p, "STREAM UPDATE nope compression none\r\n"), "no delivery stream named 'nope'"));
  CHECK(Ask(p, "STREAM UPDATE logs VERSION 1 compression none\r\n") == ":2\r\n");
  CHECK(Ask(p, "STREAM UPDATE logs compression none\r\n") == ":2\r\n");  // no change, no new version
  std::string describe = Admin(server, {"STREAM", "DESCRIBE", "logs"});
  CHECK(Contains(describe, "version\n2\n"));
  CHECK(Contains(describe, "compression\nnone\n"));
  CHECK(Contains(describe, "status\nACTIVE\n"));
  CHECK(Contains(describe, "source\nadmin\n"));

  // PAUSE: puts are still stored, nothing is delivered; DELETE refuses while records wait.
  CHECK(Admin(server, {"PAUSE", "logs"}) == "OK\n");
  CHECK(Put(server, "logs", {"d", "e"}) == 0);
  CHECK(Admin(server, {"FLUSH", "logs"}) == "OK\n");
  REQUIRE(WaitFor([&] { return !Admin(server, {"SEGMENTS", "logs"}).empty(); }));
  CHECK(Contains(Admin(server, {"STREAM", "DELETE", "logs"}, &rc), "has undelivered records (1 sealed segments"));
  CHECK(rc == 1);
  CHECK(Contains(Ask(p, "STREAM DELETE default\r\n"), "declared in the config file"));
  CHECK(test::DeliveredRecords(delivered).size() == 3);

  // Restart: the stream, its version, its settings and its pause come back from the catalog.
  CHECK(server.Stop() == 0);
  REQUIRE(server.Start());
  CHECK(Admin(server, {"STREAM", "LIST"}) == "default\nlogs\n");
  describe = Admin(server, {"STREAM", "DESCRIBE", "logs"});
  CHECK(Contains(describe, "version\n2\n"));
  CHECK(Contains(describe, "delivery\nPAUSED\n"));
  CHECK(Contains(describe, "buffering.interval_s\n900\n"));
  CHECK(Admin(server, {"RESUME", "logs"}) == "OK\n");
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(delivered).size() == 5; }));
  auto records = test::DeliveredRecords(delivered);
  std::sort(records.begin(), records.end());
  CHECK(records == std::vector<std::string>{"a", "b", "c", "d", "e"});
  REQUIRE(WaitFor([&] { return Admin(server, {"SEGMENTS", "logs"}).empty(); }));

  // Nothing undelivered: DELETE goes through, puts are refused, and the stream stays gone.
  CHECK(Admin(server, {"STREAM", "DELETE", "logs"}) == "OK\n");
  REQUIRE(WaitFor([&] { return Admin(server, {"STREAM", "LIST"}) == "default\n"; }));
  CHECK(Put(server, "logs", {"late"}) == 1);
  CHECK(server.Stop() == 0);
  REQUIRE(server.Start());
  CHECK(Admin(server, {"STREAM", "LIST"}) == "default\n");
  CHECK(server.Stop() == 0);
}

TEST_CASE("Admin streams: DELETE FORCE backs up what was undelivered and BACKUPS and REPLAY bring it back",
          "[integration][admin][streams]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  const std::string backup = tmp.Sub("data") + "/backup/t";
  const std::string delivered = tmp.Sub("data") + "/delivered/t";
  CHECK(Admin(server, {"STREAM", "CREATE", "t", "append_delimiter", "true"}) == "OK\n");
  CHECK(Admin(server, {"PAUSE", "t"}) == "OK\n");
  CHECK(Put(server, "t", {"r1", "r2", "r3", "r4"}) == 0);
  CHECK(Admin(server, {"FLUSH", "t"}) == "OK\n");
  REQUIRE(WaitFor([&] { return !Admin(server, {"SEGMENTS", "t"}).empty(); }));

  CHECK(Admin(server, {"STREAM", "DELETE", "t", "FORCE"}) == "OK\n");
  REQUIRE(WaitFor([&] { return Admin(server, {"STREAM", "LIST"}) == "default\n"; }));
  CHECK(CountFiles(backup, ".sseg") == 1);
  CHECK(test::DeliveredRecords(delivered).empty());
  CHECK(Contains(Ask(server.admin_port(), "STATS t\r\n"), "no delivery stream named 't'"));

  // Re-created with the same name, the stream sees its backup store again.
  CHECK(Admin(server, {"STREAM", "CREATE", "t", "append_delimiter", "true"}) == "OK\n");
  std::string backups = Admin(server, {"BACKUPS", "t"});
  CHECK(Contains(backups, "stream\nt\n"));
  CHECK(Contains(backups, "records\n4\n"));
  CHECK(Contains(Admin(server, {"BACKUPS"}), ".sseg"));
  int rc = 0;
  CHECK(Contains(Admin(server, {"REPLAY", tmp.Sub("data") + "/backup/no-such-dir"}, &rc), "no such file or directory"));
  CHECK(rc == 1);
  CHECK(Contains(Admin(server, {"REPLAY", "t"}), "OK replaying 1 files in the background"));
  REQUIRE(WaitFor([&] { return Contains(Admin(server, {"INFO", "replay"}), "replay_running:0"); }));
  std::string info = Admin(server, {"INFO", "replay"});
  CHECK(Contains(info, "replay_records_acked:4"));
  CHECK(Contains(info, "replay_files_renamed:1"));
  CHECK(Admin(server, {"FLUSH", "t"}) == "OK\n");
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(delivered).size() == 4; }));
  auto records = test::DeliveredRecords(delivered);
  std::sort(records.begin(), records.end());
  CHECK(records == std::vector<std::string>{"r1", "r2", "r3", "r4"});
  // The replayed file is kept, renamed, and no longer listed or replayed again.
  CHECK(CountFiles(backup, ".sseg") == 0);
  CHECK(CountFiles(backup, ".replayed") == 1);
  CHECK(Admin(server, {"BACKUPS", "t"}).empty());
  CHECK(Contains(Admin(server, {"REPLAY", "t"}), "nothing to replay"));
  CHECK(server.Stop() == 0);
}

// Issue 13: REPLAY of an entry that cannot be stat'ed aborted sluiced (an uncaught
// std::filesystem_error). Hostile paths now get an error naming what they are, and REPLAY
// reads only under the backup roots (or the operator's replay_roots).
TEST_CASE("Admin streams: REPLAY refuses hostile paths with a clear error and sluiced stays up",
          "[integration][admin][replay][regression]") {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  const std::string extra = tmp.Sub("extra");
  std::filesystem::create_directories(extra);
  {
    std::ofstream cfg(tmp.Sub("s.toml"));
    cfg << "replay_roots = [\"" << extra << "\"]\n";
  }
  TestServer server(data, {"--config", tmp.Sub("s.toml")});
  REQUIRE(server.Start());
  const std::string backup = data + "/backup/default";
  std::filesystem::create_directories(backup + "/loop");
  // A symlink loop, a dangling link and a FIFO named like segment files, in the backup store.
  std::filesystem::create_symlink("a.sseg", backup + "/b.sseg");
  std::filesystem::create_symlink("b.sseg", backup + "/a.sseg");
  std::filesystem::create_symlink("/nonexistent/x", backup + "/dangling.sseg");
  std::filesystem::create_directory_symlink(backup, backup + "/loop/up");
  REQUIRE(::mkfifo((backup + "/fifo.sseg").c_str(), 0600) == 0);
  int rc = 0;
  // Outside every root: refused before anything is read, whatever it is.
  for (const char* p : {"/proc", "/etc/passwd", "/dev/null", "/", "/proc/self/fd/0"}) {
    std::string reply = Admin(server, {"REPLAY", p}, &rc);
    INFO(p << " -> " << reply);
    CHECK(Contains(reply, "neither a stream nor under a backup root"));
    CHECK(rc == 1);
  }
  // ".." cannot climb out of a root.
  CHECK(Contains(Admin(server, {"REPLAY", backup + "/../../../"}, &rc), "neither a stream nor under a backup root"));
  // Inside a root, a FIFO or device is named for what it is (and never opened, which would block).
  CHECK(Contains(Admin(server, {"REPLAY", backup + "/fifo.sseg"}, &rc), "is a FIFO"));
  CHECK(rc == 1);
  // A link inside a root that points outside it is judged by its target.
  std::filesystem::create_symlink("/dev/null", extra + "/null.sseg");
  CHECK(Contains(Admin(server, {"REPLAY", extra + "/null.sseg"}, &rc), "neither a stream nor under a backup root"));
  CHECK(Contains(Admin(server, {"REPLAY", backup + "/a.sseg"}, &rc), "symbolic links"));
  CHECK(rc == 1);
  // The stream's backup store, with all of the above inside: the bad entries are skipped.
  CHECK(Contains(Admin(server, {"REPLAY", "default"}, &rc), "nothing to replay"));
  CHECK(Contains(Admin(server, {"REPLAY", backup}, &rc), "nothing to replay"));
  Admin(server, {"BACKUPS", "default"}, &rc);
  CHECK(rc == 0);
  // A root the operator listed is allowed (empty: nothing to replay, but no refusal).
  CHECK(Contains(Admin(server, {"REPLAY", extra}, &rc), "nothing to replay"));
  CHECK(Admin(server, {"PING"}) == "PONG\n");
  CHECK(server.Stop() == 0);
  // The same walk `sluice replay` uses, on a device and a FIFO given directly.
  auto dev = client::CollectSegmentFiles({"/dev/null"});
  REQUIRE(!dev.ok());
  CHECK(Contains(dev.status().message(), "is a character device"));
  std::string bytes;
  base::Status fifo = client::ReadSegmentFileBytes(backup + "/fifo.sseg", &bytes);
  CHECK(Contains(fifo.message(), "is a FIFO"));
}

TEST_CASE("Admin streams: CONFIG GET and SET", "[integration][admin]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  uint16_t p = server.admin_port();
  std::string all = Admin(server, {"CONFIG", "GET", "*"});
  for (const char* key : {"data_dir", "port", "durability", "max_record_bytes", "log_level", "admin_password"})
    CHECK(Contains(all, std::string(key) + "\n"));
  CHECK(Admin(server, {"CONFIG", "GET", "log*"}) == "log_level\ninfo\nlog_format\ntext\nlog_rate_limit\n20\n");
  CHECK(Admin(server, {"CONFIG", "SET", "log_format", "json"}) == "OK\n");
  CHECK(Admin(server, {"CONFIG", "SET", "log_rate_limit", "0"}) == "OK\n");
  CHECK(Admin(server, {"CONFIG", "GET", "log_*"}) == "log_level\ninfo\nlog_format\njson\nlog_rate_limit\n0\n");
  CHECK(Contains(Ask(p, "CONFIG SET log_rate_limit -1\r\n"), "log_rate_limit must be 0..100000"));
  CHECK(Contains(Ask(p, "CONFIG SET log_format yaml\r\n"), "log_format must be text or json"));
  CHECK(Admin(server, {"CONFIG", "SET", "log_format", "text"}) == "OK\n");
  CHECK(Admin(server, {"CONFIG", "GET", "nothing-matches"}).empty());
  CHECK(Admin(server, {"CONFIG", "SET", "log_level", "debug"}) == "OK\n");
  CHECK(Admin(server, {"CONFIG", "GET", "log_level"}) == "log_level\ndebug\n");
  CHECK(Contains(Ask(p, "CONFIG SET log_level loud\r\n"), "log_level must be one of debug, info, warn, error"));
  CHECK(Contains(Ask(p, "CONFIG SET port 1\r\n"), "'port' cannot change at run time"));
  CHECK(Contains(Ask(p, "CONFIG SET nope 1\r\n"), "unknown setting 'nope'"));
  CHECK(Contains(Ask(p, "CONFIG SET log_level\r\n"), "wrong number of arguments for 'config set'"));
  // A password set at run time applies to new connections.
  CHECK(Admin(server, {"CONFIG", "SET", "admin_password", "s3cret"}) == "OK\n");
  CHECK(Ask(p, "STREAM LIST\r\n") == "-NOAUTH Authentication required.\r\n");
  CHECK(Ask(p, "AUTH s3cret\r\nCONFIG GET admin_password\r\n") == "+OK\r\n*2\r\n$14\r\nadmin_password\r\n$5\r\n(set)\r\n");
  CHECK(server.Stop() == 0);
}

TEST_CASE("Admin: 1,000 idle connections, half commands and garbage do not stop another client",
          "[integration][admin]") {
  // The test process holds 1,000 sockets: raise its soft descriptor limit as far as allowed.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 2048 && rl.rlim_max >= 2048) {
    rl.rlim_cur = 2048;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 1100) SLUICE_SKIP("RLIMIT_NOFILE is too low for 1,000 connections");
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  uint16_t p = server.admin_port();
  std::vector<std::unique_ptr<RawSocket>> idle;
  for (int i = 0; i < 1000; i++) {
    idle.push_back(std::make_unique<RawSocket>(p));
    REQUIRE(idle.back()->connected());
    if (i % 3 == 0) idle.back()->Send("STREAM DESC");          // half an inline command, stalled
    if (i % 3 == 1) idle.back()->Send("*3\r\n$6\r\nSTREAM\r\n$4");  // half a RESP array, stalled
  }
  CHECK(Ask(p, "PING\r\n") == "+PONG\r\n");
  CHECK(Admin(server, {"STREAM", "LIST"}) == "default\n");
  std::string info = Admin(server, {"INFO", "memory"});
  size_t at = info.find("used_memory_rss:");
  REQUIRE(at != std::string::npos);
  uint64_t rss = std::stoull(info.substr(at + 16));
  CHECK(rss < 512ull << 20);  // bounded: well under half a GiB with 1,000 clients
  idle.clear();
  CHECK(Ask(p, "PING\r\n") == "+PONG\r\n");
  CHECK(server.Stop() == 0);
}

// Replies waiting for admin clients that never read are bounded per client and in total.
TEST_CASE("Admin: 100 clients pipelining INFO all without reading hold a bounded amount of replies",
          "[integration][admin][limits]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  uint16_t p = server.admin_port();
  auto rss = [&] {
    std::string info = Admin(server, {"INFO", "memory"});
    size_t at = info.find("used_memory_rss:");
    return at == std::string::npos ? 0ull : std::stoull(info.substr(at + 16)) >> 20;
  };
  const unsigned long long before = rss();
  std::string burst;
  for (int i = 0; i < 1000; i++) burst += "INFO all\r\n";
  std::vector<std::unique_ptr<RawSocket>> greedy;
  for (int i = 0; i < 100; i++) {
    greedy.push_back(std::make_unique<RawSocket>(p));
    REQUIRE(greedy.back()->connected());
    int fd = greedy.back()->fd();
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  for (auto& g : greedy) ::send(g->fd(), burst.data(), burst.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  // Another client is still served (the main loop is busy answering the flood until the greedy
  // clients' socket buffers are full, so allow it time).
  CHECK(WaitFor([&] { return Ask(p, "PING\r\n") == "+PONG\r\n"; }, std::chrono::seconds(90)));
  const unsigned long long after = rss();
  INFO("RSS " << before << " -> " << after << " MiB");
  std::printf("100 greedy admin clients: RSS %llu -> %llu MiB\n", before, after);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  CHECK(after - before < 150);  // 32 MiB of replies in total, plus socket and parser buffers
#endif
  greedy.clear();
  CHECK(Ask(p, "PING\r\n") == "+PONG\r\n");
  CHECK(server.Stop() == 0);
}

TEST_CASE("sluice admin: the REPL reads lines (quotes as in telnet) and exits 1 after an error reply",
          "[integration][admin]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  {
    std::ofstream in(tmp.Sub("lines"));
    in << "PING \"two words\"\n\nSTREAM CREATE q directory.prefix 'a b/'\nstream describe q\nNOPE\nQUIT\nPING\n";
  }
  std::string out, err;
  int rc = test::RunCommand({test::BinaryPath("sluice"), "admin", "--addr", "127.0.0.1:" + std::to_string(server.admin_port())},
                            &out, &err, tmp.Sub("lines"));
  CHECK(rc == 1);  // NOPE answered an error
  CHECK(out.rfind("two words\nOK\nname\nq\n", 0) == 0);
  CHECK(Contains(out, "directory.prefix\na b/\n"));
  CHECK(Contains(out, "ERR unknown command 'NOPE'. Try HELP.\nOK\n"));
  CHECK(!Contains(out, "(error)"));  // piped: no (error) prefix, as redis-cli
  CHECK(!Contains(out, "PONG"));  // nothing is sent after QUIT
  // An unreachable admin port exits 2 and says why.
  rc = test::RunCommand({test::BinaryPath("sluice"), "admin", "--addr", "127.0.0.1:1", "PING"}, &out, &err);
  CHECK(rc == 2);
  CHECK(Contains(err, "cannot connect to 127.0.0.1:1"));
  CHECK(server.Stop() == 0);
}
