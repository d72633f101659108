// Unit tests of the network destinations' pure parts: request bodies, response classification,
// key escaping, XML answers.
#include <catch2/catch.hpp>

#include "server/delivery/destinations/http/http_endpoint_destination.h"
#include "server/delivery/destinations/s3/s3_destination.h"
#include "protocol/sha256.h"

using namespace sluice::server;

TEST_CASE("HTTP endpoint: the request body is the protocol's JSON with base64 records", "[server][http]") {
  std::vector<std::string_view> records = {"hello", "", std::string_view("\0\xff", 2), "a\"b"};
  std::string body = EncodeHttpEndpointBody("req-1", 1578090901599, records);
  CHECK(body ==
        "{\"requestId\":\"req-1\",\"timestamp\":1578090901599,\"records\":["
        "{\"data\":\"aGVsbG8=\"},{\"data\":\"\"},{\"data\":\"AP8=\"},{\"data\":\"YSJi\"}]}");
}

TEST_CASE("HTTP endpoint: only 200 with the echoed requestId delivers", "[server][http]") {
  auto classify = [](long status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return ClassifyHttpEndpointResponse(r, "abc");
  };
  CHECK(classify(200, R"({"requestId":"abc","timestamp":1})").outcome == Outcome::kOk);
  CHECK(classify(200, R"({"requestId":"abc","timestamp":"1"})").outcome == Outcome::kOk);  // tolerant
  CHECK(classify(200, R"({"requestId":"abd","timestamp":1})").outcome == Outcome::kRetry);
  CHECK(classify(200, R"({"timestamp":1})").outcome == Outcome::kRetry);
  CHECK(classify(200, R"({"requestId":7})").outcome == Outcome::kRetry);
  CHECK(classify(200, "").outcome == Outcome::kRetry);
  CHECK(classify(200, R"({"requestId":"abc"} trailing)").outcome == Outcome::kRetry);
  CHECK(classify(200, "[1,2]").outcome == Outcome::kRetry);
  auto too_large = classify(413, R"({"requestId":"abc","errorMessage":"shrink it"})");
  CHECK(too_large.outcome == Outcome::kFail);
  CHECK(too_large.message.find("shrink it") != std::string::npos);
  auto server_error = classify(503, R"({"requestId":"abc","errorMessage":"busy"})");
  CHECK(server_error.outcome == Outcome::kRetry);
  CHECK(server_error.message == "HttpEndpoint.DestinationException: status 503: busy");
  CHECK(classify(302, "").outcome == Outcome::kRetry);  // redirects are not followed
  CHECK(classify(400, "not json").outcome == Outcome::kRetry);
  HttpResponse none;
  none.timed_out = true;
  none.error = "Timeout was reached";
  CHECK(ClassifyHttpEndpointResponse(none, "abc").message.rfind("HttpEndpoint.RequestTimeout", 0) == 0);
  // An errorMessage is kept, but bounded.
  auto huge = classify(500, "{\"requestId\":\"abc\",\"errorMessage\":\"" + std::string(100000, 'x') + "\"}");
  CHECK(huge.message.size() < 9000);
}

TEST_CASE("S3: keys are escaped as AWS does, XML answers are read", "[server][s3]") {
  CHECK(S3EscapeKey("logs/2026/a-b_c.~d.gz") == "logs/2026/a-b_c.~d.gz");
  CHECK(S3EscapeKey("a b+c=d&e") == "a%20b%2Bc%3Dd%26e");
  CHECK(S3EscapeKey("caf\xc3\xa9") == "caf%C3%A9");
  CHECK(XmlValue("<InitiateMultipartUploadResult><UploadId>xyz</UploadId></InitiateMultipartUploadResult>", "UploadId") == "xyz");
  CHECK(XmlValue("<Error><Code>SlowDown</Code></Error>", "Message").empty());
  CHECK(XmlValue("<Code>unterminated", "Code").empty());
  CHECK(sluice::proto::Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  S3Options o;
  o.endpoint = "http://127.0.0.1:4568/";
  o.bucket = "b";
  CHECK(S3Destination(o).ObjectUrl("x/y z") == "http://127.0.0.1:4568/b/x/y%20z");
  o.path_style = false;
  o.endpoint = "https://s3.eu-west-1.amazonaws.com";
  CHECK(S3Destination(o).ObjectUrl("k") == "https://b.s3.eu-west-1.amazonaws.com/k");
}
