// Integration: the admin port with raw inline commands, RESP arrays and the real redis-cli.
#include <catch2/catch.hpp>

#include <regex>

#include <unistd.h>

#include <fstream>
#include <thread>

#include "client-lib/client.h"
#include "tests/support/clients.h"
#include "tests/support/delivered.h"
#include "tests/support/raw_socket.h"
#include "tests/support/temp_dir.h"
#include "tests/support/skip.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::RawSocket;
using sluice::test::TempDir;
using sluice::test::TestServer;

namespace {

// Sends `bytes`, half-closes, and returns everything the server answered.
std::string Ask(uint16_t port, const std::string& bytes) { return test::AdminAsk(port, bytes); }

bool HaveRedisCli() { return access("/usr/bin/redis-cli", X_OK) == 0; }

std::string RedisCli(const TestServer& server, std::vector<std::string> args) {
  std::vector<std::string> argv = {"/usr/bin/redis-cli", "-p", std::to_string(server.admin_port())};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out, err;
  int rc = test::RunCommand(argv, &out, &err);
  INFO(err);
  CHECK(rc == 0);
  return out;
}

}  // namespace

TEST_CASE("Admin: inline commands from telnet/nc get RESP2 replies", "[integration][admin]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  REQUIRE(server.admin_port() != 0);
  CHECK(Ask(server.admin_port(), "PING\r\n") == "+PONG\r\n");
  CHECK(Ask(server.admin_port(), "ping \"hello world\"\n") == "$11\r\nhello world\r\n");
  CHECK(Ask(server.admin_port(), "STREAM LIST\r\n") == "*1\r\n$7\r\ndefault\r\n");
  CHECK(Ask(server.admin_port(), "\r\nPING\r\nQUIT\r\nPING\r\n") == "+PONG\r\n+OK\r\n");
  // RESP arrays, as redis-cli sends them, pipelined with inline commands.
  CHECK(Ask(server.admin_port(), "*2\r\n$4\r\nPING\r\n$2\r\nhi\r\nPING\r\n") == "$2\r\nhi\r\n+PONG\r\n");
  std::string help = Ask(server.admin_port(), "HELP\r\n");
  CHECK(help.find("STREAM DESCRIBE name") != std::string::npos);
  CHECK(help.find("FLUSH [name]") != std::string::npos);
  // HELP <command> lists that command's rows (redis-cli answers HELP itself, so raw socket here).
  std::string stream_help = Ask(server.admin_port(), "HELP stream\r\n");
  CHECK(stream_help.find("STREAM UPDATE name [VERSION n] key value") != std::string::npos);
  CHECK(stream_help.find("PING") == std::string::npos);
  CHECK(server.Stop() == 0);
}

TEST_CASE("Admin: bad commands get -ERR naming the problem and garbage closes only its connection",
          "[integration][admin]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  uint16_t p = server.admin_port();
  CHECK(Ask(p, "FROB\r\n") == "-ERR unknown command 'FROB'. Try HELP.\r\n");
  CHECK(Ask(p, "STREAM FROB\r\n") == "-ERR unknown subcommand 'FROB' for 'STREAM' (one of: LIST, DESCRIBE, CREATE, UPDATE, DELETE). Try HELP.\r\n");
  CHECK(Ask(p, "STREAM DESCRIBE\r\n").find("wrong number of arguments for 'stream describe'") != std::string::npos);
  CHECK(Ask(p, "STATS nope\r\n") == "-ERR no delivery stream named 'nope'. Try STREAM LIST.\r\n");
  CHECK(Ask(p, "INFO bogus\r\n").find("unknown INFO section 'bogus'") != std::string::npos);
  CHECK(Ask(p, "PING \"unbalanced\r\n").find("Protocol error: unbalanced quotes") != std::string::npos);
  CHECK(Ask(p, "*99999\r\n").find("invalid multibulk length 99999") != std::string::npos);
  CHECK(Ask(p, "*1\r\n$99999999\r\n").find("invalid bulk length 99999999") != std::string::npos);
  CHECK(Ask(p, std::string(70000, 'x')).find("too big inline request") != std::string::npos);
  // Binary garbage on one connection, a well-behaved client on another.
  RawSocket garbage(p);
  std::string junk;
  for (int i = 0; i < 5000; i++) junk.push_back(static_cast<char>((i * 131) % 256));
  garbage.Send(junk);
  std::vector<std::unique_ptr<RawSocket>> idle;
  for (int i = 0; i < 200; i++) idle.push_back(std::make_unique<RawSocket>(p));  // idle and half-sent
  idle[0]->Send("PIN");
  CHECK(Ask(p, "PING\r\n") == "+PONG\r\n");
  idle.clear();
  CHECK(server.Stop() == 0);
}

TEST_CASE("Admin: redis-cli drives streams: STATS, FLUSH, STREAM DESCRIBE, INFO, SHUTDOWN",
          "[integration][admin][redis-cli]") {
  if (!HaveRedisCli()) SLUICE_SKIP("redis-cli not installed (scripts/setup installs redis-tools)");
  TempDir tmp;
  {
    std::ofstream cfg(tmp.Sub("s.toml"));
    cfg << "[[stream]]\nname = \"clicks\"\nappend_delimiter = true\ncompression = \"gzip\"\n"
           "buffering = { size_mib = 64, interval_s = 900 }\n";
  }
  TestServer server(tmp.Sub("data"), {"--config", tmp.Sub("s.toml")});
  REQUIRE(server.Start());
  CHECK(RedisCli(server, {"PING"}) == "PONG\n");
  CHECK(RedisCli(server, {"STREAM", "LIST"}) == "clicks\n");
  std::string describe = RedisCli(server, {"STREAM", "DESCRIBE", "clicks"});
  CHECK(describe.find("compression\ngzip\n") != std::string::npos);
  CHECK(describe.find("buffering.interval_s\n900\n") != std::string::npos);
  CHECK(describe.find("version\n1\n") != std::string::npos);

  client::ClientOptions o;
  o.port = server.port();
  auto c = client::Client::Connect(o);
  REQUIRE(c.ok());
  std::vector<std::string_view> recs = {"one", "two", "three"};
  REQUIRE(c.value()->PutRecordBatch("clicks", recs).value().failed_count == 0);
  std::string stats = RedisCli(server, {"STATS", "clicks"});
  CHECK(stats.find("IncomingRecords\n3\n") != std::string::npos);
  CHECK(stats.find("IncomingPutRequests\n1\n") != std::string::npos);
  CHECK(stats.find("DeliveryToDirectory.Records\n0\n") != std::string::npos);
  // Nothing is delivered before the 900 s interval, until FLUSH.
  std::string root = server.data_dir() + "/delivered/clicks";
  CHECK(test::DeliveredFiles(root).empty());
  CHECK(RedisCli(server, {"FLUSH", "clicks"}) == "OK\n");
  REQUIRE(test::WaitFor([&] { return test::DeliveredRecords(root).size() == 3; }, std::chrono::seconds(10)));
  REQUIRE(test::WaitFor([&] {
    return RedisCli(server, {"STATS", "clicks"}).find("DeliveryToDirectory.Records\n3\n") != std::string::npos;
  }, std::chrono::seconds(10)));
  CHECK(RedisCli(server, {"SEGMENTS", "clicks"}) == "\n");  // an empty array
  std::string info = RedisCli(server, {"INFO"});
  for (const char* section : {"# Server", "# Shards", "# Storage", "# Delivery", "# Memory", "# Streams"})
    CHECK(info.find(section) != std::string::npos);
  CHECK(info.find("stream_clicks:id=1,version=1,status=active,delivery=running,incoming_records=3") != std::string::npos);
  // The run-time stream commands through redis-cli too.
  CHECK(RedisCli(server, {"STREAM", "CREATE", "views", "compression", "zstd", "buffering.interval_s", "1"}) == "OK\n");
  CHECK(RedisCli(server, {"STREAM", "LIST"}) == "clicks\nviews\n");
  CHECK(RedisCli(server, {"STREAM", "UPDATE", "views", "VERSION", "1", "buffering.size_mib", "2"}) == "2\n");
  CHECK(RedisCli(server, {"PAUSE", "views"}) == "OK\n");
  CHECK(RedisCli(server, {"RESUME", "views"}) == "OK\n");
  CHECK(RedisCli(server, {"CONFIG", "GET", "durability"}) == "durability\nfsync\n");
  CHECK(RedisCli(server, {"BACKUPS"}) == "\n");
  CHECK(RedisCli(server, {"STREAM", "CREATE", "views"}).find("exists") != std::string::npos);
  CHECK(RedisCli(server, {"STREAM", "DELETE", "views"}) == "OK\n");
  REQUIRE(test::WaitFor([&] { return RedisCli(server, {"STREAM", "LIST"}) == "clicks\n"; }));
  RedisCli(server, {"SHUTDOWN"});  // redis-cli expects the connection to drop and prints nothing
  // SHUTDOWN stops the server like SIGTERM: a clean exit.
  CHECK(server.WaitExit() == 0);
  CHECK(server.log().find("SHUTDOWN command; shutting down") != std::string::npos);
}

TEST_CASE("Admin: with --admin-password only AUTH, PING, HELP, COMMAND and QUIT work before AUTH",
          "[integration][admin][auth]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"), {"--admin-password", "hunter2"});
  REQUIRE(server.Start());
  uint16_t p = server.admin_port();
  CHECK(Ask(p, "PING\r\n") == "+PONG\r\n");
  CHECK(Ask(p, "STREAM LIST\r\n") == "-NOAUTH Authentication required.\r\n");
  CHECK(Ask(p, "AUTH wrong\r\nSTREAM LIST\r\n") ==
        "-WRONGPASS invalid username-password pair\r\n-NOAUTH Authentication required.\r\n");
  CHECK(Ask(p, "AUTH hunter2\r\nSTREAM LIST\r\n") == "+OK\r\n*1\r\n$7\r\ndefault\r\n");
  CHECK(Ask(p, "AUTH default hunter2\r\nSTREAM LIST\r\n") == "+OK\r\n*1\r\n$7\r\ndefault\r\n");
  // sluice admin --password prints the command's reply only, not AUTH's OK (as redis-cli -a).
  std::string out1, err1;
  CHECK(test::RunCommand({test::BinaryPath("sluice"), "admin", "--addr", "127.0.0.1:" + std::to_string(p), "--password",
                          "hunter2", "STREAM", "LIST"},
                         &out1, &err1) == 0);
  CHECK(out1 == "default\n");
  // Errors carry the command's name once, and no line number of internal TOML.
  std::string created = Ask(p, "AUTH hunter2\r\nSTREAM CREATE z buffering.size_mib 999\r\nSTREAM CREATE z2 nokey 1\r\n"
                               "STREAM UPDATE default buffering.size_mib 0\r\n");
  INFO(created);
  CHECK(created.find("STREAM CREATE: STREAM CREATE") == std::string::npos);
  CHECK(created.find("STREAM UPDATE: STREAM UPDATE") == std::string::npos);
  CHECK_FALSE(std::regex_search(created, std::regex("(CREATE|UPDATE):[0-9]")));
  CHECK(created.find("-ERR STREAM CREATE: stream 'z': buffering.size_mib must be 1..128, got 999\r\n") != std::string::npos);
  CHECK(created.find("-ERR STREAM UPDATE: stream 'default': buffering.size_mib must be 1..128, got 0\r\n") != std::string::npos);
  // HELP of one subcommand shows that one only.
  std::string help = Ask(p, "HELP STREAM CREATE\r\n");
  CHECK(help.find("STREAM CREATE") != std::string::npos);
  CHECK(help.find("STREAM DELETE") == std::string::npos);
  CHECK(server.Stop() == 0);
  // A non-loopback admin bind without a password is refused at start.
  std::string out, err;
  int rc = test::RunCommand({test::BinaryPath("sluiced"), "--data-dir", tmp.Sub("d2"), "--port", "0",
                             "--admin-port", "0", "--admin-bind", "0.0.0.0"},
                            &out, &err);
  CHECK(rc == 2);
  CHECK(err.find("not a loopback address: set admin_password") != std::string::npos);
}
