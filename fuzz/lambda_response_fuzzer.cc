// Fuzz target: a transformation function's answer is untrusted. The Lambda response validator
// must classify anything without crashing; when it accepts, every record sent has exactly one
// result and Ok records carry decoded data. The jq extractor gets the same bytes as a record.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/processing/deaggregate.h"
#include "server/processing/jq_extractor.h"
#include "server/processing/lambda.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::server;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  static const std::vector<std::string> ids = {"0000000100000000000000000001-0", "0000000100000000000000000001-1",
                                               "0000000100000000000000000001-2"};
  std::vector<LambdaOutput> out;
  LambdaFailure failure;
  if (ParseLambdaResponse(body, ids, &out, &failure)) {
    if (out.size() != ids.size()) __builtin_trap();
    for (const LambdaOutput& o : out)
      if (o.keys.size() > kMaxPartitionKeys || o.data.size() > body.size()) __builtin_trap();
  } else if (failure.code.rfind("Lambda.", 0) != 0 || failure.message.size() > 4096) {
    __builtin_trap();
  }
  static JqExtractor jq("{a: .a, b: (.b | tostring)}");
  auto keys = jq.Extract(body);
  if (keys.ok() && keys->size() != 2) __builtin_trap();
  std::vector<std::string_view> pieces;
  if (DeAggregate(ProcessingSpec::DeAggregation::kJson, "", body, &pieces).ok())
    for (std::string_view p : pieces)
      if (p.empty() || p.front() != '{' || p.back() != '}') __builtin_trap();
  return 0;
}
