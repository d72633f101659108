// The admin port's wire format: inline commands (telnet, nc) and RESP arrays (redis-cli) in,
// RESP2 replies out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sluice::server::admin {

// Limits on what one client may make the server buffer.
struct RespLimits {
  size_t max_inline_bytes = 64 * 1024;   // one inline command line
  size_t max_args = 1024;                // RESP array length
  size_t max_bulk_bytes = 1u << 20;      // one RESP bulk string
  size_t max_command_bytes = 4u << 20;   // one whole command
};

// Incremental request parser. Feed bytes, then call Next until it returns std::nullopt (needs
// more bytes). A protocol error is final for the connection (the stream cannot be resynced).
// Thread: one owner.
class RequestParser {
 public:
  explicit RequestParser(RespLimits limits = {}) : limits_(limits) {}
  void Feed(std::string_view bytes) { buf_.append(bytes); }
  // Returns the next complete command's words; an empty vector for an empty inline line;
  // std::nullopt when more bytes are needed; kInvalidArgument ("Protocol error: ...") when the
  // input is malformed or over a limit.
  base::Result<std::optional<std::vector<std::string>>> Next();
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  base::Result<std::optional<std::vector<std::string>>> ParseInline();
  base::Result<std::optional<std::vector<std::string>>> ParseArray();
  void Compact();

  RespLimits limits_;
  std::string buf_;
  size_t pos_ = 0;
};

// Splits an inline command line into words: spaces separate, "double quotes" allow \n \r \t
// \\ \" and \xHH escapes, 'single quotes' are literal (redis-cli's rules). Returns
// kInvalidArgument for unbalanced quotes.
base::Result<std::vector<std::string>> SplitInline(std::string_view line);

// RESP2 reply builders; each appends to `out`.
void ReplySimple(std::string* out, std::string_view s);     // +OK
void ReplyError(std::string* out, std::string_view msg);    // -ERR msg (newlines flattened)
void ReplyInteger(std::string* out, int64_t v);             // :42
void ReplyBulk(std::string* out, std::string_view s);       // $3\r\nabc
void ReplyNil(std::string* out);                            // $-1
void ReplyArrayHeader(std::string* out, size_t n);          // *n

}  // namespace sluice::server::admin
