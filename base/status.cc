// Status names and formatting.
#include "base/status.h"

namespace sluice::base {

std::string_view ToString(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kNotFound: return "NotFound";
    case Code::kTooLarge: return "TooLarge";
    case Code::kThrottled: return "Throttled";
    case Code::kIOError: return "IOError";
    case Code::kCorruption: return "Corruption";
    case Code::kUnavailable: return "Unavailable";
    case Code::kShuttingDown: return "ShuttingDown";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kBusy: return "Busy";
    case Code::kInternal: return "Internal";
    case Code::kUnauthenticated: return "Unauthenticated";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(base::ToString(code_));
  if (!msg_.empty()) {
    out += ": ";
    out += msg_;
  }
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += msg_;
  return Status(code_, std::move(msg));
}

}  // namespace sluice::base
