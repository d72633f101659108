// Unit tests of parquet/: the Thrift compact encoder, the hybrid level encoding, the schema and
// the JSON deserializers. What readers make of whole files is tested against DuckDB and
// hyparquet in tests/integration/parquet_readers_test.cc.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "parquet/encoding.h"
#include "parquet/json_converter.h"
#include "parquet/schema.h"
#include "parquet/thrift_compact.h"
#include "parquet/writer.h"

using namespace sluice::parquet;

namespace {

std::string Hex(const std::string& s) {
  std::string out;
  char b[4];
  for (unsigned char c : s) {
    std::snprintf(b, sizeof b, "%02x", c);
    out += b;
  }
  return out;
}

// Decodes the hybrid encoding (the reader's side, written from the specification).
std::vector<uint32_t> DecodeHybrid(const std::string& in, int w, size_t count) {
  std::vector<uint32_t> out;
  size_t i = 0;
  auto varint = [&] {
    uint64_t v = 0;
    int shift = 0;
    while (true) {
      uint8_t b = static_cast<uint8_t>(in.at(i++));
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7;
    }
  };
  while (out.size() < count) {
    uint64_t h = varint();
    if (h & 1) {
      size_t n = (h >> 1) * 8;
      uint64_t acc = 0;
      int bits = 0;
      for (size_t k = 0; k < n; k++) {
        while (bits < w) {
          acc |= uint64_t(static_cast<uint8_t>(in.at(i++))) << bits;
          bits += 8;
        }
        uint32_t v = w == 0 ? 0 : static_cast<uint32_t>(acc & ((1ull << w) - 1));
        acc >>= w;
        bits -= w;
        if (out.size() < count) out.push_back(v);
      }
    } else {
      size_t n = h >> 1;
      uint32_t v = 0;
      for (int b = 0; b < (w + 7) / 8; b++) v |= uint32_t(static_cast<uint8_t>(in.at(i++))) << (8 * b);
      for (size_t k = 0; k < n; k++) out.push_back(v);
    }
  }
  REQUIRE(i == in.size());
  return out;
}

struct Shredded {
  std::vector<int> rep, def;
  size_t values = 0;
};
Shredded Levels(const Rows& rows, int leaf) {
  const auto& c = rows.columns().at(static_cast<size_t>(leaf));
  Shredded s;
  for (size_t i = 0; i < c.def.size(); i++) {
    s.rep.push_back(c.rep[i]);
    s.def.push_back(c.def[i]);
  }
  s.values = c.lengths.empty() ? c.values.size() : c.lengths.size();
  return s;
}

template <typename T>
T Value(const Rows& rows, int leaf, size_t index = 0) {
  T v;
  std::memcpy(&v, rows.columns().at(static_cast<size_t>(leaf)).values.data() + index * sizeof(T), sizeof(T));
  return v;
}

std::string Text(const Rows& rows, int leaf) { return rows.columns().at(static_cast<size_t>(leaf)).values; }

}  // namespace

TEST_CASE("parquet thrift: compact protocol field headers, varints, lists and nested structs", "[parquet]") {
  std::string out;
  CompactWriter w(&out);
  w.I32(1, 5);         // delta 1, i32: 0x15, zigzag 10
  w.I64(3, -1);        // delta 2, i64: 0x26, zigzag 1
  w.Bool(4, true);     // delta 1, true: 0x11
  w.Binary(20, "ab");  // delta 16: long form 0x08, zigzag id 40 (0x28), len 2
  w.BeginStruct(21);   // 0x1c
  w.I32(1, 300);       // 0x15, zigzag 600 = d8 04
  w.EndStruct();       // 00
  w.BeginList(22, CompactWriter::kI32, 2);  // 0x19, 0x25
  w.I32Value(1);
  w.I32Value(-2);
  w.End();
  CHECK(Hex(out) == "150a2601110828026162" "1c15d80400" "1925020300");
  std::string big;
  CompactWriter l(&big);
  l.BeginList(1, CompactWriter::kBinary, 20);  // 0x19, 0xf8, 20
  CHECK(Hex(big) == "19f814");
}

TEST_CASE("parquet levels: the hybrid encoding reads back at every width and run shape", "[parquet]") {
  std::mt19937 rng(7);
  for (int w = 0; w <= 20; w++) {
    for (int shape = 0; shape < 4; shape++) {
      std::vector<uint32_t> v(1 + rng() % 300);
      const uint32_t max = w == 0 ? 0 : static_cast<uint32_t>((1ull << w) - 1);
      for (size_t i = 0; i < v.size(); i++) {
        if (shape == 0) v[i] = max;                                            // one run
        if (shape == 1) v[i] = static_cast<uint32_t>(rng() & max);             // noise
        if (shape == 2) v[i] = static_cast<uint32_t>((i / 13) & max);          // runs of 13
        if (shape == 3) v[i] = (i % 17 < 3) ? static_cast<uint32_t>(rng() & max) : 0;  // mixed
      }
      std::string enc;
      EncodeHybrid(std::span<const uint32_t>(v), w, &enc);
      INFO("width " << w << " shape " << shape << " n " << v.size());
      CHECK(DecodeHybrid(enc, w, v.size()) == v);
    }
  }
  std::vector<uint32_t> ones(1000, 1);
  std::string enc;
  EncodeHybrid(std::span<const uint32_t>(ones), 1, &enc);
  CHECK(enc.size() == 3);  // one RLE run: varint(2000) + 1 byte
}

TEST_CASE("parquet schema: Hive types, levels and refusals", "[parquet]") {
  auto s = Schema::Parse("ID bigint, tags array<string>, m map<string, array<int>>,\n u struct<Name:string, age:int>, d decimal(38,10), x DECIMAL");
  REQUIRE(s.ok());
  const Schema& schema = s.value();
  CHECK(schema.ToString() ==
        "id bigint, tags array<string>, m map<string,array<int>>, u struct<name:string,age:int>, d decimal(38,10), x decimal(10,0)");
  REQUIRE(schema.leaves().size() == 8);
  const auto& l = schema.leaves();
  CHECK(l[0].max_def == 1);
  CHECK(l[0].max_rep == 0);
  CHECK(l[1].path == std::vector<std::string>{"tags", "list", "element"});
  CHECK(l[1].max_def == 3);
  CHECK(l[1].max_rep == 1);
  CHECK(l[2].path == std::vector<std::string>{"m", "key_value", "key"});
  CHECK(l[2].max_def == 2);  // required key
  CHECK(l[3].path == std::vector<std::string>{"m", "key_value", "value", "list", "element"});
  CHECK(l[3].max_def == 5);
  CHECK(l[3].max_rep == 2);
  CHECK(l[4].path == std::vector<std::string>{"u", "name"});
  CHECK(l[4].max_def == 2);
  CHECK(l[6].physical == Physical::kFixedLenByteArray);
  CHECK(l[6].type_length == 16);
  CHECK(l[7].physical == Physical::kInt64);

  for (const char* bad : {"", "a", "a strin", "a string, a int", "a decimal(39,1)", "a decimal(5,6)", "a map<array<int>,int>",
                          "a struct<>", "a struct<b:int,b:int>", "a array<int", "a int b", "a-b int", "a varchar(10"}) {
    INFO(bad);
    CHECK_FALSE(Schema::Parse(bad).ok());
  }
  std::string deep = "a ";
  for (int i = 0; i < 20; i++) deep += "array<";
  deep += "int";
  for (int i = 0; i < 20; i++) deep += ">";
  CHECK(Schema::Parse(deep).status().message().find("deeper") != std::string::npos);
  std::string wide = "a struct<";
  for (int i = 0; i < 1001; i++) wide += (i ? ",f" : "f") + std::to_string(i) + ":int";
  wide += ">";
  CHECK(Schema::Parse(wide).status().message().find("at most 1000") != std::string::npos);
  CHECK(Schema::Parse("a string, b struct<x:int>, A int").status().message().find("appears twice") != std::string::npos);
}

TEST_CASE("parquet conversion: OpenX reads keys loosely, numbers in strings, nested values and several objects", "[parquet]") {
  auto s = Schema::Parse("id bigint, user_name string, tags array<string>, m map<string,int>, u struct<a:int,b:boolean>, ts timestamp, d decimal(6,2), small tinyint, f float, day date");
  REQUIRE(s.ok());
  ConverterOptions o;
  o.dots_to_underscores = true;
  Converter c(s.value(), o);
  Rows rows(s.value());
  REQUIRE(c.Convert(R"({"ID":"42","User.Name":{"x":[1,2]},"tags":["a",null,"b"],"m":{"k":1,"j":null},"u":{"A":7,"b":"true"},)"
                    R"("ts":"2026-11-30T12:00:00.123456789+01:00","d":"12.345","small":"-128","f":"1.5","day":"2026-02-28"})",
                    &rows)
              .ok());
  CHECK(rows.rows() == 1);
  CHECK(Value<int64_t>(rows, 0) == 42);
  CHECK(Text(rows, 1) == R"({"x":[1,2]})");  // OpenX: an object in a string column is its JSON text
  Shredded tags = Levels(rows, 2);
  CHECK(tags.rep == std::vector<int>{0, 1, 1});
  CHECK(tags.def == std::vector<int>{3, 2, 3});
  CHECK(Text(rows, 2) == "ab");
  Shredded mv = Levels(rows, 4);
  CHECK(mv.def == std::vector<int>{3, 2});
  CHECK(Value<int32_t>(rows, 5) == 7);
  CHECK(Value<uint8_t>(rows, 6) == 1);
  CHECK(Value<int64_t>(rows, 7) == 1796036400123456);  // 11:00:00.123456 UTC, nanoseconds cut
  CHECK(Value<int32_t>(rows, 8) == 1235);              // 12.345 rounded half up at scale 2
  CHECK(Value<int32_t>(rows, 9) == -128);
  CHECK(Value<float>(rows, 10) == 1.5f);
  CHECK(Value<int32_t>(rows, 11) == 20512);

  // Missing keys, nulls, empty containers: the levels say which.
  REQUIRE(c.Convert(R"({"tags":[],"m":{},"u":null})", &rows).ok());
  CHECK(Levels(rows, 0).def == std::vector<int>{0});
  CHECK(Levels(rows, 2).def == std::vector<int>{1});  // an empty list: defined, no element
  CHECK(Levels(rows, 3).def == std::vector<int>{1});
  CHECK(Levels(rows, 5).def == std::vector<int>{0});  // a null struct
  CHECK(Levels(rows, 5).values == 0);

  // Concatenated objects: a row each; epoch seconds, milliseconds and fractions.
  REQUIRE(c.Convert(R"({"id":1,"ts":1700000000} {"id":2,"ts":1700000000123}{"id":3,"ts":1700000000.5})" "\n", &rows).ok());
  CHECK(rows.rows() == 3);
  CHECK(Value<int64_t>(rows, 7, 0) == 1700000000000000);
  CHECK(Value<int64_t>(rows, 7, 1) == 1700000000123000);
  CHECK(Value<int64_t>(rows, 7, 2) == 1700000000500000);

  // Refused whole, with a reason naming the column.
  const std::pair<const char*, const char*> refused[] = {
      {"not json", "not JSON"},
      {"[1,2]", "not a JSON object"},
      {"", "not JSON"},
      {R"({"id":1}{"id":"x"})", "column 'id'"},
      {R"({"id":1} {"id":)", "not JSON"},
      {R"({"small":128})", "out of range"},
      {R"({"small":1.5})", "not an integer"},
      {R"({"id":18446744073709551615})", "out of range"},
      {R"({"d":"10000"})", "decimal"},
      {R"({"d":"1e4"})", "decimal"},
      {R"({"ts":"2026-13-01T00:00:00Z"})", "timestamp"},
      {R"({"ts":"yesterday"})", "timestamp"},
      {R"({"day":"2026-02-29"})", "date"},
      {R"({"tags":"a"})", "array"},
      {R"({"m":{"k":"x"}})", "column 'value'"},
      {R"({"u":{"b":3}})", "boolean"},
      {R"({"f":1e300})", "float"},
  };
  for (const auto& [record, why] : refused) {
    INFO(record);
    auto st = c.Convert(record, &rows);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find(why) != std::string::npos);
    CHECK(rows.rows() == 0);
    CHECK(rows.bytes() == 0);
  }
  CHECK(c.Convert(R"({"d":"9999.994"})", &rows).ok());   // rounds to 9999.99
  CHECK_FALSE(c.Convert(R"({"d":"9999.995"})", &rows).ok());  // rounds past the precision
}

TEST_CASE("parquet conversion: OpenX key options and the Hive SerDe's stricter rules", "[parquet]") {
  auto s = Schema::Parse("ts timestamp, n int, s string");
  REQUIRE(s.ok());
  ConverterOptions exact;
  exact.case_insensitive = false;
  exact.column_to_json_key = {{"ts", "@timestamp"}};
  REQUIRE(ValidateConverterOptions(s.value(), exact).ok());
  Converter c(s.value(), exact);
  Rows rows(s.value());
  REQUIRE(c.Convert(R"({"@timestamp":"2026-01-01 00:00:01","N":5,"ts":"ignored"})", &rows).ok());
  CHECK(Value<int64_t>(rows, 0) == 1767225601000000);
  CHECK(Levels(rows, 1).def == std::vector<int>{0});  // "N" is not "n" when keys are exact

  CHECK(SplitTimestampFormats("").empty());
  CHECK(SplitTimestampFormats("millis|yyyy-MM-dd") == std::vector<std::string>{"millis", "yyyy-MM-dd"});
  CHECK(SplitTimestampFormats("millis|") == std::vector<std::string>{"millis", ""});
  ConverterOptions bad;
  bad.input = ConverterOptions::Input::kHive;
  bad.timestamp_formats = SplitTimestampFormats("millis|");
  CHECK(ValidateConverterOptions(s.value(), bad).message().find("1..100 characters") != std::string::npos);
  bad = {};
  bad.column_to_json_key = {{"nope", "x"}};
  CHECK_FALSE(ValidateConverterOptions(s.value(), bad).ok());
  bad = {};
  bad.timestamp_formats = {"yyyy MMM dd"};
  CHECK_FALSE(ValidateConverterOptions(s.value(), bad).ok());

  ConverterOptions hive;
  hive.input = ConverterOptions::Input::kHive;
  hive.timestamp_formats = {"dd/MM/yyyy HH:mm:ss.SSS", "yyyy-MM-dd'T'HH:mm:ssZ", "millis"};
  REQUIRE(ValidateConverterOptions(s.value(), hive).ok());
  Converter h(s.value(), hive);
  REQUIRE(h.Convert(R"({"TS":"30/11/2026 12:00:00.250","n":1,"s":5})", &rows).ok());
  CHECK(Value<int64_t>(rows, 0) == 1796040000250000);
  CHECK(Text(rows, 2) == "5");  // numbers are text in a string column
  REQUIRE(h.Convert(R"({"ts":"2026-11-30T12:00:00+0100"})", &rows).ok());
  CHECK(Value<int64_t>(rows, 0) == 1796036400000000);
  REQUIRE(h.Convert(R"({"ts":1796036400000})", &rows).ok());
  CHECK(Value<int64_t>(rows, 0) == 1796036400000000);
  CHECK(h.Convert(R"({"n":"5"})", &rows).message().find("not an integer") != std::string::npos);
  CHECK(h.Convert(R"({"s":{"a":1}})", &rows).message().find("not a string") != std::string::npos);
  CHECK(h.Convert(R"({"ts":"2026-11-30 12:00:00"})", &rows).message().find("none of the timestamp formats") != std::string::npos);
  ConverterOptions hive_default;
  hive_default.input = ConverterOptions::Input::kHive;
  Converter hd(s.value(), hive_default);
  CHECK(hd.Convert(R"({"ts":"2026-11-30 12:00:00.5"})", &rows).ok());
  CHECK_FALSE(hd.Convert(R"({"ts":"2026-11-30T12:00:00Z"})", &rows).ok());  // java.sql.Timestamp's form only
}

TEST_CASE("parquet writer: magic, footer length, rows and an empty file", "[parquet]") {
  auto s = Schema::Parse("id bigint, name string");
  REQUIRE(s.ok());
  for (Codec codec : {Codec::kUncompressed, Codec::kSnappy, Codec::kGzip, Codec::kZstd}) {
    WriterOptions o;
    o.codec = codec;
    o.page_size = 4096;
    o.block_size = 64 << 10;
    FileWriter w(s.value(), o);
    Converter c(s.value(), {});
    Rows rows(s.value());
    for (int i = 0; i < 20000; i++) {
      REQUIRE(c.Convert("{\"id\":" + std::to_string(i) + ",\"name\":\"n" + std::to_string(i % 5000) + "\"}", &rows).ok());
      w.Append(rows);
    }
    CHECK(w.rows() == 20000);
    std::string file = w.Finish();
    REQUIRE(file.size() > 12);
    CHECK(file.substr(0, 4) == "PAR1");
    CHECK(file.substr(file.size() - 4) == "PAR1");
    uint32_t footer;
    std::memcpy(&footer, file.data() + file.size() - 8, 4);
    CHECK(footer < file.size() - 12);
  }
  FileWriter empty(s.value(), {});
  std::string file = empty.Finish();
  CHECK(file.substr(0, 4) == "PAR1");
  CHECK(file.substr(file.size() - 4) == "PAR1");
}
