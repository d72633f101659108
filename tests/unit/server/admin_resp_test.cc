#include <catch2/catch.hpp>

#include "server/admin/resp.h"

using namespace sluice::server::admin;

namespace {
std::vector<std::vector<std::string>> ParseAll(RequestParser& p, bool* error = nullptr) {
  std::vector<std::vector<std::string>> out;
  while (true) {
    auto n = p.Next();
    if (!n.ok()) {
      if (error) *error = true;
      return out;
    }
    if (!n.value().has_value()) return out;
    out.push_back(*n.value());
  }
}
}  // namespace

TEST_CASE("RequestParser: inline words, quotes and escapes follow redis-cli", "[server][admin]") {
  RequestParser p;
  p.Feed("STREAM  DESCRIBE x\r\nping \"a b\\x41\\n\" 'c \\' d'\n\r\n");
  auto cmds = ParseAll(p);
  REQUIRE(cmds.size() == 3);
  CHECK(cmds[0] == std::vector<std::string>{"STREAM", "DESCRIBE", "x"});
  CHECK(cmds[1] == std::vector<std::string>{"ping", "a bA\n", "c ' d"});
  CHECK(cmds[2].empty());
  CHECK_FALSE(SplitInline("a \"b").ok());
  CHECK_FALSE(SplitInline("\"a\"b").ok());
}

TEST_CASE("RequestParser: RESP arrays arrive in any pieces", "[server][admin]") {
  std::string cmd = "*3\r\n$6\r\nSTREAM\r\n$8\r\nDESCRIBE\r\n$0\r\n\r\n";
  for (size_t cut = 0; cut <= cmd.size(); cut++) {
    RequestParser p;
    p.Feed(cmd.substr(0, cut));
    auto first = ParseAll(p);
    p.Feed(cmd.substr(cut));
    auto rest = ParseAll(p);
    first.insert(first.end(), rest.begin(), rest.end());
    REQUIRE(first.size() == 1);
    CHECK(first[0] == std::vector<std::string>{"STREAM", "DESCRIBE", ""});
  }
}

TEST_CASE("RequestParser: absurd counts and lengths are protocol errors before buffering", "[server][admin]") {
  for (std::string bad : {"*-5\r\n", "*abc\r\n", "*2000\r\n", "*1\r\n$-2\r\n", "*1\r\n$9999999\r\n", "*1\r\nx\r\n",
                          "*1\r\n$2\r\nabcd"}) {
    INFO(bad);
    RequestParser p;
    p.Feed(bad);
    bool error = false;
    ParseAll(p, &error);
    CHECK(error);
  }
  RequestParser p;
  p.Feed(std::string(70 * 1024, 'a'));
  bool error = false;
  ParseAll(p, &error);
  CHECK(error);
}

TEST_CASE("Reply: RESP2 encodings", "[server][admin]") {
  std::string out;
  ReplySimple(&out, "OK");
  ReplyError(&out, "bad\r\nthing");
  ReplyInteger(&out, -3);
  ReplyBulk(&out, "hi");
  ReplyNil(&out);
  ReplyArrayHeader(&out, 2);
  CHECK(out == "+OK\r\n-ERR bad  thing\r\n:-3\r\n$2\r\nhi\r\n$-1\r\n*2\r\n");
}
