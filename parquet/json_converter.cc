#include "parquet/json_converter.h"

#include <simdjson.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace sluice::parquet {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using Input = ConverterOptions::Input;

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMillisThreshold = 100'000'000'000;  // 12 digits or more: epoch milliseconds

std::string Quote(std::string_view v) {
  std::string s(v.substr(0, 64));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return "'" + s + (v.size() > 64 ? "...'" : "'");
}

// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool ValidDate(int y, int m, int d) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

// A cursor over text for the date and time readers.
struct Scan {
  std::string_view s;
  size_t i = 0;
  bool End() const { return i == s.size(); }
  bool Accept(char c) {
    if (i < s.size() && s[i] == c) {
      i++;
      return true;
    }
    return false;
  }
  // 1..max digits (exactly `min` or more).
  bool Digits(int min, int max, int64_t* out, int* count = nullptr) {
    int n = 0;
    int64_t v = 0;
    while (i < s.size() && n < max && s[i] >= '0' && s[i] <= '9') {
      v = v * 10 + (s[i++] - '0');
      n++;
    }
    if (count) *count = n;
    *out = v;
    return n >= min;
  }
};

struct Civil {
  int64_t year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, nanos = 0, offset_s = 0;
  bool Micros(int64_t* out) const {
    if (!ValidDate(static_cast<int>(year), static_cast<int>(month), static_cast<int>(day)) || hour > 23 ||
        minute > 59 || second > 60)
      return false;
    const int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    *out = ((days * 86400 + hour * 3600 + minute * 60 + second) - offset_s) * kMicrosPerSecond + nanos / 1000;
    return true;
  }
};

bool Fraction(Scan* sc, int max, int64_t* nanos) {
  int64_t f = 0;
  int n = 0;
  if (!sc->Digits(1, max, &f, &n)) return false;
  for (int k = n; k < 9; k++) f *= 10;
  *nanos = f;
  return true;
}

// Z | +HH | +HHMM | +HH:MM (and -).
bool Offset(Scan* sc, int64_t* seconds) {
  if (sc->Accept('Z') || sc->Accept('z')) {
    *seconds = 0;
    return true;
  }
  int sign = sc->Accept('+') ? 1 : sc->Accept('-') ? -1 : 0;
  if (sign == 0) return false;
  int64_t h = 0, m = 0;
  if (!sc->Digits(2, 2, &h)) return false;
  sc->Accept(':');
  if (!sc->End() && std::isdigit(static_cast<unsigned char>(sc->s[sc->i])) && !sc->Digits(2, 2, &m)) return false;
  if (h > 18 || m > 59) return false;
  *seconds = sign * (h * 3600 + m * 60);
  return true;
}

// yyyy-[M]M-[d]d[(T| )[H]H:[m]m[:[s]s[.f{1,9}]]][offset]; `sql` = java.sql.Timestamp.valueOf's
// form only (a space, seconds required, no offset).
bool ParseCivilText(std::string_view text, bool sql, Civil* c) {
  Scan sc{text};
  if (!sc.Digits(4, 4, &c->year) || !sc.Accept('-') || !sc.Digits(1, 2, &c->month) || !sc.Accept('-') ||
      !sc.Digits(1, 2, &c->day))
    return false;
  if (sc.End()) return !sql;
  if (!(sc.Accept(' ') || (!sql && (sc.Accept('T') || sc.Accept('t'))))) return false;
  if (!sc.Digits(1, 2, &c->hour) || !sc.Accept(':') || !sc.Digits(1, 2, &c->minute)) return false;
  if (sc.Accept(':')) {
    if (!sc.Digits(1, 2, &c->second)) return false;
    if (sc.Accept('.') && !Fraction(&sc, 9, &c->nanos)) return false;
  } else if (sql) {
    return false;
  }
  if (!sc.End() && (sql || !Offset(&sc, &c->offset_s))) return false;
  return sc.End();
}

bool EpochMicros(double seconds, int64_t* out) {
  const double us = std::round(seconds * 1e6);
  if (!std::isfinite(us) || std::fabs(us) > 2.5e17) return false;  // about year 9900 either way
  *out = static_cast<int64_t>(us);
  return true;
}

bool EpochInteger(int64_t v, int64_t* out) {
  if (v >= kMillisThreshold || v <= -kMillisThreshold) {
    if (v > std::numeric_limits<int64_t>::max() / 1000 || v < std::numeric_limits<int64_t>::min() / 1000) return false;
    *out = v * 1000;
  } else {
    *out = v * kMicrosPerSecond;
  }
  return true;
}

// A Joda-style pattern, compiled.
struct Pattern {
  enum class Kind { kMillis, kLiteral, kYear, kMonth, kDay, kHour, kMinute, kSecond, kFraction, kOffset };
  struct Token {
    Kind kind;
    std::string literal;
    int width = 0;
  };
  std::vector<Token> tokens;
};

base::Result<Pattern> CompilePattern(std::string_view p) {
  Pattern out;
  if (p == "millis") {
    out.tokens.push_back({Pattern::Kind::kMillis, "", 0});
    return out;
  }
  if (p.empty() || p.size() > 100) return base::InvalidArgument("a timestamp format must be 1..100 characters");
  size_t i = 0;
  while (i < p.size()) {
    char c = p[i];
    if (c == '\'') {  // quoted text; '' is a quote
      std::string lit;
      i++;
      while (true) {
        if (i >= p.size()) return base::InvalidArgument("timestamp format " + Quote(p) + " has an unclosed quote");
        if (p[i] == '\'') {
          if (i + 1 < p.size() && p[i + 1] == '\'') {
            lit.push_back('\'');
            i += 2;
            continue;
          }
          i++;
          break;
        }
        lit.push_back(p[i++]);
      }
      if (lit.empty()) lit = "'";
      out.tokens.push_back({Pattern::Kind::kLiteral, lit, 0});
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < p.size() && p[j] == c) j++;
      const int n = static_cast<int>(j - i);
      Pattern::Kind k;
      int width;
      switch (c) {
        case 'y': case 'Y': k = Pattern::Kind::kYear; width = 4; break;
        case 'M': k = Pattern::Kind::kMonth; width = 2; break;
        case 'd': k = Pattern::Kind::kDay; width = 2; break;
        case 'H': k = Pattern::Kind::kHour; width = 2; break;
        case 'm': k = Pattern::Kind::kMinute; width = 2; break;
        case 's': k = Pattern::Kind::kSecond; width = 2; break;
        case 'S': k = Pattern::Kind::kFraction; width = std::min(n, 9); break;
        case 'Z': case 'X': k = Pattern::Kind::kOffset; width = 0; break;
        default:
          return base::InvalidArgument("timestamp format " + Quote(p) + ": letter '" + std::string(1, c) +
                                       "' is not supported (y M d H m s S Z, 'quoted text', or \"millis\")");
      }
      if (k == Pattern::Kind::kMonth && n > 2)
        return base::InvalidArgument("timestamp format " + Quote(p) + ": month names (MMM) are not supported");
      out.tokens.push_back({k, "", width});
      i = j;
      continue;
    }
    out.tokens.push_back({Pattern::Kind::kLiteral, std::string(1, c), 0});
    i++;
  }
  return out;
}

bool MatchPattern(const Pattern& p, std::string_view text, int64_t* micros) {
  Scan sc{text};
  Civil c;
  for (const Pattern::Token& t : p.tokens) {
    switch (t.kind) {
      case Pattern::Kind::kMillis: {
        int64_t v = 0;
        bool neg = sc.Accept('-');
        if (!sc.Digits(1, 18, &v) || !sc.End()) return false;
        *micros = (neg ? -v : v) * 1000;
        return true;
      }
      case Pattern::Kind::kLiteral:
        if (text.substr(sc.i, t.literal.size()) != t.literal) return false;
        sc.i += t.literal.size();
        break;
      case Pattern::Kind::kYear: if (!sc.Digits(1, 4, &c.year)) return false; break;
      case Pattern::Kind::kMonth: if (!sc.Digits(1, 2, &c.month)) return false; break;
      case Pattern::Kind::kDay: if (!sc.Digits(1, 2, &c.day)) return false; break;
      case Pattern::Kind::kHour: if (!sc.Digits(1, 2, &c.hour)) return false; break;
      case Pattern::Kind::kMinute: if (!sc.Digits(1, 2, &c.minute)) return false; break;
      case Pattern::Kind::kSecond: if (!sc.Digits(1, 2, &c.second)) return false; break;
      case Pattern::Kind::kFraction: if (!Fraction(&sc, 9, &c.nanos)) return false; break;
      case Pattern::Kind::kOffset: if (!Offset(&sc, &c.offset_s)) return false; break;
    }
  }
  return sc.End() && c.Micros(micros);
}

// Decimal text ([+-]digits[.digits][(e|E)[+-]digits]) as an unscaled integer at `scale`, rounded
// half up; false past `precision` digits or for anything else.
bool ParseDecimal(std::string_view t, int precision, int scale, __int128* out) {
  size_t i = 0;
  bool neg = false;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) neg = t[i++] == '-';
  std::string digits;
  int frac = 0;
  bool dot = false, any = false;
  for (; i < t.size(); i++) {
    char c = t[i];
    if (c >= '0' && c <= '9') {
      any = true;
      if (digits.empty() && c == '0') {
        if (dot) frac++;
        continue;  // leading zeros
      }
      if (digits.size() > 80) return false;
      digits.push_back(c);
      if (dot) frac++;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!any) return false;
  int exp = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    i++;
    bool eneg = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) eneg = t[i++] == '-';
    int e = 0, n = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9' && n < 4) e = e * 10 + (t[i++] - '0'), n++;
    if (n == 0) return false;
    exp = eneg ? -e : e;
  }
  if (i != t.size()) return false;
  // value = digits * 10^(exp - frac); unscaled = value * 10^scale.
  int shift = exp - frac + scale;
  __int128 v = 0;
  const __int128 limit = [&] {
    __int128 l = 1;
    for (int k = 0; k < precision; k++) l *= 10;
    return l;
  }();
  if (digits.empty()) {
    *out = 0;
    return true;
  }
  if (shift >= 0) {
    if (static_cast<int>(digits.size()) + shift > precision) return false;
    for (char c : digits) v = v * 10 + (c - '0');
    for (int k = 0; k < shift; k++) v *= 10;
  } else {
    const int keep = static_cast<int>(digits.size()) + shift;  // digits before the rounding point
    if (keep > precision + 1) return false;
    for (int k = 0; k < keep; k++) v = v * 10 + (digits[static_cast<size_t>(k)] - '0');
    if (keep >= 0 && static_cast<size_t>(keep) < digits.size() && digits[static_cast<size_t>(keep)] >= '5') v += 1;
  }
  if (v >= limit) return false;
  *out = neg ? -v : v;
  return true;
}

std::string NormalizeKey(std::string_view key, const ConverterOptions& o) {
  std::string k(key);
  const bool fold = o.input == Input::kHive || o.case_insensitive;
  for (char& c : k) {
    if (fold) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (o.input == Input::kOpenX && o.dots_to_underscores && c == '.') c = '_';
  }
  return k;
}

}  // namespace

base::Result<int64_t> ParseTimestampText(std::string_view text) {
  Civil c;
  int64_t us = 0;
  if (ParseCivilText(text, false, &c) && c.Micros(&us)) return us;
  return base::InvalidArgument("not a timestamp: " + Quote(text));
}

std::vector<std::string> SplitTimestampFormats(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const size_t bar = list.find('|');
    out.emplace_back(list.substr(0, bar));
    if (bar == std::string_view::npos) break;
    list.remove_prefix(bar + 1);
    if (list.empty()) out.emplace_back();  // "a|": an empty format, refused by validation
  }
  return out;
}

base::Status ValidateConverterOptions(const Schema& schema, const ConverterOptions& o) {
  for (const auto& [column, key] : o.column_to_json_key) {
    std::string lower = column;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (!schema.root().by_name.count(lower))
      return base::InvalidArgument("column_to_json_key_mappings names column " + Quote(column) + ", which the schema does not have");
    if (key.empty() || key.size() > 1024)
      return base::InvalidArgument("column_to_json_key_mappings." + column + " must be a key of 1..1024 characters");
  }
  if (o.timestamp_formats.size() > 16) return base::InvalidArgument("at most 16 timestamp formats");
  for (const std::string& f : o.timestamp_formats) RETURN_IF_ERROR(CompilePattern(f).status());
  return base::Status::Ok();
}

struct Converter::Impl {
  const Schema& schema;
  ConverterOptions o;
  std::vector<Pattern> patterns;
  std::unordered_map<std::string, int> top;  // normalised top-level key -> column
  simdjson::dom::parser parser;
  std::string padded;
  std::string scratch;

  Impl(const Schema& s, ConverterOptions options) : schema(s), o(std::move(options)) {
    for (const std::string& f : o.timestamp_formats) patterns.push_back(CompilePattern(f).value());
    const auto& cols = schema.columns();
    for (size_t i = 0; i < cols.size(); i++) {
      auto m = o.input == Input::kOpenX ? o.column_to_json_key.find(cols[i].name) : o.column_to_json_key.end();
      top[m != o.column_to_json_key.end() ? NormalizeKey(m->second, o) : NormalizeKey(cols[i].name, o)] =
          static_cast<int>(i);
    }
  }

  base::Status Fail(const Field& f, const std::string& why) const {
    return base::InvalidArgument("column '" + f.name + "' (" + f.TypeName() + "): " + why);
  }

  void Nulls(const Field& f, int rep, int def, Rows* rows) const {
    for (int l = f.first_leaf; l < f.first_leaf + f.leaf_count; l++) rows->Null(l, rep, def);
  }

  // `v` null means missing.
  base::Status Shred(const Field& f, const element* v, int rep, int parent_def, Rows* rows) {
    if (v == nullptr || v->is_null()) {
      Nulls(f, rep, parent_def, rows);
      return base::Status::Ok();
    }
    switch (f.kind) {
      case Kind::kStruct: {
        simdjson::dom::object obj;
        if (v->get_object().get(obj) != simdjson::SUCCESS) return Fail(f, "expected an object");
        return Struct(f, obj, f.by_name, rep, f.def, rows);
      }
      case Kind::kArray: {
        simdjson::dom::array arr;
        if (v->get_array().get(arr) != simdjson::SUCCESS) return Fail(f, "expected an array");
        if (arr.size() == 0) {
          Nulls(f, rep, f.def, rows);
          return base::Status::Ok();
        }
        int r = rep;
        for (element e : arr) {
          RETURN_IF_ERROR(Shred(f.children[0], &e, r, f.def + 1, rows));
          r = f.rep;
        }
        return base::Status::Ok();
      }
      case Kind::kMap: {
        simdjson::dom::object obj;
        if (v->get_object().get(obj) != simdjson::SUCCESS) return Fail(f, "expected an object (a map)");
        if (obj.size() == 0) {
          Nulls(f, rep, f.def, rows);
          return base::Status::Ok();
        }
        int r = rep;
        for (auto [key, value] : obj) {
          RETURN_IF_ERROR(Text(f.children[0], key, r, rows).WithContext("key"));
          RETURN_IF_ERROR(Shred(f.children[1], &value, r, f.def + 1, rows));
          r = f.rep;
        }
        return base::Status::Ok();
      }
      default:
        return Scalar(f, *v, rep, rows);
    }
  }

  base::Status Struct(const Field& f, simdjson::dom::object obj, const std::unordered_map<std::string, int>& names,
                      int rep, int def, Rows* rows) {
    std::vector<element> slots(f.children.size());
    std::vector<char> present(f.children.size(), 0);
    for (auto [key, value] : obj) {
      auto it = names.find(NormalizeKey(key, o));
      if (it == names.end()) continue;
      slots[static_cast<size_t>(it->second)] = value;  // a repeated key: the last one wins
      present[static_cast<size_t>(it->second)] = 1;
    }
    for (size_t i = 0; i < f.children.size(); i++)
      RETURN_IF_ERROR(Shred(f.children[i], present[i] ? &slots[i] : nullptr, rep, def, rows));
    return base::Status::Ok();
  }

  template <typename T>
  void Put(const Field& f, int rep, T value, Rows* rows) {
    rows->Fixed(f.leaf, rep, f.def, &value, sizeof(T));
  }

  base::Status Integer(const Field& f, int64_t v, int rep, Rows* rows) {
    int64_t lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
    if (f.kind == Kind::kTinyint) lo = -128, hi = 127;
    if (f.kind == Kind::kSmallint) lo = -32768, hi = 32767;
    if (f.kind == Kind::kBigint) lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    if (v < lo || v > hi) return Fail(f, std::to_string(v) + " is out of range");
    if (f.kind == Kind::kBigint) Put<int64_t>(f, rep, v, rows);
    else Put<int32_t>(f, rep, static_cast<int32_t>(v), rows);
    return base::Status::Ok();
  }

  base::Status Decimal(const Field& f, std::string_view text, int rep, Rows* rows) {
    __int128 v = 0;
    if (!ParseDecimal(text, f.precision, f.scale, &v))
      return Fail(f, Quote(text) + " is not a decimal that fits " + f.TypeName());
    int width = 0;
    const Physical p = PhysicalOf(f, &width);
    if (p == Physical::kInt32) Put<int32_t>(f, rep, static_cast<int32_t>(v), rows);
    else if (p == Physical::kInt64) Put<int64_t>(f, rep, static_cast<int64_t>(v), rows);
    else {
      char be[16];
      for (int k = 0; k < width; k++) be[width - 1 - k] = static_cast<char>(static_cast<unsigned __int128>(v) >> (8 * k));
      rows->Fixed(f.leaf, rep, f.def, be, static_cast<size_t>(width));
    }
    return base::Status::Ok();
  }

  base::Status Timestamp(const Field& f, std::string_view text, int rep, Rows* rows) {
    int64_t us = 0;
    if (o.input == Input::kHive && !patterns.empty()) {
      for (const Pattern& p : patterns)
        if (MatchPattern(p, text, &us)) return Put<int64_t>(f, rep, us, rows), base::Status::Ok();
      return Fail(f, Quote(text) + " matches none of the timestamp formats");
    }
    Civil c;
    if (ParseCivilText(text, o.input == Input::kHive, &c) && c.Micros(&us)) {
      Put<int64_t>(f, rep, us, rows);
      return base::Status::Ok();
    }
    if (o.input == Input::kOpenX) {  // epoch numbers in a string
      int64_t iv = 0;
      double dv = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), iv);
      if (ec == std::errc() && p == text.data() + text.size() && EpochInteger(iv, &us))
        return Put<int64_t>(f, rep, us, rows), base::Status::Ok();
      auto [q, ec2] = std::from_chars(text.data(), text.data() + text.size(), dv);
      if (ec2 == std::errc() && q == text.data() + text.size() && EpochMicros(dv, &us))
        return Put<int64_t>(f, rep, us, rows), base::Status::Ok();
    }
    return Fail(f, Quote(text) + " is not a timestamp");
  }

  // A value given as text: a string, or a map's key.
  base::Status Text(const Field& f, std::string_view t, int rep, Rows* rows) {
    const bool openx = o.input == Input::kOpenX;
    const bool key = f.required;  // map keys are text in JSON whatever their type
    switch (f.kind) {
      case Kind::kString:
      case Kind::kBinary:
        rows->Bytes(f.leaf, rep, f.def, t);
        return base::Status::Ok();
      case Kind::kBoolean:
        if ((openx || key) && (t == "true" || t == "TRUE" || t == "True")) return Put<uint8_t>(f, rep, 1, rows), base::Status::Ok();
        if ((openx || key) && (t == "false" || t == "FALSE" || t == "False")) return Put<uint8_t>(f, rep, 0, rows), base::Status::Ok();
        return Fail(f, Quote(t) + " is not a boolean");
      case Kind::kTinyint:
      case Kind::kSmallint:
      case Kind::kInt:
      case Kind::kBigint: {
        int64_t v = 0;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (!(openx || key) || ec != std::errc() || p != t.data() + t.size()) return Fail(f, Quote(t) + " is not an integer");
        return Integer(f, v, rep, rows);
      }
      case Kind::kFloat:
      case Kind::kDouble: {
        double v = 0;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (!(openx || key) || ec != std::errc() || p != t.data() + t.size() || !std::isfinite(v))
          return Fail(f, Quote(t) + " is not a number");
        return Floating(f, v, rep, rows);
      }
      case Kind::kDecimal:
        if (!(openx || key)) return Fail(f, "a decimal must be a JSON number");
        return Decimal(f, t, rep, rows);
      case Kind::kDate: {
        Civil c;
        Scan sc{t};
        if (sc.Digits(4, 4, &c.year) && sc.Accept('-') && sc.Digits(1, 2, &c.month) && sc.Accept('-') &&
            sc.Digits(1, 2, &c.day) && sc.End() &&
            ValidDate(static_cast<int>(c.year), static_cast<int>(c.month), static_cast<int>(c.day)))
          return Put<int32_t>(f, rep, static_cast<int32_t>(DaysFromCivil(c.year, static_cast<unsigned>(c.month),
                                                                          static_cast<unsigned>(c.day))), rows),
                 base::Status::Ok();
        return Fail(f, Quote(t) + " is not a date (yyyy-MM-dd)");
      }
      case Kind::kTimestamp:
        return Timestamp(f, t, rep, rows);
      default:
        return Fail(f, "unexpected text");
    }
  }

  base::Status Floating(const Field& f, double v, int rep, Rows* rows) {
    if (f.kind == Kind::kDouble) {
      Put<double>(f, rep, v, rows);
      return base::Status::Ok();
    }
    if (std::isfinite(v) && std::fabs(v) > std::numeric_limits<float>::max()) return Fail(f, "out of range for float");
    Put<float>(f, rep, static_cast<float>(v), rows);
    return base::Status::Ok();
  }

  base::Status Scalar(const Field& f, const element& v, int rep, Rows* rows) {
    const bool openx = o.input == Input::kOpenX;
    const element_type t = v.type();
    if (t == element_type::STRING) {
      std::string_view s;
      s = v.get_string().value_unsafe();
      return Text(f, s, rep, rows);
    }
    switch (f.kind) {
      case Kind::kString:
        if (t == element_type::OBJECT || t == element_type::ARRAY) {
          if (!openx) return Fail(f, "an object or array is not a string");
        }
        scratch = simdjson::minify(v);
        rows->Bytes(f.leaf, rep, f.def, scratch);
        return base::Status::Ok();
      case Kind::kBoolean:
        if (t != element_type::BOOL) return Fail(f, "expected a boolean");
        return Put<uint8_t>(f, rep, v.get_bool().value_unsafe() ? 1 : 0, rows), base::Status::Ok();
      case Kind::kTinyint:
      case Kind::kSmallint:
      case Kind::kInt:
      case Kind::kBigint:
        if (t == element_type::INT64) return Integer(f, v.get_int64().value_unsafe(), rep, rows);
        if (t == element_type::UINT64) return Fail(f, std::to_string(v.get_uint64().value_unsafe()) + " is out of range");
        if (t == element_type::DOUBLE) return Fail(f, simdjson::minify(v) + " is not an integer");
        return Fail(f, "expected an integer");
      case Kind::kFloat:
      case Kind::kDouble:
        if (t == element_type::INT64) return Floating(f, static_cast<double>(v.get_int64().value_unsafe()), rep, rows);
        if (t == element_type::UINT64) return Floating(f, static_cast<double>(v.get_uint64().value_unsafe()), rep, rows);
        if (t == element_type::DOUBLE) return Floating(f, v.get_double().value_unsafe(), rep, rows);
        return Fail(f, "expected a number");
      case Kind::kDecimal: {
        char buf[64];
        if (t == element_type::INT64 || t == element_type::UINT64) {
          auto [p, ec] = t == element_type::INT64 ? std::to_chars(buf, buf + sizeof buf, v.get_int64().value_unsafe())
                                                   : std::to_chars(buf, buf + sizeof buf, v.get_uint64().value_unsafe());
          return Decimal(f, std::string_view(buf, static_cast<size_t>(p - buf)), rep, rows);
        }
        if (t == element_type::DOUBLE) {  // the shortest text that reads back as the same double
          auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double().value_unsafe());
          return Decimal(f, std::string_view(buf, static_cast<size_t>(p - buf)), rep, rows);
        }
        return Fail(f, "expected a number");
      }
      case Kind::kDate:
        if (t == element_type::INT64) {
          int64_t d = v.get_int64().value_unsafe();
          if (d < -719162 || d > 2932896) return Fail(f, std::to_string(d) + " days is out of range");
          return Put<int32_t>(f, rep, static_cast<int32_t>(d), rows), base::Status::Ok();
        }
        return Fail(f, "expected a date");
      case Kind::kTimestamp: {
        int64_t us = 0;
        if (!openx) {
          const bool millis = std::any_of(patterns.begin(), patterns.end(), [](const Pattern& p) {
            return p.tokens.size() == 1 && p.tokens[0].kind == Pattern::Kind::kMillis;
          });
          if (millis && t == element_type::INT64) {
            int64_t ms = v.get_int64().value_unsafe();
            if (ms > std::numeric_limits<int64_t>::max() / 1000 || ms < std::numeric_limits<int64_t>::min() / 1000)
              return Fail(f, "out of range");
            return Put<int64_t>(f, rep, ms * 1000, rows), base::Status::Ok();
          }
          return Fail(f, "expected a timestamp string" + std::string(millis ? " or epoch milliseconds" : ""));
        }
        if (t == element_type::INT64 && EpochInteger(v.get_int64().value_unsafe(), &us))
          return Put<int64_t>(f, rep, us, rows), base::Status::Ok();
        if (t == element_type::DOUBLE && EpochMicros(v.get_double().value_unsafe(), &us))
          return Put<int64_t>(f, rep, us, rows), base::Status::Ok();
        return Fail(f, "expected a timestamp");
      }
      case Kind::kBinary:
        return Fail(f, "expected a string");
      default:
        return Fail(f, "unexpected value");
    }
  }

  base::Status Row(const element& doc, Rows* rows) {
    simdjson::dom::object obj;
    if (doc.get_object().get(obj) != simdjson::SUCCESS) return base::InvalidArgument("the record is not a JSON object");
    const Field& root = schema.root();
    RETURN_IF_ERROR(Struct(root, obj, top, 0, 0, rows));
    rows->EndRow();
    return base::Status::Ok();
  }

  base::Status Convert(std::string_view record, Rows* rows) {
    rows->Clear();
    padded.assign(record);
    padded.append(simdjson::SIMDJSON_PADDING, '\0');
    element doc;
    simdjson::error_code err = parser.parse(padded.data(), record.size(), false).get(doc);
    if (err == simdjson::SUCCESS) return Row(doc, rows);
    // Several concatenated objects (or not JSON at all).
    simdjson::dom::document_stream stream;
    const size_t batch = std::max<size_t>(record.size(), 1024);
    if (parser.parse_many(padded.data(), record.size(), batch).get(stream) != simdjson::SUCCESS)
      return base::InvalidArgument(std::string("not JSON: ") + simdjson::error_message(err));
    size_t docs = 0;
    for (auto d : stream) {
      element e;
      simdjson::error_code derr = d.get(e);
      if (derr != simdjson::SUCCESS) {
        rows->Clear();
        return base::InvalidArgument(std::string("not JSON: ") + simdjson::error_message(derr));
      }
      base::Status st = Row(e, rows);
      if (!st.ok()) {
        rows->Clear();
        return st;
      }
      docs++;
    }
    if (docs == 0 || stream.truncated_bytes() != 0) {
      rows->Clear();
      return base::InvalidArgument(std::string("not JSON: ") + simdjson::error_message(err));
    }
    return base::Status::Ok();
  }
};

Converter::Converter(const Schema& schema, ConverterOptions options)
    : impl_(std::make_unique<Impl>(schema, std::move(options))) {}
Converter::~Converter() = default;

base::Status Converter::Convert(std::string_view record, Rows* rows) {
  base::Status st = impl_->Convert(record, rows);
  if (!st.ok()) rows->Clear();
  return st;
}

}  // namespace sluice::parquet
