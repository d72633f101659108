// Integration: files from parquet/'s writer read by two independent readers, DuckDB
// (@duckdb/node-api) and hyparquet (tests/peers/parquet_check.mjs): every codec, both page
// versions, dictionary on and off with its fallback, many pages and row groups; and a property
// test over random schemas and records.
#include <catch2/catch.hpp>

#include <charconv>
#include <cmath>
#include <fstream>
#include <random>

#include "parquet/json_converter.h"
#include "parquet/schema.h"
#include "parquet/writer.h"
#include "server/encoding/json_escape.h"
#include "tests/support/parquet_check.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"

using namespace sluice;
using parquet::Field;
using parquet::Kind;

namespace {

// Random values of a schema, as JSON input and as the canonical expected JSON of
// parquet_check.mjs.
class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}

  uint64_t U(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(int percent) { return U(100) < static_cast<uint64_t>(percent); }

  std::string Type(int depth) {
    static const char* kPrimitives[] = {"string", "binary", "boolean", "tinyint", "smallint", "int", "bigint",
                                        "float", "double", "date", "timestamp"};
    const uint64_t pick = U(depth >= 3 ? 12 : 16);
    if (pick < 11) return kPrimitives[pick];
    if (pick == 11) {
      int p = 1 + static_cast<int>(U(38));
      return "decimal(" + std::to_string(p) + "," + std::to_string(U(static_cast<uint64_t>(p) + 1)) + ")";
    }
    if (pick == 12 || pick == 13) return "array<" + Type(depth + 1) + ">";
    if (pick == 14) return std::string("map<") + (Chance(50) ? "string" : "int") + "," + Type(depth + 1) + ">";
    std::string s = "struct<";
    const uint64_t n = 1 + U(4);
    for (uint64_t i = 0; i < n; i++) s += (i ? ",f" : "f") + std::to_string(i) + ":" + Type(depth + 1);
    return s + ">";
  }

  std::string Columns() {
    std::string s = "rowid bigint";
    const uint64_t n = 1 + U(8);
    for (uint64_t i = 0; i < n; i++) s += ", c" + std::to_string(i) + " " + Type(1);
    return s;
  }

  // Appends a value of `f` to `in` and `out` (input JSON and expected canonical JSON).
  void Value(const Field& f, std::string* in, std::string* out) {
    if (Chance(12)) {
      in->append("null");
      out->append("null");
      return;
    }
    switch (f.kind) {
      case Kind::kString: {
        static const char* kPieces[] = {"a", "Z", " ", "\"", "\\", "é", "日本", "\t", "{}", "0", "🙂"};
        std::string s;
        for (uint64_t i = U(12); i > 0; i--) s += kPieces[U(11)];
        Both(in, out, "\"" + server::JsonEscape(s) + "\"");
        return;
      }
      case Kind::kBinary: {
        std::string s;
        for (uint64_t i = U(10); i > 0; i--) s.push_back(static_cast<char>('a' + U(26)));
        Both(in, out, "\"" + s + "\"");
        return;
      }
      case Kind::kBoolean: Both(in, out, Chance(50) ? "true" : "false"); return;
      case Kind::kTinyint: Int(in, out, -128, 127); return;
      case Kind::kSmallint: Int(in, out, -32768, 32767); return;
      case Kind::kInt: Int(in, out, INT32_MIN, INT32_MAX); return;
      case Kind::kBigint: Int(in, out, INT64_MIN, INT64_MAX); return;
      case Kind::kFloat: {
        float v = static_cast<float>(static_cast<int64_t>(U(2000001)) - 1000000) / 64.0f;
        Both(in, out, Num(static_cast<double>(v)));
        return;
      }
      case Kind::kDouble: {
        double v = std::ldexp(static_cast<double>(static_cast<int64_t>(rng_() % 2000000001) - 1000000000),
                              static_cast<int>(U(80)) - 40);
        Both(in, out, Num(v));
        return;
      }
      case Kind::kDecimal: {
        std::string digits;
        for (int i = 0, n = 1 + static_cast<int>(U(static_cast<uint64_t>(f.precision))); i < n; i++)
          digits.push_back(static_cast<char>('0' + U(10)));
        digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
        while (static_cast<int>(digits.size()) <= f.scale) digits.insert(digits.begin(), '0');
        std::string text = digits.substr(0, digits.size() - static_cast<size_t>(f.scale));
        if (f.scale) text += "." + digits.substr(digits.size() - static_cast<size_t>(f.scale));
        if (Chance(50) && text.find_first_not_of("0.") != std::string::npos) text = "-" + text;
        Both(in, out, "\"" + text + "\"");
        return;
      }
      case Kind::kDate: {
        const int32_t days = static_cast<int32_t>(U(73000)) - 25567;  // 1900..2099
        Both(in, out, "\"" + test::IsoDate(days) + "\"");
        return;
      }
      case Kind::kTimestamp: {
        const int64_t us = static_cast<int64_t>(rng_() % 4'100'000'000ull) * 1'000'000 + static_cast<int64_t>(U(1'000'000));
        in->append("\"" + test::IsoMicros(us) + "\"");
        out->append("\"" + std::to_string(us) + "\"");
        return;
      }
      case Kind::kArray: {
        in->push_back('[');
        out->push_back('[');
        for (uint64_t i = 0, n = U(4); i < n; i++) {
          if (i) Both(in, out, ",");
          Value(f.children[0], in, out);
        }
        Both(in, out, "]");
        return;
      }
      case Kind::kMap: {
        Both(in, out, "{");
        const uint64_t n = U(4);
        for (uint64_t i = 0; i < n; i++) {
          if (i) Both(in, out, ",");
          const std::string key = f.children[0].kind == Kind::kString ? "k" + std::to_string(i) + "é"
                                                                     : std::to_string(static_cast<int64_t>(i * 7) - 10);
          Both(in, out, "\"" + key + "\":");
          Value(f.children[1], in, out);
        }
        Both(in, out, "}");
        return;
      }
      case Kind::kStruct: {
        Both(in, out, "{");
        bool first = true;
        for (const Field& c : f.children) {
          if (Chance(10)) continue;  // a missing key is a null
          if (!first) Both(in, out, ",");
          first = false;
          Both(in, out, "\"" + c.name + "\":");
          Value(c, in, out);
        }
        Both(in, out, "}");
        return;
      }
    }
  }

 private:
  static void Both(std::string* in, std::string* out, const std::string& s) {
    in->append(s);
    out->append(s);
  }
  static std::string Num(double v) {
    char buf[64];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, p);
    // An integral double is written as a JSON number with a fraction: an integer literal past
    // 64 bits is not JSON the converter takes (docs/operations.md).
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
  }
  void Int(std::string* in, std::string* out, int64_t lo, int64_t hi) {
    int64_t v;
    if (Chance(10)) v = Chance(50) ? lo : hi;
    else v = static_cast<int64_t>(static_cast<uint64_t>(lo) + rng_() % (static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo)));
    in->append(std::to_string(v));
    out->append("\"" + std::to_string(v) + "\"");
  }

  std::mt19937_64 rng_;
};

struct Written {
  std::string file;
  std::string expected;
};

// Writes `rows` random rows of `columns` to dir/name.parquet and their expected values beside it.
Written Write(const std::string& dir, const std::string& name, const std::string& columns, Gen& gen, int rows,
              parquet::WriterOptions options) {
  auto schema = parquet::Schema::Parse(columns);
  REQUIRE(schema.ok());
  parquet::Converter converter(schema.value(), {});
  parquet::FileWriter writer(schema.value(), options);
  parquet::Rows shredded(schema.value());
  Written w{dir + "/" + name + ".parquet", dir + "/" + name + ".expected"};
  std::ofstream expected(w.expected);
  for (int i = 0; i < rows; i++) {
    std::string in = "{\"rowid\":" + std::to_string(i), out = in;
    for (size_t c = 1; c < schema.value().columns().size(); c++) {
      const Field& f = schema.value().columns()[c];
      in += ",\"" + f.name + "\":";
      out += ",\"" + f.name + "\":";
      gen.Value(f, &in, &out);
    }
    in += "}";
    out += "}";
    base::Status st = converter.Convert(in, &shredded);
    INFO(in);
    REQUIRE(st.ok());
    writer.Append(shredded);
    expected << out << "\n";
  }
  std::ofstream(w.file, std::ios::binary) << writer.Finish();
  return w;
}

}  // namespace

TEST_CASE("parquet readers: DuckDB and hyparquet read every codec, page version and dictionary mode", "[integration][parquet]") {
  test::TempDir tmp;
  const std::string columns =
      "rowid bigint, s string, b boolean, t tinyint, i int, big bigint, f float, d double, dec decimal(9,3), "
      "wide decimal(38,6), day date, ts timestamp, tags array<string>, m map<string,array<int>>, "
      "u struct<name:string,age:smallint,nested:struct<x:double,ys:array<bigint>>>, raw binary";
  const std::pair<parquet::Codec, const char*> codecs[] = {{parquet::Codec::kUncompressed, "uncompressed"},
                                                           {parquet::Codec::kSnappy, "snappy"},
                                                           {parquet::Codec::kGzip, "gzip"},
                                                           {parquet::Codec::kZstd, "zstd"}};
  int n = 0;
  for (const auto& [codec, codec_name] : codecs) {
    for (int version : {1, 2}) {
      for (bool dictionary : {true, false}) {
        parquet::WriterOptions o;
        o.codec = codec;
        o.version = version;
        o.dictionary = dictionary;
        o.page_size = 2048;         // many pages, and an early dictionary fallback
        o.block_size = 256 << 10;   // several row groups
        Gen gen(static_cast<uint32_t>(++n));
        Written w = Write(tmp.path(), std::string(codec_name) + std::to_string(version) + (dictionary ? "d" : "p"),
                          columns, gen, 3000, o);
        auto r = test::CheckParquet(columns, w.expected, {w.file});
        if (!r.ran) SLUICE_SKIP("node and the npm readers are not installed (scripts/setup)");
        INFO(codec_name << " v" << version << (dictionary ? " dictionary" : " plain") << ": " << r.output);
        CHECK(r.ok);
      }
    }
  }
  // The checker is not vacuous: one wrong expected value fails it.
  Gen gen(99);
  Written w = Write(tmp.path(), "wrong", "rowid bigint, s string", gen, 10, {});
  std::ofstream(w.expected, std::ios::app) << "{\"rowid\":\"10\",\"s\":\"not written\"}\n";
  auto r = test::CheckParquet("rowid bigint, s string", w.expected, {w.file});
  CHECK_FALSE(r.ok);
  CHECK(r.output.find("missing") != std::string::npos);
}

TEST_CASE("parquet readers: random schemas and records round-trip through DuckDB and hyparquet", "[integration][parquet]") {
  test::TempDir tmp;
  // Bounded for CI; SLUICE_PARQUET_ROUNDS runs more (scripts/fuzz does).
  const char* env = std::getenv("SLUICE_PARQUET_ROUNDS");
  const int rounds = env ? std::max(1, std::atoi(env)) : 30;
  for (int round = 0; round < rounds; round++) {
    Gen gen(1000u + static_cast<uint32_t>(round));
    const std::string columns = gen.Columns();
    parquet::WriterOptions o;
    const parquet::Codec codecs[] = {parquet::Codec::kUncompressed, parquet::Codec::kSnappy, parquet::Codec::kGzip,
                                     parquet::Codec::kZstd};
    o.codec = codecs[gen.U(4)];
    o.version = gen.Chance(50) ? 1 : 2;
    o.dictionary = gen.Chance(70);
    o.page_size = static_cast<uint32_t>(512 + gen.U(8192));
    o.block_size = 16384 + gen.U(1 << 20);
    Written w = Write(tmp.path(), "r" + std::to_string(round), columns, gen, 1 + static_cast<int>(gen.U(800)), o);
    auto r = test::CheckParquet(columns, w.expected, {w.file});
    if (!r.ran) SLUICE_SKIP("node and the npm readers are not installed (scripts/setup)");
    INFO("round " << round << " schema: " << columns << "\n" << r.output);
    REQUIRE(r.ok);
  }
}
