// Integration: the Firehose API port. Real clients (boto3 and the AWS CLI from Debian) put,
// list and describe; raw sockets check HTTP framing, pipelining, limits and error shapes.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/encoding/base64.h"
#include "server/http/sigv4.h"
#include "tests/support/clients.h"
#include "tests/support/peer.h"
#include "tests/support/delivered.h"
#include "tests/support/http_exchange.h"
#include "tests/support/raw_socket.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::Body;
using sluice::test::RawSocket;
using sluice::test::ReadResponses;
using sluice::test::Status;
using sluice::test::TempDir;
using sluice::test::TestServer;
using sluice::test::WaitFor;

namespace {

std::string Request(std::string_view target, std::string_view body, std::string_view extra_headers = "") {
  return "POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: Firehose_20150804." + std::string(target) +
         "\r\nContent-Type: application/x-amz-json-1.1\r\n" + std::string(extra_headers) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

bool PeerClosed(RawSocket& s, int timeout_ms = 5000) {
  bool closed = false;
  s.ReadUntilClose(timeout_ms, &closed);
  return closed;
}

// Debian's python3-boto3 (scripts/setup installs it) under Debian's own interpreter.
bool HaveBoto3() {
  return std::filesystem::exists("/usr/bin/python3") && test::RunCommand({"/usr/bin/python3", "-c", "import boto3"}) == 0;
}


std::string PutRecordBody(std::string_view stream, std::string_view data) {
  return "{\"DeliveryStreamName\":\"" + std::string(stream) + "\",\"Record\":{\"Data\":\"" +
         server::Base64Encode(data) + "\"}}";
}

struct ApiServer {
  TempDir tmp;
  std::unique_ptr<TestServer> server;
  std::string delivered;
  explicit ApiServer(std::string extra_config = "") {
    std::ofstream(tmp.Sub("sluice.toml")) << extra_config
                                          << "[[stream]]\nname = \"api\"\nappend_delimiter = true\n"
                                             "buffering = { size_mib = 64, interval_s = 0 }\n";
    server = std::make_unique<TestServer>(tmp.Sub("data"), std::vector<std::string>{"--config", tmp.Sub("sluice.toml")});
    REQUIRE(server->Start());
    REQUIRE(server->http_port() != 0);
    delivered = tmp.Sub("data") + "/delivered/api";
  }
};

}  // namespace

TEST_CASE("Firehose API: PutRecord and PutRecordBatch are delivered byte-exact", "[integration][firehose_api]") {
  ApiServer f;
  RawSocket s(f.server->http_port());
  REQUIRE(s.connected());
  REQUIRE(s.Send(Request("PutRecord", PutRecordBody("api", "first"))));
  std::string batch = "{\"DeliveryStreamName\":\"api\",\"Records\":[";
  for (int i = 0; i < 500; i++)
    batch += std::string(i ? "," : "") + "{\"Data\":\"" + server::Base64Encode("rec-" + std::to_string(i)) + "\"}";
  batch += "]}";
  REQUIRE(s.Send(Request("PutRecordBatch", batch)));
  bool closed = false;
  auto responses = ReadResponses(s, 2, &closed);
  REQUIRE(responses.size() == 2);
  CHECK(Status(responses[0]) == 200);
  CHECK(Body(responses[0]).find("\"RecordId\":") != std::string::npos);
  CHECK(Status(responses[1]) == 200);
  CHECK(Body(responses[1]).rfind("{\"FailedPutCount\":0,\"Encrypted\":false,\"RequestResponses\":[", 0) == 0);
  CHECK(std::count(responses[1].begin(), responses[1].end(), '{') == 501);
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == 501; }));
  auto got = test::DeliveredRecords(f.delivered);
  CHECK(got[0] == "first");
  CHECK(got[1] == "rec-0");
  CHECK(got[500] == "rec-499");
}

TEST_CASE("Firehose API: pipelined requests are answered in order on one connection", "[integration][firehose_api]") {
  ApiServer f;
  RawSocket s(f.server->http_port());
  REQUIRE(s.connected());
  std::string pipeline = Request("PutRecord", PutRecordBody("api", "a")) + Request("ListDeliveryStreams", "{}") +
                         Request("PutRecord", PutRecordBody("nope", "b")) +
                         Request("DescribeDeliveryStream", "{\"DeliveryStreamName\":\"api\"}") +
                         Request("PutRecord", PutRecordBody("api", "c"));
  REQUIRE(s.Send(pipeline));
  bool closed = false;
  auto r = ReadResponses(s, 5, &closed);
  REQUIRE(r.size() == 5);
  CHECK(!closed);
  CHECK(Status(r[0]) == 200);
  CHECK(Body(r[1]) == "{\"DeliveryStreamNames\":[\"api\"],\"HasMoreDeliveryStreams\":false}");
  CHECK(Status(r[2]) == 400);
  CHECK(Body(r[2]).find("\"__type\":\"ResourceNotFoundException\"") != std::string::npos);
  CHECK(r[2].find("x-amzn-ErrorType: ResourceNotFoundException\r\n") != std::string::npos);
  CHECK(Body(r[3]).find("\"DeliveryStreamName\":\"api\"") != std::string::npos);
  CHECK(Body(r[3]).find("\"DeliveryStreamStatus\":\"ACTIVE\"") != std::string::npos);
  CHECK(Status(r[4]) == 200);
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == 2; }));
  CHECK(test::DeliveredRecords(f.delivered) == std::vector<std::string>{"a", "c"});
}

TEST_CASE("Firehose API: Expect 100-continue, chunked bodies and HTTP/1.0 close", "[integration][firehose_api]") {
  ApiServer f;
  {
    RawSocket s(f.server->http_port());
    std::string body = PutRecordBody("api", "continued");
    REQUIRE(s.Send("POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Firehose_20150804.PutRecord\r\nExpect: 100-continue\r\n"
                   "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
    bool closed = false;
    auto r = ReadResponses(s, 1, &closed);
    REQUIRE(r.size() == 1);
    CHECK(r[0] == "HTTP/1.1 100 Continue\r\n\r\n");
    REQUIRE(s.Send(body));
    r = ReadResponses(s, 1, &closed);
    REQUIRE(r.size() == 1);
    CHECK(Status(r[0]) == 200);
  }
  {
    RawSocket s(f.server->http_port());
    std::string body = PutRecordBody("api", "chunked");
    std::string chunked = "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Firehose_20150804.PutRecord\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n";
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", body.size() / 2);
    chunked += size + body.substr(0, body.size() / 2) + "\r\n";
    std::snprintf(size, sizeof size, "%zx\r\n", body.size() - body.size() / 2);
    chunked += size + body.substr(body.size() / 2) + "\r\n0\r\n\r\n";
    REQUIRE(s.Send(chunked));
    bool closed = false;
    auto r = ReadResponses(s, 1, &closed);
    REQUIRE(r.size() == 1);
    CHECK(Status(r[0]) == 200);
  }
  {
    RawSocket s(f.server->http_port());
    std::string body = PutRecordBody("api", "one-oh");
    REQUIRE(s.Send("POST / HTTP/1.0\r\nX-Amz-Target: Firehose_20150804.PutRecord\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body));
    bool closed = false;
    auto r = ReadResponses(s, 1, &closed);
    REQUIRE(r.size() == 1);
    CHECK(Status(r[0]) == 200);
    CHECK(r[0].find("Connection: close\r\n") != std::string::npos);
    CHECK(PeerClosed(s));
  }
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == 3; }));
  auto got = test::DeliveredRecords(f.delivered);
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"chunked", "continued", "one-oh"});
}

TEST_CASE("Firehose API: malformed and oversized requests get an AWS-shaped error and a close", "[integration][firehose_api]") {
  ApiServer f;
  auto expect_close = [&](const std::string& bytes, int status, std::string_view type) {
    RawSocket s(f.server->http_port());
    REQUIRE(s.connected());
    s.Send(bytes);
    bool closed = false;
    auto r = ReadResponses(s, 1, &closed);
    INFO(bytes.substr(0, 200));
    REQUIRE(r.size() == 1);
    CHECK(Status(r[0]) == status);
    CHECK(Body(r[0]).find("\"__type\":\"" + std::string(type) + "\"") != std::string::npos);
    CHECK(r[0].find("Connection: close\r\n") != std::string::npos);
    CHECK(PeerClosed(s));
  };
  expect_close("GARBAGE\r\n\r\n", 400, "SerializationException");
  expect_close("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
               "SerializationException");
  expect_close("POST / HTTP/1.1\r\nX-Big: " + std::string(100 * 1024, 'a') + "\r\n\r\n", 431, "SerializationException");
  std::string many = "POST / HTTP/1.1\r\n";
  for (int i = 0; i < 101; i++) many += "X-H" + std::to_string(i) + ": v\r\n";
  expect_close(many + "\r\n", 431, "SerializationException");
  // Refused from the headers alone: the body is never sent, let alone buffered.
  expect_close("POST / HTTP/1.1\r\nX-Amz-Target: Firehose_20150804.PutRecord\r\nContent-Length: 9437184\r\n\r\n", 413,
               "SerializationException");
  expect_close("POST /" + std::string(9000, 'p') + " HTTP/1.1\r\n\r\n", 414, "SerializationException");
  {
    // A chunked body is counted as it arrives.
    RawSocket s(f.server->http_port());
    s.Send("POST / HTTP/1.1\r\nX-Amz-Target: Firehose_20150804.PutRecord\r\nTransfer-Encoding: chunked\r\n\r\n");
    std::string chunk(1 << 20, 'x');
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    for (int i = 0; i < 9; i++) s.Send(size + chunk + "\r\n");
    bool closed = false;
    auto r = ReadResponses(s, 1, &closed);
    REQUIRE(r.size() == 1);
    CHECK(Status(r[0]) == 413);
    CHECK(PeerClosed(s));
  }
  // Errors a client can go on from keep the connection.
  RawSocket s(f.server->http_port());
  REQUIRE(s.Send(Request("PutRecord", "{\"DeliveryStreamName\":\"api\",\"Record\":{\"Data\":\"not base64!\"}}") +
                 Request("PutRecord", "{\"DeliveryStreamName\":\"api\",\"Record\":{\"Data\":") +
                 Request("PutRecordBatch", "{\"DeliveryStreamName\":\"api\",\"Records\":[]}") +
                 Request("PutRecord", "{\"DeliveryStreamName\":\"bad name!\",\"Record\":{\"Data\":\"\"}}") +
                 Request("StartDeliveryStreamEncryption", "{}") + Request("Nope", "{}") + Request("PutRecord", "[1,2]") +
                 "PUT / HTTP/1.1\r\nHost: x\r\n\r\n" + Request("PutRecord", PutRecordBody("api", "still-here"))));
  bool closed = false;
  auto r = ReadResponses(s, 9, &closed);
  REQUIRE(r.size() == 9);
  CHECK(!closed);
  CHECK(Body(r[0]).find("SerializationException") != std::string::npos);
  CHECK(Body(r[1]).find("SerializationException") != std::string::npos);
  CHECK(Body(r[2]) ==
        "{\"__type\":\"ValidationException\",\"message\":\"1 validation error detected: Value '<0 records>' at 'records' "
        "failed to satisfy constraint: Member must have length less than or equal to 500 and at least 1\"}");
  CHECK(Body(r[3]).find("Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+") != std::string::npos);
  CHECK(Body(r[4]).find("InvalidArgumentException") != std::string::npos);
  CHECK(Body(r[5]).find("UnknownOperationException") != std::string::npos);
  CHECK(Body(r[6]).find("SerializationException") != std::string::npos);
  CHECK(Status(r[7]) == 405);  // POST / is the API, GET / the status page (monitor_test.cc), PUT nothing
  CHECK(Status(r[8]) == 200);
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == 1; }));
  CHECK(test::DeliveredRecords(f.delivered) == std::vector<std::string>{"still-here"});
}

TEST_CASE("Firehose API: a request that stops arriving is answered 408 after read_timeout_s", "[integration][firehose_api]") {
  ApiServer f("read_timeout_s = 1\n");
  RawSocket s(f.server->http_port());
  REQUIRE(s.Send("POST / HTTP/1.1\r\nX-Amz-Target: Firehose_20150804.PutRecord\r\nContent-Length: 100\r\n\r\n{\"Deli"));
  bool closed = false;
  auto r = ReadResponses(s, 1, &closed);
  REQUIRE(r.size() == 1);
  CHECK(Status(r[0]) == 408);
  CHECK(PeerClosed(s));
  // Headers that ask for 100-continue, and then no body.
  RawSocket c(f.server->http_port());
  REQUIRE(c.Send("POST / HTTP/1.1\r\nX-Amz-Target: Firehose_20150804.PutRecord\r\nExpect: 100-continue\r\n"
                 "Content-Length: 10\r\n\r\n"));
  r = ReadResponses(c, 2, &closed);
  REQUIRE(r.size() == 2);
  CHECK(r[0] == "HTTP/1.1 100 Continue\r\n\r\n");
  CHECK(Status(r[1]) == 408);
  CHECK(PeerClosed(c));
}

TEST_CASE("Firehose API: boto3 lists, describes, puts and gets Firehose's error codes", "[integration][firehose_api]") {
  if (!HaveBoto3())
    SLUICE_SKIP("Debian's python3-boto3 is not installed (scripts/setup installs it)");
  ApiServer f;
  std::string out, err;
  const std::string expected = f.tmp.Sub("expected.json");
  int rc = test::RunCommand({"/usr/bin/python3", test::SourcePath("tests/clients/firehose_boto3.py"),
                             "http://127.0.0.1:" + std::to_string(f.server->http_port()), "api", expected},
                            &out, &err);
  INFO(out << err);
  REQUIRE(rc == 0);
  simdjson::dom::parser parser;
  simdjson::dom::array list;
  REQUIRE(parser.load(expected).get_array().get(list) == simdjson::SUCCESS);
  std::vector<std::string> want;
  for (auto e : list) want.emplace_back(std::string_view(e.get_string()));
  REQUIRE(want.size() == 501);
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == want.size(); }));
  auto got = test::DeliveredRecords(f.delivered);
  CHECK(got == want);
}

TEST_CASE("Firehose API: the AWS CLI puts a batch, lists and describes", "[integration][firehose_api]") {
  if (!std::filesystem::exists("/usr/bin/aws")) SLUICE_SKIP("Debian's awscli is not installed (scripts/setup installs it)");
  ApiServer f;
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(f.server->http_port());
  std::vector<std::string> env = {"/usr/bin/env", "HOME=" + f.tmp.Sub("home"), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
                                  "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=us-east-1",
                                  "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
                                  "AWS_PAGER=", "/usr/bin/aws", "--endpoint-url", endpoint, "--output", "json", "firehose"};
  auto aws = [&](std::vector<std::string> args, std::string* out) {
    std::vector<std::string> argv = env;
    argv.insert(argv.end(), args.begin(), args.end());
    std::string err;
    int rc = test::RunCommand(argv, out, &err);
    INFO(*out << err);
    return rc;
  };
  std::string out;
  REQUIRE(aws({"list-delivery-streams"}, &out) == 0);
  CHECK(out.find("\"api\"") != std::string::npos);
  REQUIRE(aws({"describe-delivery-stream", "--delivery-stream-name", "api"}, &out) == 0);
  CHECK(out.find("\"DeliveryStreamStatus\": \"ACTIVE\"") != std::string::npos);
  std::vector<std::string> want;
  std::string records = "[";
  for (int i = 0; i < 100; i++) {
    want.push_back("cli-" + std::to_string(i) + " \"quoted\" \xc3\xa9");
    records += std::string(i ? "," : "") + "{\"Data\":\"" + server::Base64Encode(want.back()) + "\"}";
  }
  std::ofstream(f.tmp.Sub("records.json")) << records << "]";
  // AWS CLI v2 reads blobs as base64 (its default --cli-binary-format).
  REQUIRE(aws({"put-record-batch", "--delivery-stream-name", "api", "--records", "file://" + f.tmp.Sub("records.json")},
              &out) == 0);
  CHECK(out.find("\"FailedPutCount\": 0") != std::string::npos);
  CHECK(aws({"put-record", "--delivery-stream-name", "nope", "--record", "Data=eA=="}, &out) != 0);
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == want.size(); }));
  CHECK(test::DeliveredRecords(f.delivered) == want);
}

namespace {
constexpr const char* kProducerId = "AKIDPRODUCER00000001";
constexpr const char* kProducerSecret = "producer/secret+key";
constexpr const char* kAdminId = "AKIDADMIN00000000001";
constexpr const char* kAdminSecret = "admin/secret+key";

std::string KeysConfig() {
  return std::string("[[access_key]]\nid = \"") + kProducerId + "\"\nsecret = \"" + kProducerSecret +
         "\"\nstreams = [\"api\"]\noperations = [\"put\", \"read\"]\n[[access_key]]\nid = \"" + kAdminId +
         "\"\nsecret = \"" + kAdminSecret + "\"\noperations = [\"*\"]\n";
}

// A request signed with `secret` at `when` (x-amz-date), as the SDKs sign it.
std::string Signed(std::string_view target, const std::string& body, const char* id, const char* secret, time_t when) {
  char date[20];
  struct tm tm;
  gmtime_r(&when, &tm);
  strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"content-type", "application/x-amz-json-1.1"},
      {"host", "127.0.0.1"},
      {"x-amz-date", date},
      {"x-amz-target", "Firehose_20150804." + std::string(target)}};
  server::http::SignedRequest r{"POST", "/", &headers, body};
  std::string auth = sluice::proto::SignFirehoseRequest(id, secret, "us-east-1", r);
  return "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Date: " +
         std::string(date) + "\r\nX-Amz-Target: Firehose_20150804." + std::string(target) + "\r\nAuthorization: " + auth +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}
}  // namespace

TEST_CASE("Firehose API: with access keys every request must be signed within 5 minutes", "[integration][firehose_api]") {
  ApiServer f(KeysConfig());
  RawSocket s(f.server->http_port());
  const std::string body = PutRecordBody("api", "signed-raw");
  const time_t now = time(nullptr);
  REQUIRE(s.Send(Request("PutRecord", body) + Signed("PutRecord", body, kProducerId, kProducerSecret, now) +
                 Signed("PutRecord", body, kProducerId, kProducerSecret, now - 600) +
                 Signed("PutRecord", body, kProducerId, kProducerSecret, now + 600) +
                 Signed("PutRecord", body, kProducerId, "wrong", now) +
                 Signed("PutRecord", PutRecordBody("other", "x"), kProducerId, kProducerSecret, now)));
  bool closed = false;
  auto r = ReadResponses(s, 6, &closed);
  REQUIRE(r.size() == 6);
  CHECK(Body(r[0]) == "{\"__type\":\"MissingAuthenticationTokenException\",\"message\":\"Missing Authentication Token\"}");
  CHECK(Status(r[1]) == 200);
  CHECK(Body(r[2]).find("\"__type\":\"InvalidSignatureException\",\"message\":\"Signature expired: ") != std::string::npos);
  CHECK(Body(r[3]).find("Signature not yet current") != std::string::npos);
  CHECK(Body(r[4]).find("The request signature we calculated does not match") != std::string::npos);
  CHECK(Body(r[5]).find("\"__type\":\"AccessDeniedException\"") != std::string::npos);
  // A body changed after signing does not verify.
  std::string tampered = Signed("PutRecord", body, kProducerId, kProducerSecret, now);
  tampered.replace(tampered.find("c2lnbmVkLXJhdw=="), 16, "c2lnbmVkLXJhdx==");
  REQUIRE(s.Send(tampered));
  r = ReadResponses(s, 1, &closed);
  REQUIRE(r.size() == 1);
  CHECK(Body(r[0]).find("InvalidSignatureException") != std::string::npos);
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == 1; }));
  CHECK(test::DeliveredRecords(f.delivered) == std::vector<std::string>{"signed-raw"});
}

TEST_CASE("Firehose API: boto3 signs with a producer key and an admin key, and is refused with wrong ones", "[integration][firehose_api]") {
  if (!HaveBoto3())
    SLUICE_SKIP("Debian's python3-boto3 is not installed (scripts/setup installs it)");
  ApiServer f(KeysConfig() + "[[stream]]\nname = \"other\"\nappend_delimiter = true\nbuffering = { size_mib = 1, interval_s = 0 }\n");
  std::string out, err;
  int rc = test::RunCommand({"/usr/bin/python3", test::SourcePath("tests/clients/firehose_boto3_auth.py"),
                             "http://127.0.0.1:" + std::to_string(f.server->http_port()), kProducerId, kProducerSecret,
                             kAdminId, kAdminSecret},
                            &out, &err);
  INFO(out << err);
  REQUIRE(rc == 0);
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == 2; }));
  CHECK(test::DeliveredRecords(f.delivered) == std::vector<std::string>{"signed-1", "signed-2"});
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.tmp.Sub("data") + "/delivered/other").size() == 1; }));
}

TEST_CASE("Firehose API: the access keys authenticate the put port too", "[integration][firehose_api]") {
  ApiServer f(KeysConfig() + "[[stream]]\nname = \"other\"\n");
  const std::string addr = "127.0.0.1:" + std::to_string(f.server->port());
  std::ofstream(f.tmp.Sub("in.txt")) << "binary-1\nbinary-2\n";
  auto put = [&](const std::string& stream, const std::string& token) {
    std::vector<std::string> argv = {test::BinaryPath("sluice"), "put", "--addr", addr, "--stream", stream};
    if (!token.empty()) argv.insert(argv.end(), {"--auth-token", token});
    return test::RunCommand(argv, nullptr, nullptr, f.tmp.Sub("in.txt"));
  };
  CHECK(put("api", std::string(kProducerId) + ":" + kProducerSecret) == 0);
  CHECK(put("api", "") != 0);
  CHECK(put("api", std::string(kProducerId) + ":wrong") != 0);
  CHECK(put("other", std::string(kProducerId) + ":" + kProducerSecret) != 0);  // not its stream
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == 2; }));
  CHECK(test::DeliveredRecords(f.delivered) == std::vector<std::string>{"binary-1", "binary-2"});
}

TEST_CASE("Firehose API: boto3 creates, describes, updates and deletes a stream", "[integration][firehose_api]") {
  if (!HaveBoto3())
    SLUICE_SKIP("Debian's python3-boto3 is not installed (scripts/setup installs it)");
  ApiServer f;
  std::string out, err;
  int rc = test::RunCommand({"/usr/bin/python3", test::SourcePath("tests/clients/firehose_boto3_control.py"),
                             "http://127.0.0.1:" + std::to_string(f.server->http_port())},
                            &out, &err);
  INFO(out << err);
  REQUIRE(rc == 0);
  // AllowForceDelete moved the undelivered record to the stream's backup store (never dropped).
  const std::string backup = f.tmp.Sub("data") + "/backup/made";
  REQUIRE(WaitFor([&] {
    for (const std::string& file : test::DeliveredFiles(backup))
      if (file.ends_with(".sseg")) return true;
    return false;
  }));
}

TEST_CASE("Firehose API: a directory stream made through the API delivers (the Sluice extension)", "[integration][firehose_api]") {
  ApiServer f;
  RawSocket s(f.server->http_port());
  REQUIRE(s.Send(Request("CreateDeliveryStream",
                         "{\"DeliveryStreamName\":\"local\",\"DirectoryDestinationConfiguration\":{\"Prefix\":\"p/\","
                         "\"BufferingHints\":{\"SizeInMBs\":1,\"IntervalInSeconds\":0},\"ProcessingConfiguration\":"
                         "{\"Enabled\":true,\"Processors\":[{\"Type\":\"AppendDelimiterToRecord\"}]}}}") +
                 Request("PutRecordBatch", "{\"DeliveryStreamName\":\"local\",\"Records\":[{\"Data\":\"" +
                                               server::Base64Encode("one") + "\"},{\"Data\":\"" +
                                               server::Base64Encode("two") + "\"}]}") +
                 Request("CreateDeliveryStream", "{\"DeliveryStreamName\":\"x\",\"DirectoryDestinationConfiguration\":{},"
                                                 "\"ExtendedS3DestinationConfiguration\":{}}") +
                 Request("CreateDeliveryStream", "{\"DeliveryStreamName\":\"x\"}") +
                 Request("CreateDeliveryStream", "{\"DeliveryStreamName\":\"x\",\"Tags\":[],"
                                                 "\"DirectoryDestinationConfiguration\":{}}")));
  bool closed = false;
  auto r = ReadResponses(s, 5, &closed);
  REQUIRE(r.size() == 5);
  CHECK(Body(r[0]) == "{\"DeliveryStreamARN\":\"arn:sluice:firehose:local:0:deliverystream/local\"}");
  CHECK(Body(r[1]).find("\"FailedPutCount\":0") != std::string::npos);  // the answer before it is in order
  CHECK(Body(r[2]).find("exactly one destination") != std::string::npos);
  CHECK(Body(r[3]).find("the request needs one destination: DirectoryDestinationConfiguration, "
                        "ExtendedS3DestinationConfiguration, HttpEndpointDestinationConfiguration") != std::string::npos);
  CHECK(Body(r[4]).find("Value '<0 tags>' at 'tags'") != std::string::npos);
  const std::string root = f.tmp.Sub("data") + "/delivered/local";
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(root).size() == 2; }));
  CHECK(test::DeliveredRecords(root) == std::vector<std::string>{"one", "two"});
  CHECK(test::DeliveredFiles(root)[0].rfind("p/", 0) == 0);
}

TEST_CASE("Firehose API: Redshift, OpenSearch and Splunk configurations create postgres, opensearch and splunk streams", "[integration][firehose_api]") {
  ApiServer f;
  RawSocket s(f.server->http_port());
  REQUIRE(s.Send(
      Request("CreateDeliveryStream",
              "{\"DeliveryStreamName\":\"pg\",\"RedshiftDestinationConfiguration\":{\"ClusterJDBCURL\":"
              "\"jdbc:postgresql://127.0.0.1:5432/db\",\"Username\":\"loader\",\"Password\":\"hunter22\",\"CopyCommand\":"
              "{\"DataTableName\":\"events\",\"DataTableColumns\":\"a,b\",\"CopyOptions\":\"NULL ''\"}}}") +
      Request("CreateDeliveryStream",
              "{\"DeliveryStreamName\":\"os\",\"AmazonopensearchserviceDestinationConfiguration\":{\"ClusterEndpoint\":"
              "\"https://search:9200\",\"IndexName\":\"logs\",\"IndexRotationPeriod\":\"OneHour\","
              "\"DocumentIdOptions\":{\"DefaultDocumentIdFormat\":\"NO_DOCUMENT_ID\"}}}") +
      Request("CreateDeliveryStream",
              "{\"DeliveryStreamName\":\"sp\",\"SplunkDestinationConfiguration\":{\"HECEndpoint\":\"https://splunk:8088\","
              "\"HECEndpointType\":\"Event\",\"HECToken\":\"tok-123\",\"HECAcknowledgmentTimeoutInSeconds\":300}}") +
      Request("DescribeDeliveryStream", "{\"DeliveryStreamName\":\"pg\"}") +
      Request("DescribeDeliveryStream", "{\"DeliveryStreamName\":\"os\"}") +
      Request("DescribeDeliveryStream", "{\"DeliveryStreamName\":\"sp\"}")));
  bool closed = false;
  auto r = ReadResponses(s, 6, &closed);
  REQUIRE(r.size() == 6);
  for (int i = 0; i < 3; i++) CHECK(Status(r[i]) == 200);
  CHECK(Body(r[3]).find("\"RedshiftDestinationDescription\":{\"ClusterJDBCURL\":\"jdbc:postgresql://127.0.0.1:5432/db\","
                        "\"Username\":\"loader\"") != std::string::npos);
  CHECK(Body(r[3]).find("\"CopyCommand\":{\"DataTableName\":\"events\",\"DataTableColumns\":\"a,b\",\"CopyOptions\":\"NULL ''\"}") !=
        std::string::npos);
  CHECK(Body(r[3]).find("hunter22") == std::string::npos);  // passwords are never described
  CHECK(Body(r[4]).find("\"IndexRotationPeriod\":\"OneHour\"") != std::string::npos);
  CHECK(Body(r[4]).find("\"DefaultDocumentIdFormat\":\"NO_DOCUMENT_ID\"") != std::string::npos);
  CHECK(Body(r[5]).find("\"HECEndpointType\":\"Event\"") != std::string::npos);
  CHECK(Body(r[5]).find("tok-123") == std::string::npos);
  // The admin port sees the same streams and settings.
  const std::string pg = test::AdminAsk(f.server->admin_port(), "STREAM DESCRIBE pg\r\n");
  CHECK(pg.find("postgres.table") != std::string::npos);
  CHECK(pg.find("events") != std::string::npos);
  CHECK(test::AdminAsk(f.server->admin_port(), "STREAM DESCRIBE sp\r\n").find("splunk.ack_timeout_s") != std::string::npos);
}

TEST_CASE("Firehose API: the AWS SDK for JavaScript v3 signs, puts, describes and manages streams", "[integration][firehose_api]") {
  const std::string node = test::NodePath();
  if (node.empty()) SLUICE_SKIP("Node.js is not installed (scripts/setup installs it)");
  if (!std::filesystem::exists(test::SourcePath("tests/peers/node_modules/@aws-sdk/client-firehose")))
    SLUICE_SKIP("@aws-sdk/client-firehose is not installed in tests/peers (scripts/setup installs it)");
  ApiServer f(KeysConfig());
  std::string out, err;
  const std::string expected = f.tmp.Sub("expected.json");
  int rc = test::RunCommand({node, test::SourcePath("tests/peers/firehose_sdk_client.js"),
                             "http://127.0.0.1:" + std::to_string(f.server->http_port()), kAdminId, kAdminSecret, "api",
                             expected},
                            &out, &err);
  INFO(out << err);
  REQUIRE(rc == 0);
  simdjson::dom::parser parser;
  simdjson::dom::array list;
  REQUIRE(parser.load(expected).get_array().get(list) == simdjson::SUCCESS);
  std::vector<std::string> want;
  for (auto e : list) want.emplace_back(std::string_view(e.get_string()));
  REQUIRE(want.size() == 501);
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered).size() == want.size(); }));
  CHECK(test::DeliveredRecords(f.delivered) == want);
}

TEST_CASE("Firehose API: every PutRecordBatch answered 200 is delivered after kill -9 and a restart", "[integration][firehose_api]") {
  ApiServer f;
  std::set<std::string> acked;
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::thread killer([&] {
    // After the first answer (a loaded host may take longer than a fixed sleep to give one),
    // then a while more: SIGKILL while batches are in flight.
    for (int i = 0; i < 3000 && answered == 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    f.server->Kill();
    stop = true;
  });
  int batch_no = 0;
  while (!stop) {
    RawSocket s(f.server->http_port());
    if (!s.connected()) break;
    bool closed = false;
    while (!stop && !closed) {
      std::vector<std::string> records;
      std::string body = "{\"DeliveryStreamName\":\"api\",\"Records\":[";
      for (int i = 0; i < 500; i++) {
        records.push_back("b" + std::to_string(batch_no) + "-" + std::to_string(i));
        body += std::string(i ? "," : "") + "{\"Data\":\"" + server::Base64Encode(records.back()) + "\"}";
      }
      body += "]}";
      batch_no++;
      if (!s.Send(Request("PutRecordBatch", body))) break;
      auto r = ReadResponses(s, 1, &closed);
      if (r.size() != 1 || Status(r[0]) != 200) break;
      REQUIRE(Body(r[0]).find("\"FailedPutCount\":0") != std::string::npos);
      acked.insert(records.begin(), records.end());
      answered++;
    }
  }
  killer.join();
  REQUIRE(acked.size() >= 500);  // the drill must have put something
  REQUIRE(f.server->Start());
  REQUIRE(WaitFor([&] {
    auto got = test::DeliveredRecords(f.delivered);
    std::set<std::string> delivered(got.begin(), got.end());
    return std::includes(delivered.begin(), delivered.end(), acked.begin(), acked.end());
  }));
}
