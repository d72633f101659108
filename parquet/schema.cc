#include "parquet/schema.h"

#include <cctype>
#include <cmath>

#include "parquet/thrift_compact.h"

namespace sluice::parquet {
namespace {

constexpr size_t kMaxNameBytes = 128;
constexpr int kMaxDepth = 16;
constexpr int kMaxLeaves = 1000;

struct Primitive {
  std::string_view name;
  Kind kind;
};
constexpr Primitive kPrimitives[] = {
    {"string", Kind::kString},     {"varchar", Kind::kString}, {"char", Kind::kString},
    {"binary", Kind::kBinary},     {"boolean", Kind::kBoolean}, {"tinyint", Kind::kTinyint},
    {"smallint", Kind::kSmallint}, {"int", Kind::kInt},        {"integer", Kind::kInt},
    {"bigint", Kind::kBigint},     {"float", Kind::kFloat},    {"double", Kind::kDouble},
    {"date", Kind::kDate},         {"timestamp", Kind::kTimestamp},
};

// A recursive-descent reader of Hive type text.
class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  base::Status Type(Field* f, int depth) {
    if (depth > kMaxDepth) return Error("types nest deeper than " + std::to_string(kMaxDepth));
    Space();
    std::string word = Word();
    if (word.empty()) return Error("expected a type");
    if (word == "array") {
      f->kind = Kind::kArray;
      RETURN_IF_ERROR(Expect('<'));
      f->children.resize(1);
      f->children[0].name = "element";
      RETURN_IF_ERROR(Type(&f->children[0], depth + 1));
      return Expect('>');
    }
    if (word == "map") {
      f->kind = Kind::kMap;
      RETURN_IF_ERROR(Expect('<'));
      f->children.resize(2);
      f->children[0].name = "key";
      f->children[0].required = true;
      f->children[1].name = "value";
      RETURN_IF_ERROR(Type(&f->children[0], depth + 1));
      if (!f->children[0].primitive()) return Error("a map's key must be a primitive type");
      RETURN_IF_ERROR(Expect(','));
      RETURN_IF_ERROR(Type(&f->children[1], depth + 1));
      return Expect('>');
    }
    if (word == "struct") {
      f->kind = Kind::kStruct;
      RETURN_IF_ERROR(Expect('<'));
      do {
        Field child;
        RETURN_IF_ERROR(Name(&child.name));
        RETURN_IF_ERROR(Expect(':'));
        RETURN_IF_ERROR(Type(&child, depth + 1));
        if (f->by_name.count(child.name)) return Error("field '" + child.name + "' appears twice");
        f->by_name.emplace(child.name, static_cast<int>(f->children.size()));
        f->children.push_back(std::move(child));
      } while (Accept(','));
      return Expect('>');
    }
    if (word == "decimal" || word == "numeric") {
      f->kind = Kind::kDecimal;
      f->precision = 10;
      f->scale = 0;
      if (Accept('(')) {
        RETURN_IF_ERROR(Number(&f->precision));
        if (Accept(',')) RETURN_IF_ERROR(Number(&f->scale));
        RETURN_IF_ERROR(Expect(')'));
      }
      if (f->precision < 1 || f->precision > 38) return Error("decimal precision must be 1..38");
      if (f->scale < 0 || f->scale > f->precision) return Error("decimal scale must be 0..precision");
      return base::Status::Ok();
    }
    for (const Primitive& p : kPrimitives) {
      if (p.name != word) continue;
      f->kind = p.kind;
      if ((word == "varchar" || word == "char") && Accept('(')) {  // a length Hive enforces and Parquet ignores
        int n = 0;
        RETURN_IF_ERROR(Number(&n));
        RETURN_IF_ERROR(Expect(')'));
      }
      return base::Status::Ok();
    }
    return Error("unknown type '" + word.substr(0, 32) +
                 "' (one of: string, binary, boolean, tinyint, smallint, int, bigint, float, double, decimal(p,s), "
                 "date, timestamp, array<T>, map<K,V>, struct<name:T,...>)");
  }

  base::Status Name(std::string* out) {
    Space();
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) pos_++;
    if (pos_ == start) return Error("expected a name (letters, digits and _)");
    if (pos_ - start > kMaxNameBytes) return Error("a name is longer than 128 characters");
    out->assign(s_.substr(start, pos_ - start));
    for (char& c : *out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return base::Status::Ok();
  }

  bool Accept(char c) {
    Space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      pos_++;
      return true;
    }
    return false;
  }
  base::Status Expect(char c) {
    if (Accept(c)) return base::Status::Ok();
    return Error(std::string("expected '") + c + "'");
  }
  bool AtEnd() {
    Space();
    return pos_ == s_.size();
  }
  base::Status Error(const std::string& what) const {
    return base::InvalidArgument(what + " at character " + std::to_string(pos_ + 1) + " of '" +
                                 std::string(s_.substr(0, 200)) + (s_.size() > 200 ? "...'" : "'"));
  }

 private:
  void Space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) pos_++;
  }
  std::string Word() {
    std::string w;
    while (pos_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[pos_])) && w.size() < 32)
      w.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(s_[pos_++]))));
    return w;
  }
  base::Status Number(int* out) {
    Space();
    size_t start = pos_;
    int v = 0;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_])) && pos_ - start < 6)
      v = v * 10 + (s_[pos_++] - '0');
    if (pos_ == start) return Error("expected a number");
    *out = v;
    return base::Status::Ok();
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// Levels and leaves, depth first. `def`/`rep`: the levels of the parent's present value.
void Layout(Field* f, int def, int rep, std::vector<std::string>* path, std::vector<Leaf>* leaves) {
  f->def = f->required ? def : def + 1;
  f->first_leaf = static_cast<int>(leaves->size());
  path->push_back(f->name);
  if (f->primitive()) {
    Leaf leaf;
    leaf.field = f;
    leaf.physical = PhysicalOf(*f, &leaf.type_length);
    leaf.max_def = f->def;
    leaf.max_rep = rep;
    leaf.path = *path;
    f->leaf = static_cast<int>(leaves->size());
    leaves->push_back(std::move(leaf));
  } else if (f->kind == Kind::kStruct) {
    for (Field& c : f->children) Layout(&c, f->def, rep, path, leaves);
  } else {
    // The repeated group (list / key_value): one more of each level.
    f->rep = rep + 1;
    path->push_back(f->kind == Kind::kArray ? "list" : "key_value");
    for (Field& c : f->children) Layout(&c, f->def + 1, f->rep, path, leaves);
    path->pop_back();
  }
  path->pop_back();
  f->leaf_count = static_cast<int>(leaves->size()) - f->first_leaf;
}

// parquet.thrift: SchemaElement 1 type, 2 type_length, 3 repetition_type, 4 name,
// 5 num_children, 6 converted_type, 7 scale, 8 precision, 10 logicalType.
enum Converted : int32_t {
  kUtf8 = 0, kMapConverted = 1, kListConverted = 3, kDecimalConverted = 5, kDateConverted = 6,
  kTimestampMicros = 10, kInt8 = 15, kInt16 = 16,
};
enum Repetition : int32_t { kRequired = 0, kOptional = 1, kRepeated = 2 };

void Group(CompactWriter* w, std::string_view name, Repetition rep, int children) {
  w->BeginListStruct();
  w->I32(3, rep);
  w->Binary(4, name);
  w->I32(5, children);
}

void Element(CompactWriter* w, const Field& f) {
  const Repetition rep = f.required ? kRequired : kOptional;
  if (f.kind == Kind::kStruct) {
    Group(w, f.name, rep, static_cast<int>(f.children.size()));
    w->EndStruct();
    for (const Field& c : f.children) Element(w, c);
    return;
  }
  if (f.kind == Kind::kArray || f.kind == Kind::kMap) {
    const bool list = f.kind == Kind::kArray;
    Group(w, f.name, rep, 1);
    w->I32(6, list ? kListConverted : kMapConverted);
    w->BeginStruct(10);              // LogicalType union
    w->BeginStruct(list ? 3 : 2);    // ListType / MapType: empty structs
    w->EndStruct();
    w->EndStruct();
    w->EndStruct();
    Group(w, list ? "list" : "key_value", kRepeated, static_cast<int>(f.children.size()));
    w->EndStruct();
    for (const Field& c : f.children) Element(w, c);
    return;
  }
  int type_length = 0;
  const Physical physical = PhysicalOf(f, &type_length);
  w->BeginListStruct();
  w->I32(1, static_cast<int32_t>(physical));
  if (physical == Physical::kFixedLenByteArray) w->I32(2, type_length);
  w->I32(3, rep);
  w->Binary(4, f.name);
  auto logical = [&](int16_t id) {  // an empty-struct member of LogicalType
    w->BeginStruct(10);
    w->BeginStruct(id);
    w->EndStruct();
    w->EndStruct();
  };
  switch (f.kind) {
    case Kind::kString:
      w->I32(6, kUtf8);
      logical(1);
      break;
    case Kind::kTinyint:
    case Kind::kSmallint:
      w->I32(6, f.kind == Kind::kTinyint ? kInt8 : kInt16);
      w->BeginStruct(10);
      w->BeginStruct(10);  // IntType {1: bitWidth i8, 2: isSigned}
      w->I8(1, f.kind == Kind::kTinyint ? 8 : 16);
      w->Bool(2, true);
      w->EndStruct();
      w->EndStruct();
      break;
    case Kind::kDecimal:
      w->I32(6, kDecimalConverted);
      w->I32(7, f.scale);
      w->I32(8, f.precision);
      w->BeginStruct(10);
      w->BeginStruct(5);  // DecimalType {1: scale, 2: precision}
      w->I32(1, f.scale);
      w->I32(2, f.precision);
      w->EndStruct();
      w->EndStruct();
      break;
    case Kind::kDate:
      w->I32(6, kDateConverted);
      logical(6);
      break;
    case Kind::kTimestamp:
      w->I32(6, kTimestampMicros);
      w->BeginStruct(10);
      w->BeginStruct(8);  // TimestampType {1: isAdjustedToUTC, 2: unit (TimeUnit union: 2 MICROS)}
      w->Bool(1, true);
      w->BeginStruct(2);
      w->BeginStruct(2);
      w->EndStruct();
      w->EndStruct();
      w->EndStruct();
      w->EndStruct();
      break;
    default:
      break;
  }
  w->EndStruct();
}

std::string Join(const std::vector<Field>& fs, std::string_view between, std::string_view sep) {
  std::string out;
  for (const Field& f : fs) {
    if (!out.empty()) out += sep;
    out += f.name;
    out += between;
    out += f.TypeName();
  }
  return out;
}

}  // namespace

Physical PhysicalOf(const Field& f, int* type_length) {
  *type_length = 0;
  switch (f.kind) {
    case Kind::kBoolean: return Physical::kBoolean;
    case Kind::kTinyint:
    case Kind::kSmallint:
    case Kind::kInt:
    case Kind::kDate: return Physical::kInt32;
    case Kind::kBigint:
    case Kind::kTimestamp: return Physical::kInt64;
    case Kind::kFloat: return Physical::kFloat;
    case Kind::kDouble: return Physical::kDouble;
    case Kind::kDecimal: {
      if (f.precision <= 9) return Physical::kInt32;
      if (f.precision <= 18) return Physical::kInt64;
      // The fewest bytes whose signed range holds 10^p - 1.
      int bytes = 1;
      long double max = 1;
      for (int i = 0; i < f.precision; i++) max *= 10;
      while (std::ldexp(1.0L, 8 * bytes - 1) < max) bytes++;
      *type_length = bytes;
      return Physical::kFixedLenByteArray;
    }
    default: return Physical::kByteArray;
  }
}

std::string Field::TypeName() const {
  switch (kind) {
    case Kind::kString: return "string";
    case Kind::kBinary: return "binary";
    case Kind::kBoolean: return "boolean";
    case Kind::kTinyint: return "tinyint";
    case Kind::kSmallint: return "smallint";
    case Kind::kInt: return "int";
    case Kind::kBigint: return "bigint";
    case Kind::kFloat: return "float";
    case Kind::kDouble: return "double";
    case Kind::kDecimal: return "decimal(" + std::to_string(precision) + "," + std::to_string(scale) + ")";
    case Kind::kDate: return "date";
    case Kind::kTimestamp: return "timestamp";
    case Kind::kArray: return "array<" + children[0].TypeName() + ">";
    case Kind::kMap: return "map<" + children[0].TypeName() + "," + children[1].TypeName() + ">";
    case Kind::kStruct: return "struct<" + Join(children, ":", ",") + ">";
  }
  return "?";
}

base::Status ParseType(std::string_view text, Field* out) {
  Parser p(text);
  RETURN_IF_ERROR(p.Type(out, 1));
  if (!p.AtEnd()) return p.Error("unexpected text after the type");
  return base::Status::Ok();
}

base::Result<Schema> Schema::Parse(std::string_view columns) {
  Schema s;
  s.root_ = std::make_unique<Field>();
  Field& root = *s.root_;
  root.name = "schema";
  root.kind = Kind::kStruct;
  root.required = true;
  Parser p(columns);
  if (p.AtEnd()) return base::InvalidArgument("the schema has no columns");
  do {
    Field col;
    RETURN_IF_ERROR(p.Name(&col.name));
    RETURN_IF_ERROR(p.Type(&col, 1));
    if (root.by_name.count(col.name)) return p.Error("column '" + col.name + "' appears twice");
    root.by_name.emplace(col.name, static_cast<int>(root.children.size()));
    root.children.push_back(std::move(col));
  } while (p.Accept(','));
  if (!p.AtEnd()) return p.Error("expected ',' between columns");
  std::vector<std::string> path;
  for (Field& c : root.children) Layout(&c, 0, 0, &path, &s.leaves_);
  root.leaf_count = static_cast<int>(s.leaves_.size());
  if (s.leaves_.size() > kMaxLeaves)
    return base::InvalidArgument("the schema has " + std::to_string(s.leaves_.size()) +
                                 " primitive columns (nested ones included); at most " + std::to_string(kMaxLeaves));
  return s;
}

void Schema::WriteElements(CompactWriter* w, int16_t field_id) const {
  size_t n = 1;
  std::vector<const Field*> stack{root_.get()};
  while (!stack.empty()) {  // count the elements: groups, repeated groups, leaves
    const Field* f = stack.back();
    stack.pop_back();
    for (const Field& c : f->children) {
      n += (c.kind == Kind::kArray || c.kind == Kind::kMap) ? 2 : 1;
      stack.push_back(&c);
    }
  }
  w->BeginList(field_id, CompactWriter::kStruct, n);
  w->BeginListStruct();
  w->Binary(4, root_->name);
  w->I32(5, static_cast<int32_t>(root_->children.size()));
  w->EndStruct();
  for (const Field& c : root_->children) Element(w, c);
}

std::string Schema::ToString() const { return Join(root_->children, " ", ", "); }

}  // namespace sluice::parquet
