// Fuzz target: untrusted bytes -> frame decoder -> per-type body verification.
#include <cstdint>
#include <cstring>
#include <vector>

#include "protocol/frame.h"
#include "protocol/verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::proto;
  std::span<const uint8_t> buf(data, size);
  std::vector<uint64_t> aligned;
  Limits limits;
  // Walk every frame, as a connection's read loop does.
  while (true) {
    auto frame = DecodeFrame(buf, limits.MaxFrameBody());
    if (!frame.ok() || !frame.value().has_value()) break;
    const Frame& f = *frame.value();
    aligned.assign(f.body.size() / 8 + 1, 0);
    std::memcpy(aligned.data(), f.body.data(), f.body.size());
    std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(aligned.data()), f.body.size());
    switch (f.header.type) {
      case MessageType::kHello: VerifyHello(body).IgnoreError(); break;  // result unused: crash-only check
      case MessageType::kHelloAck: VerifyHelloAck(body).IgnoreError(); break;
      case MessageType::kPutRecordBatch: {
        auto b = VerifyPutRecordBatch(body, limits);
        if (b.ok()) {
          size_t total = 0;
          for (const auto* r : *b.value()->records()) total += r->data() ? r->data()->size() : 0;
          if (total > limits.max_batch_bytes) __builtin_trap();
        }
        break;
      }
      case MessageType::kPutRecordBatchResponse: VerifyPutRecordBatchResponse(body).IgnoreError(); break;
      case MessageType::kError: VerifyError(body).IgnoreError(); break;
      case MessageType::kDescribeCluster: VerifyDescribeCluster(body).IgnoreError(); break;
      case MessageType::kDescribeClusterResponse: {
        auto r = VerifyDescribeClusterResponse(body);
        if (r.ok())
          for (const auto* m : *r.value()->members())
            if (m->node()->size() == 0 || m->address()->size() < 3) __builtin_trap();
        break;
      }
    }
    buf = buf.subspan(f.size());
  }
  return 0;
}
