// Integration: the HTTP endpoint destination against a strict receiver (tests/peers/
// http_endpoint_receiver.js) that validates every header and the body, and misbehaves on demand.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "client-lib/client.h"
#include "tests/support/clients.h"
#include "tests/support/delivered.h"
#include "tests/support/peer.h"
#include "tests/support/raw_socket.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::Peer;
using sluice::test::TempDir;
using sluice::test::TestServer;
using sluice::test::WaitFor;

namespace {

struct Received {
  std::vector<std::string> records;                 // in arrival order
  std::vector<std::string> request_ids;             // accepted requests
  std::map<std::string, std::string> attributes;    // of the last request
};

Received ReadReceived(const std::string& dir) {
  Received out;
  std::ifstream in(dir + "/received.jsonl");
  std::string line;
  simdjson::dom::parser parser;
  while (std::getline(in, line)) {
    simdjson::dom::object doc;
    if (parser.parse(line).get_object().get(doc) != simdjson::SUCCESS) continue;
    std::string_view id;
    if (doc["requestId"].get_string().get(id) == simdjson::SUCCESS) out.request_ids.emplace_back(id);
    simdjson::dom::array records;
    if (doc["records"].get_array().get(records) == simdjson::SUCCESS)
      for (auto r : records) {
        std::string_view v;
        if (r.get_string().get(v) == simdjson::SUCCESS) out.records.emplace_back(v);
      }
    simdjson::dom::object attrs;
    if (doc["attributes"].get_object().get(attrs) == simdjson::SUCCESS) {
      out.attributes.clear();
      for (auto [k, v] : attrs) {
        std::string_view s;
        if (v.get_string().get(s) == simdjson::SUCCESS) out.attributes[std::string(k)] = std::string(s);
      }
    }
  }
  return out;
}

// Lines of attempts.log: "<requestId> <status> <mode>".
std::vector<std::string> Attempts(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in(dir + "/attempts.log");
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

struct Fixture {
  TempDir tmp;
  std::string out = tmp.Sub("received");
  std::unique_ptr<Peer> receiver;
  std::unique_ptr<TestServer> server;

  // `stream_extra` is added to the [[stream]] table (TOML lines).
  explicit Fixture(const std::string& stream_extra = "", const std::string& http_extra = "",
                   const std::string& buffering = "{ size_mib = 1, interval_s = 0 }", const std::string& top_level = "") {
    REQUIRE_FALSE(test::NodePath().empty());  // scripts/setup installs nodejs
    std::filesystem::create_directories(out);
    receiver = std::make_unique<Peer>(
        std::vector<std::string>{test::NodePath(), test::SourcePath("tests/peers/http_endpoint_receiver.js"),
                                 tmp.Sub("receiver.port"), out, "secret-key"},
        tmp.Sub("receiver.port"), tmp.Sub("receiver.log"));
    REQUIRE(receiver->Start());
    std::ofstream cfg(tmp.Sub("s.toml"));
    cfg << top_level << "[[stream]]\nname = \"h\"\ndestination = \"http\"\nbuffering = " << buffering << "\n"
        << stream_extra << "[stream.http]\nurl = \"http://127.0.0.1:" << receiver->port()
        << "/ingest?tenant=a\"\naccess_key = \"secret-key\"\n" << http_extra;
    cfg.close();
    server = std::make_unique<TestServer>(tmp.Sub("data"), std::vector<std::string>{"--config", tmp.Sub("s.toml")});
    REQUIRE(server->Start());
  }
  void Put(const std::vector<std::string>& records) { REQUIRE(test::PutRecords(server->port(), "h", records) == 0); }
  std::string Admin(const std::string& line) { return test::AdminAsk(server->admin_port(), line + "\r\n"); }
};

std::vector<std::string> Numbered(const std::string& tag, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; i++) out.push_back(tag + "-" + std::to_string(i));
  return out;
}

}  // namespace

TEST_CASE("HTTP endpoint: records arrive with the protocol's headers, gzip and common attributes",
          "[integration][http]") {
  Fixture f("", "content_encoding = \"gzip\"\ncommon_attributes = { team = \"data\", env = \"test\" }\n");
  auto records = Numbered("g", 2500);
  records.push_back("{\"json\": \"with \\\"quotes\\\" and \\u00e9\"}");
  f.Put(records);
  REQUIRE(WaitFor([&] { return ReadReceived(f.out).records.size() >= records.size(); }));
  Received got = ReadReceived(f.out);
  auto sorted = got.records;
  std::sort(sorted.begin(), sorted.end());
  auto want = records;
  std::sort(want.begin(), want.end());
  CHECK(sorted == want);  // each exactly once
  CHECK(got.attributes == std::map<std::string, std::string>{{"env", "test"}, {"team", "data"}});
  // The receiver rejects anything off-protocol with 400; every attempt was accepted.
  for (const auto& a : Attempts(f.out)) CHECK(a.find(" 200 ") != std::string::npos);
  // The counters move once the endpoint's 200 has been read, just after the receiver logged it.
  CHECK(WaitFor([&] { return f.Admin("STATS h").find("DeliveryToHttpEndpoint.Records\r\n$4\r\n2501") != std::string::npos; }));
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("HTTP endpoint: 500s and a wrong echoed id are retried with the same request id",
          "[integration][http]") {
  Fixture f("retry_duration_s = 60\n");
  REQUIRE(test::SetPeerMode(f.receiver->port(), "fail500", 2));
  f.Put({"one", "two"});
  REQUIRE(WaitFor([&] { return ReadReceived(f.out).records.size() == 2; }));
  auto attempts = Attempts(f.out);
  REQUIRE(attempts.size() == 3);
  std::string id = attempts[0].substr(0, attempts[0].find(' '));
  for (const auto& a : attempts) CHECK(a.rfind(id + " ", 0) == 0);  // stable across retries
  CHECK(attempts[2].find(" 200 ok") != std::string::npos);

  REQUIRE(test::SetPeerMode(f.receiver->port(), "wrong-id", 1));
  f.Put({"three"});
  REQUIRE(WaitFor([&] { return ReadReceived(f.out).records.size() == 3; }));
  attempts = Attempts(f.out);
  REQUIRE(attempts.size() == 5);
  CHECK(attempts[3].find("wrong-id") != std::string::npos);
  CHECK(attempts[3].substr(0, 28) == attempts[4].substr(0, 28));
  CHECK(f.server->log().find("is not the request's") != std::string::npos);

  REQUIRE(test::SetPeerMode(f.receiver->port(), "garbage", 1));
  f.Put({"four"});
  REQUIRE(WaitFor([&] { return ReadReceived(f.out).records.size() == 4; }));
  REQUIRE(test::SetPeerMode(f.receiver->port(), "huge", 1));  // a 4 MiB answer: refused, not buffered
  f.Put({"five"});
  REQUIRE(WaitFor([&] { return ReadReceived(f.out).records.size() == 5; }));
  CHECK(f.server->log().find("HttpEndpoint.ResponseTooLarge") != std::string::npos);
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("HTTP endpoint: a hanging endpoint times out and is retried", "[integration][http]") {
  Fixture f("retry_duration_s = 60\n", "request_timeout_s = 1\n");
  REQUIRE(test::SetPeerMode(f.receiver->port(), "hang", 1));
  f.Put({"slow"});
  REQUIRE(WaitFor([&] { return ReadReceived(f.out).records.size() == 1; }));
  CHECK(f.server->log().find("HttpEndpoint.RequestTimeout") != std::string::npos);
  CHECK(f.server->Stop() == 0);
}

// Issue 13: a fixed 30 s low-speed limit gave up on endpoints that answer after 30 s but within
// request_timeout_s, so they received the same records again and again.
TEST_CASE("HTTP endpoint: an endpoint that answers after 35 s gets the records once", "[integration][http][slow]") {
  Fixture f("retry_duration_s = 300\n");
  REQUIRE(test::SetPeerMode(f.receiver->port(), "slow35", 1));
  f.Put({"patient"});
  REQUIRE(WaitFor([&] { return ReadReceived(f.out).records.size() == 1; }, std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(Attempts(f.out).size() == 1);
  CHECK(ReadReceived(f.out).records == std::vector<std::string>{"patient"});
  CHECK(f.server->Stop() == 0);
}

// Issue 13: shutdown waited silently for a hung endpoint up to the request timeout.
TEST_CASE("HTTP endpoint: shutdown says what it waits for and abandons a hung attempt after shutdown_timeout_s",
          "[integration][http][shutdown]") {
  Fixture f("retry_duration_s = 300\n", "", "{ size_mib = 1, interval_s = 0 }", "shutdown_timeout_s = 2\n");
  REQUIRE(test::SetPeerMode(f.receiver->port(), "hang"));
  f.Put({"held"});
  REQUIRE(WaitFor([&] { return Attempts(f.out).size() == 1; }));
  auto start = std::chrono::steady_clock::now();
  CHECK(f.server->Stop() == 0);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::string log = f.server->log();
  INFO(log);
  CHECK(took < 15000);  // not the 180 s request timeout
  CHECK(log.find("shutdown: waiting for 1 delivery attempts in flight") != std::string::npos);
  CHECK(log.find("shutdown: abandoning 1 delivery attempts") != std::string::npos);
  // The abandoned segment is still stored and delivered after the restart.
  REQUIRE(test::SetPeerMode(f.receiver->port(), "ok"));
  REQUIRE(f.server->Start());
  REQUIRE(WaitFor([&] { return ReadReceived(f.out).records.size() == 1; }));
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("HTTP endpoint: 413 and a spent retry budget go to the backup store and REPLAY delivers them",
          "[integration][http]") {
  Fixture f("retry_duration_s = 1\n");
  REQUIRE(test::SetPeerMode(f.receiver->port(), "413", 1));
  f.Put({"big"});
  REQUIRE(WaitFor([&] { return f.Admin("BACKUPS h").find("records") != std::string::npos; }));
  // The log line follows the backup files by a moment.
  CHECK(WaitFor([&] { return f.server->log().find("HttpEndpoint.PayloadTooLarge: status 413") != std::string::npos; }));

  REQUIRE(test::SetPeerMode(f.receiver->port(), "fail500"));  // until told otherwise
  f.Put({"unlucky-1", "unlucky-2"});
  auto backups = [&] {
    std::string b = f.Admin("BACKUPS h");
    size_t n = 0;
    for (size_t at = b.find("records"); at != std::string::npos; at = b.find("records", at + 1)) n++;
    return n;
  };
  REQUIRE(WaitFor([&] { return backups() >= 2; }));
  CHECK(ReadReceived(f.out).records.empty());
  // The error records beside the backed-up segments say why, with Firehose-style codes (each
  // .json is written just after its .sseg).
  std::string errors;
  auto read_errors = [&] {
    errors.clear();
    for (auto& e : std::filesystem::recursive_directory_iterator(f.tmp.Sub("data") + "/backup/h"))
      if (e.path().extension() == ".json") errors += test::ReadFile(e.path().string());
    return errors.find("RetriesExhausted") != std::string::npos;
  };
  CHECK(WaitFor(read_errors));
  CHECK(errors.find("\"errorCode\":\"HttpEndpoint.PermanentFailure\"") != std::string::npos);
  CHECK(errors.find("\"errorCode\":\"HttpEndpoint.RetriesExhausted\"") != std::string::npos);
  CHECK(errors.find("receiver told to fail") != std::string::npos);  // the endpoint's errorMessage

  REQUIRE(test::SetPeerMode(f.receiver->port(), "ok"));
  CHECK(f.Admin("REPLAY h").find("+OK replaying " + std::to_string(backups()) + " files") != std::string::npos);
  REQUIRE(WaitFor([&] { return ReadReceived(f.out).records.size() == 3; }));
  auto got = ReadReceived(f.out).records;
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"big", "unlucky-1", "unlucky-2"});
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("HTTP endpoint: a segment over 10,000 records goes as several requests with stable ids",
          "[integration][http]") {
  Fixture f("", "", "{ size_mib = 4, interval_s = 900 }");
  auto records = Numbered("p", 25000);
  f.Put(records);
  CHECK(f.Admin("FLUSH h") == "+OK\r\n");
  REQUIRE(WaitFor([&] { return ReadReceived(f.out).records.size() >= 25000; }));
  Received got = ReadReceived(f.out);
  CHECK(got.records.size() == 25000);
  for (const auto& id : got.request_ids) CHECK(id.find('-') != std::string::npos);  // "<segment>-<part>"
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("HTTP endpoint: settings are validated", "[integration][http]") {
  TempDir tmp;
  TestServer server(tmp.Sub("data"));
  REQUIRE(server.Start());
  test::RawSocket s(server.admin_port());
  s.Send("STREAM CREATE x destination http http.url ftp://a\r\n"
         "STREAM CREATE x destination http http.url http://127.0.0.1:1/ http.content_encoding br\r\n"
         "STREAM CREATE x destination http http.url http://127.0.0.1:1/ retry_duration_s 9000\r\n"
         "STREAM CREATE x destination http http.url http://127.0.0.1:1/ http.common_attributes.k v\r\n"
         "STREAM DESCRIBE x\r\n");
  s.ShutdownWrite();
  bool closed = false;
  std::string out = s.ReadUntilClose(5000, &closed);
  CHECK(out.find("http.url must start with http:// or https://") != std::string::npos);
  CHECK(out.find("http.content_encoding must be none or gzip") != std::string::npos);
  CHECK(out.find("retry_duration_s must be 0..7200 for http") != std::string::npos);
  CHECK(out.find("+OK") != std::string::npos);
  CHECK(out.find("http.common_attributes.k\r\n$1\r\nv") != std::string::npos);
  CHECK(out.find("retry_duration_s\r\n$3\r\n300") != std::string::npos);  // http's default
  // DESCRIBE shows the settings of the stream's own destination and backup store only.
  CHECK(out.find("directory.path") == std::string::npos);
  CHECK(out.find("backup.store\r\n$9\r\ndirectory") != std::string::npos);
  CHECK(server.Stop() == 0);
}

TEST_CASE("HTTP endpoint: https verifies the certificate and a private CA is trusted through ca_file",
          "[integration][http]") {
  TempDir tmp;
  REQUIRE_FALSE(test::NodePath().empty());
  std::string out, err;
  // A self-signed certificate for 127.0.0.1 (openssl comes with ca-certificates).
  REQUIRE(test::RunCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", tmp.Sub("key.pem"),
                            "-out", tmp.Sub("cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                            "subjectAltName=IP:127.0.0.1"},
                           &out, &err) == 0);
  std::string received = tmp.Sub("received");
  std::filesystem::create_directories(received);
  Peer receiver({test::NodePath(), test::SourcePath("tests/peers/http_endpoint_receiver.js"), tmp.Sub("r.port"), received,
                 "", tmp.Sub("cert.pem"), tmp.Sub("key.pem")},
                tmp.Sub("r.port"), tmp.Sub("r.log"));
  REQUIRE(receiver.Start());
  auto config = [&](const std::string& name, const std::string& extra) {
    return "[[stream]]\nname = \"" + name + "\"\ndestination = \"http\"\nretry_duration_s = 600\n"
           "buffering = { size_mib = 1, interval_s = 0 }\n[stream.http]\nurl = \"https://127.0.0.1:" +
           std::to_string(receiver.port()) + "/\"\n" + extra;
  };
  std::ofstream(tmp.Sub("s.toml")) << config("untrusted", "") << config("trusted", "ca_file = \"" + tmp.Sub("cert.pem") + "\"\n");
  TestServer server(tmp.Sub("data"), {"--config", tmp.Sub("s.toml")});
  REQUIRE(server.Start());
  client::ClientOptions o;
  o.port = server.port();
  auto c = client::Client::Connect(o);
  REQUIRE(c.ok());
  std::vector<std::string_view> a = {"to-untrusted"}, b = {"to-trusted"};
  REQUIRE(c.value()->PutRecordBatch("untrusted", a)->failed_count == 0);
  REQUIRE(c.value()->PutRecordBatch("trusted", b)->failed_count == 0);
  REQUIRE(WaitFor([&] { return ReadReceived(received).records.size() == 1; }));
  CHECK(ReadReceived(received).records == std::vector<std::string>{"to-trusted"});
  REQUIRE(WaitFor([&] { return server.log().find("certificate") != std::string::npos; }));
  CHECK(server.log().find("stream untrusted: segment") != std::string::npos);  // retried, not delivered
  CHECK(server.Stop() == 0);
}
