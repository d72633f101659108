// Admin request parsing (inline and RESP) and RESP2 reply encoding.
#include "server/admin/resp.h"

#include <cstring>

namespace sluice::server::admin {
namespace {

base::Status ProtocolError(const std::string& what) { return base::InvalidArgument("Protocol error: " + what); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a decimal integer terminated by CRLF at buf[pos]; returns bytes consumed, 0 if the
// line is incomplete, -1 if malformed.
long ParseLineInt(std::string_view buf, size_t pos, long long* value, size_t max_line) {
  size_t cr = buf.find("\r\n", pos);
  if (cr == std::string_view::npos) return buf.size() - pos > max_line ? -1 : 0;
  std::string_view digits = buf.substr(pos, cr - pos);
  if (digits.empty() || digits.size() > 18) return -1;
  long long v = 0;
  bool neg = false;
  size_t i = 0;
  if (digits[0] == '-') {
    neg = true;
    i = 1;
    if (digits.size() == 1) return -1;
  }
  for (; i < digits.size(); i++) {
    if (digits[i] < '0' || digits[i] > '9') return -1;
    v = v * 10 + (digits[i] - '0');
  }
  *value = neg ? -v : v;
  return static_cast<long>(cr - pos + 2);
}

}  // namespace

base::Result<std::vector<std::string>> SplitInline(std::string_view line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (true) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) i++;
    if (i >= line.size()) return words;
    std::string word;
    bool in_double = false, in_single = false, done = false;
    while (!done) {
      if (i >= line.size()) {
        if (in_double || in_single) return base::InvalidArgument("Protocol error: unbalanced quotes in request");
        break;
      }
      char c = line[i];
      if (in_double) {
        if (c == '\\' && i + 1 < line.size()) {
          char n = line[i + 1];
          if (n == 'x' && i + 3 < line.size() && HexValue(line[i + 2]) >= 0 && HexValue(line[i + 3]) >= 0) {
            word.push_back(static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3])));
            i += 4;
            continue;
          }
          word.push_back(n == 'n' ? '\n' : n == 'r' ? '\r' : n == 't' ? '\t' : n == 'a' ? '\a' : n == 'b' ? '\b' : n);
          i += 2;
          continue;
        }
        if (c == '"') {
          // A closing quote must be followed by a space or the end (redis-cli rule).
          if (i + 1 < line.size() && line[i + 1] != ' ' && line[i + 1] != '\t')
            return base::InvalidArgument("Protocol error: closing quote must be followed by a space");
          done = true;
        } else {
          word.push_back(c);
        }
      } else if (in_single) {
        if (c == '\\' && i + 1 < line.size() && line[i + 1] == '\'') {
          word.push_back('\'');
          i += 2;
          continue;
        }
        if (c == '\'') {
          if (i + 1 < line.size() && line[i + 1] != ' ' && line[i + 1] != '\t')
            return base::InvalidArgument("Protocol error: closing quote must be followed by a space");
          done = true;
        } else {
          word.push_back(c);
        }
      } else if (c == ' ' || c == '\t') {
        done = true;
      } else if (c == '"' && word.empty()) {
        in_double = true;
      } else if (c == '\'' && word.empty()) {
        in_single = true;
      } else {
        word.push_back(c);
      }
      i++;
    }
    words.push_back(std::move(word));
  }
}

base::Result<std::optional<std::vector<std::string>>> RequestParser::Next() {
  if (pos_ >= buf_.size()) {
    Compact();
    return std::optional<std::vector<std::string>>();
  }
  auto r = buf_[pos_] == '*' ? ParseArray() : ParseInline();
  Compact();
  return r;
}

void RequestParser::Compact() {
  if (pos_ == 0) return;
  if (pos_ >= buf_.size()) {
    buf_.clear();
  } else if (pos_ > 64 * 1024) {
    buf_.erase(0, pos_);
  } else {
    return;
  }
  pos_ = 0;
}

base::Result<std::optional<std::vector<std::string>>> RequestParser::ParseInline() {
  size_t nl = buf_.find('\n', pos_);
  if (nl == std::string::npos) {
    if (buf_.size() - pos_ > limits_.max_inline_bytes)
      return ProtocolError("too big inline request (over " + std::to_string(limits_.max_inline_bytes) + " bytes)");
    return std::optional<std::vector<std::string>>();
  }
  if (nl - pos_ > limits_.max_inline_bytes)
    return ProtocolError("too big inline request (over " + std::to_string(limits_.max_inline_bytes) + " bytes)");
  std::string_view line(buf_.data() + pos_, nl - pos_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos_ = nl + 1;
  ASSIGN_OR_RETURN(auto words, SplitInline(line));
  return std::optional<std::vector<std::string>>(std::move(words));
}

base::Result<std::optional<std::vector<std::string>>> RequestParser::ParseArray() {
  std::string_view buf(buf_);
  size_t p = pos_ + 1;
  long long count = 0;
  long n = ParseLineInt(buf, p, &count, 32);
  if (n < 0) return ProtocolError("invalid multibulk length");
  if (n == 0) return std::optional<std::vector<std::string>>();
  if (count < 0 || static_cast<unsigned long long>(count) > limits_.max_args)
    return ProtocolError("invalid multibulk length " + std::to_string(count) + " (at most " +
                         std::to_string(limits_.max_args) + " arguments)");
  p += n;
  std::vector<std::string> args;
  args.reserve(static_cast<size_t>(count));
  size_t total = 0;
  for (long long i = 0; i < count; i++) {
    if (p >= buf.size()) return std::optional<std::vector<std::string>>();
    if (buf[p] != '$') return ProtocolError("expected '$', got '" + std::string(1, buf[p]) + "'");
    long long len = 0;
    long m = ParseLineInt(buf, p + 1, &len, 32);
    if (m < 0) return ProtocolError("invalid bulk length");
    if (m == 0) return std::optional<std::vector<std::string>>();
    if (len < 0 || static_cast<unsigned long long>(len) > limits_.max_bulk_bytes)
      return ProtocolError("invalid bulk length " + std::to_string(len) + " (at most " +
                           std::to_string(limits_.max_bulk_bytes) + " bytes)");
    total += static_cast<size_t>(len);
    if (total > limits_.max_command_bytes) return ProtocolError("command larger than " + std::to_string(limits_.max_command_bytes) + " bytes");
    size_t start = p + 1 + static_cast<size_t>(m);
    if (buf.size() < start + static_cast<size_t>(len) + 2) return std::optional<std::vector<std::string>>();
    if (buf.substr(start + static_cast<size_t>(len), 2) != "\r\n") return ProtocolError("bulk string not terminated by CRLF");
    args.emplace_back(buf.substr(start, static_cast<size_t>(len)));
    p = start + static_cast<size_t>(len) + 2;
  }
  pos_ = p;
  return std::optional<std::vector<std::string>>(std::move(args));
}

void ReplySimple(std::string* out, std::string_view s) {
  out->push_back('+');
  out->append(s);
  out->append("\r\n");
}

void ReplyError(std::string* out, std::string_view msg) {
  out->append("-");
  if (msg.substr(0, 4) != "ERR " && msg.substr(0, 7) != "NOAUTH " && msg.substr(0, 9) != "WRONGPASS") out->append("ERR ");
  for (char c : msg) out->push_back(c == '\r' || c == '\n' ? ' ' : c);
  out->append("\r\n");
}

void ReplyInteger(std::string* out, int64_t v) {
  out->push_back(':');
  out->append(std::to_string(v));
  out->append("\r\n");
}

void ReplyBulk(std::string* out, std::string_view s) {
  out->push_back('$');
  out->append(std::to_string(s.size()));
  out->append("\r\n");
  out->append(s);
  out->append("\r\n");
}

void ReplyNil(std::string* out) { out->append("$-1\r\n"); }

void ReplyArrayHeader(std::string* out, size_t n) {
  out->push_back('*');
  out->append(std::to_string(n));
  out->append("\r\n");
}

}  // namespace sluice::server::admin
