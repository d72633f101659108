// Fuzz target: the Firehose API port's input path without the socket: bytes in arbitrary
// pieces -> HttpRequestParser (llhttp, limits) -> for each complete request: operation name,
// SigV4 verification against a configured key, the PutRecord/PutRecordBatch body (JSON, base64,
// limits), and DescribeDeliveryStream/ListDeliveryStreams against a small stream set. Checks
// that nothing crashes, every limit holds, and an error ends the stream.
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "server/http/firehose_api.h"
#include "server/http/request_parser.h"
#include "server/http/sigv4.h"

namespace {

using namespace sluice::server;

struct Env {
  StreamRegistry registry;
  std::vector<AccessKey> keys;
};

Env* Setup() {
  auto* env = new Env;
  for (uint32_t id : {1u, 2u}) {
    StreamInfo s;
    s.name = id == 1 ? "s" : "t";
    s.id = id;
    auto cfg = std::make_shared<StreamConfig>();
    cfg->name = s.name;
    s.cfg = cfg;
    env->registry.Put(std::move(s));
  }
  AccessKey k;
  k.id = "AKIDEXAMPLE000000001";
  k.secret = "secret";
  k.streams = {"s"};
  env->keys.push_back(k);
  return env;
}

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Env* env = Setup();
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64;  // feed in pieces, as reads would split it
  const char* in = reinterpret_cast<const char*>(data + 1);
  size_t left = size - 1;
  http::HttpRequestParser parser;
  sluice::server::StreamSetPtr streams = env->registry.Current();
  std::string pending;
  while (left > 0 || !pending.empty()) {
    if (left > 0) {
      size_t n = std::min(piece, left);
      pending.append(in, n);
      in += n;
      left -= n;
    }
    size_t consumed = 0;
    auto event = parser.Feed(pending.data(), pending.size(), &consumed);
    Check(consumed <= pending.size());
    pending.erase(0, consumed);
    if (event == http::HttpRequestParser::Event::kError) {
      Check(parser.error_status() >= 400 && !parser.error_type().empty());
      return 0;
    }
    if (event == http::HttpRequestParser::Event::kContinue) {
      parser.Resume();
      continue;
    }
    if (event == http::HttpRequestParser::Event::kRequest) {
      const http::HttpRequest& r = parser.request();
      Check(r.body.size() <= http::RequestLimits::kMaxBodyBytes);
      Check(r.url.size() <= http::RequestLimits::kMaxUrlBytes);
      Check(r.headers.size() <= http::RequestLimits::kMaxHeaders);
      http::ApiError e;
      http::SignedRequest sr{"POST", r.url, &r.headers, r.body};
      const AccessKey* key = http::VerifySigV4(sr, env->keys, 1796046000000, &e);
      Check(key != nullptr || !e.type.empty());
      std::string out;
      switch (http::ParseOperation(r.target)) {
        case http::Operation::kPutRecord:
        case http::Operation::kPutRecordBatch: {
          http::PutInput put;
          bool single = http::ParseOperation(r.target) == http::Operation::kPutRecord;
          if (!http::ParsePutInput(r.body, !single, &put)) {
            Check(put.count() >= 1 && put.count() <= http::kMaxRecordsPerBatch);
            Check(!single || put.count() == 1);
            Check(put.data.size() <= http::kMaxBatchBytes + http::kMaxRecordBytes);
            for (size_t i = 0; i < put.count(); i++) Check(put.record(i).size() <= http::kMaxRecordBytes);
            if (key) http::Authorized(*key, "PutRecord", put.stream, &e);
          }
          break;
        }
        case http::Operation::kDescribeDeliveryStream:
          (void)http::DescribeDeliveryStream(r.body, *streams, &out);
          (void)http::StreamNameOf(r.body);
          break;
        case http::Operation::kListDeliveryStreams:
          (void)http::ListDeliveryStreams(r.body, *streams, &out);
          break;
        default:
          break;
      }
      parser.Resume();
      continue;
    }
    if (left == 0) break;  // kNeedMore with nothing left to give
  }
  return 0;
}
