// Record de-aggregation.
#include "server/processing/deaggregate.h"

#include <string>

namespace sluice::server {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Returns the end of the JSON object that starts at `i` (a '{'), or npos when its brackets do
// not match.
size_t ObjectEnd(std::string_view r, size_t i) {
  std::string open;  // the closers expected, innermost last
  bool in_string = false;
  for (; i < r.size(); i++) {
    char c = r[i];
    if (in_string) {
      if (c == '\\') i++;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      open.push_back(c == '{' ? '}' : ']');
    } else if (c == '}' || c == ']') {
      if (open.empty() || open.back() != c) return std::string_view::npos;
      open.pop_back();
      if (open.empty()) return i + 1;
    }
  }
  return std::string_view::npos;
}

}  // namespace

base::Status DeAggregate(ProcessingSpec::DeAggregation kind, std::string_view delimiter, std::string_view r,
                         std::vector<std::string_view>* out) {
  size_t start = out->size();
  auto too_many = [&] { return out->size() - start > kMaxSubRecords; };
  if (kind == ProcessingSpec::DeAggregation::kNone) {
    out->push_back(r);
    return base::Status::Ok();
  }
  if (kind == ProcessingSpec::DeAggregation::kDelimited) {
    size_t i = 0;
    while (i <= r.size()) {
      size_t next = delimiter.empty() ? std::string_view::npos : r.find(delimiter, i);
      std::string_view piece = r.substr(i, next == std::string_view::npos ? std::string_view::npos : next - i);
      if (!piece.empty()) out->push_back(piece);
      if (too_many()) break;
      if (next == std::string_view::npos) break;
      i = next + delimiter.size();
    }
  } else {
    size_t i = 0;
    for (;;) {
      while (i < r.size() && IsSpace(r[i])) i++;
      if (i == r.size()) break;
      if (r[i] != '{') {
        out->resize(start);
        return base::InvalidArgument("record is not concatenated JSON objects (byte " + std::to_string(i) + ")");
      }
      size_t end = ObjectEnd(r, i);
      if (end == std::string_view::npos) {
        out->resize(start);
        return base::InvalidArgument("record has an unterminated JSON object at byte " + std::to_string(i));
      }
      out->push_back(r.substr(i, end - i));
      if (too_many()) break;
      i = end;
    }
  }
  if (too_many()) {
    out->resize(start);
    return base::InvalidArgument("record has more than 500 sub-records");
  }
  return base::Status::Ok();
}

}  // namespace sluice::server
