// WireError tables and the one Status <-> WireError mapping.
#include "protocol/error_codes.h"

#include <string>

namespace sluice::proto {

std::string_view WireErrorName(WireError e) {
  switch (e) {
#define SLUICE_WIRE_ERROR(num, name, retryable, msg) \
  case WireError::name: return std::string_view(#name).substr(1);
#include "protocol/error_codes.def"
#undef SLUICE_WIRE_ERROR
  }
  return "Unknown";
}

std::string_view WireErrorMeaning(WireError e) {
  switch (e) {
#define SLUICE_WIRE_ERROR(num, name, retryable, msg) \
  case WireError::name: return msg;
#include "protocol/error_codes.def"
#undef SLUICE_WIRE_ERROR
  }
  return "unknown error code";
}

bool IsRetryable(WireError e) {
  switch (e) {
#define SLUICE_WIRE_ERROR(num, name, retryable, msg) \
  case WireError::name: return retryable;
#include "protocol/error_codes.def"
#undef SLUICE_WIRE_ERROR
  }
  return false;
}

WireError ToWireError(const base::Status& status) {
  using base::Code;
  switch (status.code()) {
    case Code::kOk: return WireError::kOk;
    case Code::kInvalidArgument: return WireError::kInvalidRequest;
    case Code::kNotFound: return WireError::kUnknownStream;
    case Code::kTooLarge: return WireError::kBatchTooLarge;
    case Code::kThrottled: return WireError::kThrottled;
    case Code::kIOError:
    case Code::kCorruption: return WireError::kStorageFailure;
    case Code::kUnavailable: return WireError::kThrottled;
    case Code::kShuttingDown: return WireError::kShuttingDown;
    case Code::kUnauthenticated: return WireError::kUnauthenticated;
    case Code::kAlreadyExists:
    case Code::kBusy:
    case Code::kInternal: return WireError::kInternal;
  }
  return WireError::kInternal;
}

base::Status FromWire(uint16_t code, std::string_view message) {
  using base::Code;
  auto e = static_cast<WireError>(code);
  Code c = Code::kInvalidArgument;
  switch (e) {
    case WireError::kOk: return base::Status::Ok();
    case WireError::kThrottled: c = Code::kThrottled; break;
    case WireError::kStorageFailure: c = Code::kIOError; break;
    case WireError::kShuttingDown: c = Code::kShuttingDown; break;
    case WireError::kTimeout:
    case WireError::kTooManyConnections: c = Code::kUnavailable; break;
    case WireError::kUnauthenticated: c = Code::kUnauthenticated; break;
    case WireError::kUnknownStream: c = Code::kNotFound; break;
    case WireError::kRecordTooLarge:
    case WireError::kBatchTooLarge:
    case WireError::kFrameTooLarge: c = Code::kTooLarge; break;
    case WireError::kInternal: c = Code::kInternal; break;
    default: break;
  }
  // The wire name leads the message unless Status::ToString would print the same name anyway
  // ("Unauthenticated: Unauthenticated: ..." said it twice).
  std::string_view wire = WireErrorName(e);
  if (wire == base::ToString(c)) return {c, std::string(message)};
  return {c, std::string(wire) + ": " + std::string(message)};
}

}  // namespace sluice::proto
