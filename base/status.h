// Status and Result<T>: the error vocabulary of every Sluice module.
//
// A Status is a Code plus a human message. Codes are stable numbers (append-only; a retired
// number stays reserved) because protocol/error_codes.def maps them onto the wire. Both types
// are [[nodiscard]]: dropping an error on purpose is written `.IgnoreError()` with a comment.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "base/check.h"

namespace sluice::base {

// Stable numbers: never renumber, never reuse. Keep in step with ToString in status.cc.
enum class Code : uint16_t {
  kOk = 0,
  kInvalidArgument = 1,  // the caller sent something malformed or out of range
  kNotFound = 2,         // a named thing (stream, file) does not exist
  kTooLarge = 3,         // a size limit was exceeded
  kThrottled = 4,        // retry later: a budget is exhausted
  kIOError = 5,          // the OS or the disk failed
  kCorruption = 6,       // stored or received bytes failed a checksum or structure check
  kUnavailable = 7,      // the peer or a resource is temporarily unavailable
  kShuttingDown = 8,     // the process is stopping
  kAlreadyExists = 9,    // a named thing exists already
  kBusy = 10,            // held by someone else (a data dir locked by a running server)
  kInternal = 11,        // a bug: should not happen
  kUnauthenticated = 12, // credentials missing or wrong
};

std::string_view ToString(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(Code code, std::string msg) : code_(code), msg_(std::move(msg)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return msg_; }
  // "<CodeName>: <message>", or "OK".
  std::string ToString() const;
  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;
  // Drops the error deliberately. Say why in a comment at the call site.
  void IgnoreError() const {}

  bool operator==(const Status& other) const = default;

 private:
  Code code_ = Code::kOk;
  std::string msg_;
};

inline Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
inline Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
inline Status TooLarge(std::string msg) { return {Code::kTooLarge, std::move(msg)}; }
inline Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
inline Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
inline Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
inline Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

// Value or Status. A Result made from an ok Status is a bug (checked).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    SLUICE_CHECK(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { SLUICE_CHECK(ok()); return std::get<T>(v_); }
  const T& value() const& { SLUICE_CHECK(ok()); return std::get<T>(v_); }
  T&& value() && { SLUICE_CHECK(ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  void IgnoreError() const {}

 private:
  std::variant<T, Status> v_;
};

}  // namespace sluice::base

#define SLUICE_CONCAT_INNER(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function when it is not ok.
#define RETURN_IF_ERROR(expr)                         \
  do {                                                \
    ::sluice::base::Status _st = (expr);              \
    if (!_st.ok()) return _st;                        \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, F())`: x = value of F(), or return its Status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(SLUICE_CONCAT(_res_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
