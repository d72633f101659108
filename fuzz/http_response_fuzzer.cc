// Fuzz target: a destination's answer is untrusted. The HTTP endpoint's response classifier
// (status + JSON body) and the S3 XML reader must classify anything without crashing, and only
// a 200 with a body (which must echo the request id) may count as delivered.
#include <cstdint>
#include <string>
#include <string_view>

#include "server/delivery/destinations/http/http_endpoint_destination.h"
#include "server/delivery/destinations/s3/s3_destination.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::server;
  if (size < 2) return 0;
  static const long kStatuses[] = {0, 200, 201, 204, 301, 400, 403, 404, 413, 429, 500, 503};
  HttpResponse r;
  r.status = kStatuses[data[0] % (sizeof(kStatuses) / sizeof(kStatuses[0]))];
  r.timed_out = data[1] & 1;
  r.too_large = data[1] & 2;
  r.error = r.status == 0 ? "fuzzed failure" : "";
  r.body.assign(reinterpret_cast<const char*>(data + 2), size - 2);
  DeliveryResult d = ClassifyHttpEndpointResponse(r, "0000000100000000000000000001");
  if (d.outcome == Outcome::kOk && (r.status != 200 || r.body.empty())) __builtin_trap();
  if (d.outcome == Outcome::kFail && r.status != 413) __builtin_trap();
  if (d.message.size() > 16384) __builtin_trap();
  for (const char* tag : {"Code", "Message", "UploadId", "ETag"}) {
    std::string v = XmlValue(r.body, tag);
    if (v.size() > r.body.size()) __builtin_trap();
  }
  return 0;
}
