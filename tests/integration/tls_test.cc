// Integration: TLS on the three ports, with a test CA made by the openssl CLI: the Firehose API
// with boto3 and the AWS CLI over HTTPS, the admin port with redis-cli --tls, the put port with
// `sluice put --tls` and with openssl s_client carrying binary frames; plain clients on TLS
// ports; SIGHUP swaps the certificate.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "protocol/frame.h"
#include "protocol/messages.h"
#include "tests/support/delivered.h"
#include "tests/support/peer.h"
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

// A CA and a server certificate for 127.0.0.1 with common name `cn`, under `dir`.
bool MakeCertificates(const std::string& dir, const std::string& cn) {
  auto run = [](std::vector<std::string> argv) { return test::RunCommand(argv) == 0; };
  std::ofstream(dir + "/ext.cnf") << "subjectAltName=IP:127.0.0.1\n";
  return (std::filesystem::exists(dir + "/ca.pem") ||
          run({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/ca.key", "-out",
               dir + "/ca.pem", "-days", "2", "-subj", "/CN=sluice-test-ca"})) &&
         run({"/usr/bin/openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/server.key", "-out",
              dir + "/server.csr", "-subj", "/CN=" + cn}) &&
         run({"/usr/bin/openssl", "x509", "-req", "-in", dir + "/server.csr", "-CA", dir + "/ca.pem", "-CAkey", dir + "/ca.key",
              "-CAcreateserial", "-out", dir + "/server.pem", "-days", "2", "-extfile", dir + "/ext.cnf"});
}

struct TlsServer {
  TempDir tmp;
  std::unique_ptr<TestServer> server;
  std::string ca;
  bool ok = false;
  explicit TlsServer(const std::string& extra_config = "") {
    if (!MakeCertificates(tmp.path(), "sluice-one")) return;
    ca = tmp.Sub("ca.pem");
    std::ofstream(tmp.Sub("sluice.toml")) << "tls_ports = [\"put\", \"admin\", \"http\"]\ntls_cert_file = \""
                                          << tmp.Sub("server.pem") << "\"\ntls_key_file = \"" << tmp.Sub("server.key")
                                          << "\"\n" << extra_config
                                          << "[[stream]]\nname = \"api\"\nappend_delimiter = true\n"
                                             "buffering = { size_mib = 1, interval_s = 0 }\n";
    server = std::make_unique<TestServer>(tmp.Sub("data"), std::vector<std::string>{"--config", tmp.Sub("sluice.toml")});
    ok = server->Start();
  }
  std::string delivered() { return tmp.Sub("data") + "/delivered/api"; }
};

// The subject line `openssl s_client` prints for the server's certificate.
std::string PeerSubject(uint16_t port, const std::string& ca) {
  std::string out, err;
  test::RunCommand({"/bin/sh", "-c", "openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -CAfile " + ca +
                                    " </dev/null 2>/dev/null | openssl x509 -noout -subject"},
                   &out, &err);
  return out;
}

}  // namespace

TEST_CASE("TLS: the Firehose API over HTTPS with boto3 and the AWS CLI", "[integration][tls]") {
  if (test::RunCommand({"/usr/bin/openssl", "version"}) != 0) SLUICE_SKIP("the openssl CLI is not installed");
  TlsServer f;
  REQUIRE(f.ok);
  const std::string endpoint = "https://127.0.0.1:" + std::to_string(f.server->http_port());
  if (std::filesystem::exists("/usr/bin/python3") && test::RunCommand({"/usr/bin/python3", "-c", "import boto3"}) == 0) {
    std::string out, err;
    int rc = test::RunCommand(
        {"/usr/bin/python3", "-c",
         "import boto3,sys\n"
         "c = boto3.client('firehose', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='a',"
         " aws_secret_access_key='b', verify=sys.argv[2])\n"
         "r = c.put_record_batch(DeliveryStreamName='api', Records=[{'Data': b'tls-boto3'}])\n"
         "assert r['FailedPutCount'] == 0, r\n"
         "print('ok')\n",
         endpoint, f.ca},
        &out, &err);
    INFO(out << err);
    CHECK(rc == 0);
  }
  if (std::filesystem::exists("/usr/bin/aws")) {
    std::string out, err;
    int rc = test::RunCommand({"/usr/bin/env", "HOME=" + f.tmp.Sub("home"), "AWS_ACCESS_KEY_ID=a",
                               "AWS_SECRET_ACCESS_KEY=b", "AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null",
                               "/usr/bin/aws", "--endpoint-url", endpoint, "--ca-bundle", f.ca, "firehose", "put-record",
                               "--delivery-stream-name", "api", "--record", "Data=dGxzLWNsaQ=="},
                              &out, &err);
    INFO(out << err);
    CHECK(rc == 0);
  }
  // A client that does not trust the certificate refuses it; one speaking plain HTTP gets nothing.
  {
    RawSocket plain(f.server->http_port());
    plain.Send("POST / HTTP/1.1\r\nX-Amz-Target: Firehose_20150804.ListDeliveryStreams\r\nContent-Length: 2\r\n\r\n{}");
    bool closed = false;
    std::string got = plain.ReadUntilClose(5000, &closed);
    CHECK(got.find("HTTP/1.1 200") == std::string::npos);
    CHECK(closed);
  }
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered()).size() >= 1; }));
}

TEST_CASE("TLS: the AWS SDK for JavaScript v3 signs over HTTPS, and the AWS CLI manages a stream", "[integration][tls]") {
  if (test::RunCommand({"/usr/bin/openssl", "version"}) != 0) SLUICE_SKIP("the openssl CLI is not installed");
  const std::string node = test::NodePath();
  if (node.empty() || !std::filesystem::exists(test::SourcePath("tests/peers/node_modules/@aws-sdk/client-firehose")))
    SLUICE_SKIP("Node.js or @aws-sdk/client-firehose is not installed (scripts/setup installs them)");
  TlsServer f("[[access_key]]\nid = \"AKIDTLSADMIN00000001\"\nsecret = \"tls-secret\"\noperations = [\"*\"]\n");
  REQUIRE(f.ok);
  const std::string endpoint = "https://127.0.0.1:" + std::to_string(f.server->http_port());
  std::string out, err;
  int rc = test::RunCommand({"/usr/bin/env", "NODE_EXTRA_CA_CERTS=" + f.ca, node,
                             test::SourcePath("tests/peers/firehose_sdk_client.js"), endpoint, "AKIDTLSADMIN00000001",
                             "tls-secret", "api", f.tmp.Sub("expected.json")},
                            &out, &err);
  INFO(out << err);
  CHECK(rc == 0);
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered()).size() == 501; }));
  if (!std::filesystem::exists("/usr/bin/aws")) return;
  auto aws = [&](std::vector<std::string> args, const std::string& secret) {
    std::vector<std::string> argv = {"/usr/bin/env", "HOME=" + f.tmp.Sub("home"), "AWS_ACCESS_KEY_ID=AKIDTLSADMIN00000001",
                                     "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_DEFAULT_REGION=us-east-1",
                                     "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "/usr/bin/aws",
                                     "--endpoint-url", endpoint, "--ca-bundle", f.ca, "--output", "json", "firehose"};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::RunCommand(argv, &out, &err);
  };
  CHECK(aws({"create-delivery-stream", "--delivery-stream-name", "cli-made", "--extended-s3-destination-configuration",
             "RoleARN=arn:aws:iam::0:role/x,BucketARN=arn:aws:s3:::cli-bucket,Prefix=cli/"},
            "tls-secret") == 0);
  CHECK(aws({"describe-delivery-stream", "--delivery-stream-name", "cli-made"}, "tls-secret") == 0);
  CHECK(out.find("\"BucketARN\": \"arn:aws:s3:::cli-bucket\"") != std::string::npos);
  CHECK(aws({"list-delivery-streams"}, "wrong") != 0);
  CHECK(err.find("InvalidSignatureException") != std::string::npos);
  CHECK(aws({"delete-delivery-stream", "--delivery-stream-name", "cli-made"}, "tls-secret") == 0);
}

TEST_CASE("TLS: the admin port with redis-cli --tls and the put port with binary frames", "[integration][tls]") {
  if (test::RunCommand({"/usr/bin/openssl", "version"}) != 0) SLUICE_SKIP("the openssl CLI is not installed");
  TlsServer f;
  REQUIRE(f.ok);
  std::string out, err;
  int rc = test::RunCommand({"/usr/bin/redis-cli", "--tls", "--cacert", f.ca, "-p", std::to_string(f.server->admin_port()),
                             "PING"},
                            &out, &err);
  INFO(out << err);
  CHECK(rc == 0);
  CHECK(out == "PONG\n");
  // Put port: a Hello and a PutRecordBatch through openssl s_client; the acks come back decrypted.
  std::string frames;
  proto::EncodeHello(1, "tls-test", "", &frames);
  proto::PutRecordBatchEncoder enc;
  std::vector<std::string_view> records = {"tls-put-1", "tls-put-2"};
  std::string batch;
  enc.Encode(2, "api", records, &batch);
  frames += batch;
  std::ofstream(f.tmp.Sub("frames.bin"), std::ios::binary) << frames;
  rc = test::RunCommand({"/bin/sh", "-c", "(cat " + f.tmp.Sub("frames.bin") + "; sleep 2) | openssl s_client -quiet -no_ign_eof -connect 127.0.0.1:" +
                                         std::to_string(f.server->port()) + " -CAfile " + f.ca + " 2>/dev/null"},
                        &out, &err);
  std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(out.data()), out.size());
  std::vector<proto::MessageType> types;
  while (true) {
    auto frame = proto::DecodeFrame(in, 1 << 20);
    if (!frame.ok() || !frame.value().has_value()) break;
    types.push_back(frame.value()->header.type);
    in = in.subspan(frame.value()->size());
  }
  REQUIRE(types.size() == 2);
  CHECK(types[0] == proto::MessageType::kHelloAck);
  CHECK(types[1] == proto::MessageType::kPutRecordBatchResponse);
  // The sluice CLI (libsluice) with --tls: verified against the CA, refused without it.
  std::ofstream(f.tmp.Sub("lines.txt")) << "tls-cli-1\ntls-cli-2\n";
  const std::string addr = "127.0.0.1:" + std::to_string(f.server->port());
  CHECK(test::RunCommand({test::BinaryPath("sluice"), "put", "--addr", addr, "--stream", "api", "--tls", "--ca-file", f.ca},
                         &out, &err, f.tmp.Sub("lines.txt")) == 0);
  CHECK(test::RunCommand({test::BinaryPath("sluice"), "put", "--addr", addr, "--stream", "api", "--tls"}, &out, &err,
                         f.tmp.Sub("lines.txt")) != 0);  // the test CA is not among the system's
  CHECK(err.find("not trusted") != std::string::npos);
  CHECK(test::RunCommand({test::BinaryPath("sluice"), "put", "--addr", addr, "--stream", "api"}, &out, &err,
                         f.tmp.Sub("lines.txt")) != 0);  // plain on a TLS port
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(f.delivered()).size() == 4; }));
  auto got = test::DeliveredRecords(f.delivered());
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"tls-cli-1", "tls-cli-2", "tls-put-1", "tls-put-2"});
}

TEST_CASE("TLS: SIGHUP re-reads the certificate for new connections", "[integration][tls]") {
  if (test::RunCommand({"/usr/bin/openssl", "version"}) != 0) SLUICE_SKIP("the openssl CLI is not installed");
  TlsServer f;
  REQUIRE(f.ok);
  CHECK(PeerSubject(f.server->http_port(), f.ca).find("sluice-one") != std::string::npos);
  REQUIRE(MakeCertificates(f.tmp.path(), "sluice-two"));
  kill(f.server->pid(), SIGHUP);
  REQUIRE(WaitFor([&] { return PeerSubject(f.server->http_port(), f.ca).find("sluice-two") != std::string::npos; },
                  std::chrono::seconds(10)));
  CHECK(PeerSubject(f.server->admin_port(), f.ca).find("sluice-two") != std::string::npos);
}
