// Integration: signals (SIGHUP reloads, SIGTERM right after start) and version flags.
#include <catch2/catch.hpp>

#include <signal.h>

#include <fstream>

#include "tests/support/clients.h"
#include "tests/support/delivered.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::TempDir;
using sluice::test::TestServer;
using sluice::test::WaitFor;

namespace {
bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
std::string Admin(const TestServer& s, const std::string& line) { return test::AdminAsk(s.admin_port(), line + "\r\n"); }
}  // namespace

// Issue 13: SIGHUP killed sluiced (exit 129, no log line).
TEST_CASE("Lifecycle: SIGHUP reloads the config file's streams and log level and names what needs a restart",
          "[integration][lifecycle]") {
  TempDir tmp;
  const std::string conf = tmp.Sub("s.toml");
  {
    std::ofstream cfg(conf);
    cfg << "delivery_threads = 4\n[[stream]]\nname = \"a\"\nappend_delimiter = true\n";
  }
  TestServer server(tmp.Sub("data"), {"--config", conf});
  REQUIRE(server.Start());
  CHECK(Contains(Admin(server, "STREAM DESCRIBE a"), "version"));
  {
    std::ofstream cfg(conf, std::ios::trunc);
    cfg << "log_level = \"debug\"\ndelivery_threads = 2\n[[stream]]\nname = \"a\"\nappend_delimiter = true\n"
           "compression = \"gzip\"\n[[stream]]\nname = \"b\"\n";
  }
  server.Signal(SIGHUP);
  REQUIRE(WaitFor([&] { return Contains(server.log(), "SIGHUP: configuration reloaded"); }));
  std::string log = server.log();
  CHECK(Contains(log, "SIGHUP: log_level info -> debug"));
  CHECK(Contains(log, "need a restart (ignored until then): delivery_threads"));
  CHECK(Contains(log, "SIGHUP: stream a updated (version 2)"));
  CHECK(Contains(log, "SIGHUP: stream b created"));
  CHECK(Contains(Admin(server, "STREAM LIST"), "b"));
  CHECK(Contains(Admin(server, "STREAM DESCRIBE a"), "gzip"));
  CHECK(Contains(Admin(server, "CONFIG GET log_level"), "debug"));
  // A file that no longer validates changes nothing and keeps the server up.
  {
    std::ofstream cfg(conf, std::ios::trunc);
    cfg << "[[stream]]\nname = \"..\"\n";
  }
  server.Signal(SIGHUP);
  REQUIRE(WaitFor([&] { return Contains(server.log(), "configuration not reloaded, nothing changed"); }));
  CHECK(Contains(server.log(), "s.toml:1"));
  CHECK(Admin(server, "PING") == "+PONG\r\n");
  CHECK(server.Stop() == 0);
}

TEST_CASE("Lifecycle: SIGTERM as soon as the port file exists is a clean shutdown", "[integration][lifecycle]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  for (int i = 0; i < 3; i++) {
    REQUIRE(server.Start());  // returns once the port file is written
    CHECK(server.Stop() == 0);
  }
}

TEST_CASE("Lifecycle: sluiced and sluice print their version", "[integration][lifecycle]") {
  std::string out;
  CHECK(test::RunCommand({test::BinaryPath("sluiced"), "--version"}, &out) == 0);
  CHECK(Contains(out, "sluiced 0."));
  CHECK(test::RunCommand({test::BinaryPath("sluice"), "--version"}, &out) == 0);
  CHECK(Contains(out, "sluice 0."));
}
