// The schema of converted records: Hive column types (what a Glue table declares and Firehose
// reads) and the Parquet schema they map to.
//
//   Hive type         Parquet physical type, annotation
//   string            BYTE_ARRAY, STRING (UTF8)
//   binary            BYTE_ARRAY
//   boolean           BOOLEAN
//   tinyint/smallint  INT32, INTEGER(8|16, signed) (INT_8 | INT_16)
//   int / bigint      INT32 / INT64
//   float / double    FLOAT / DOUBLE
//   decimal(p,s)      INT32 (p <= 9), INT64 (p <= 18), else FIXED_LEN_BYTE_ARRAY of the fewest
//                     bytes that hold p digits; DECIMAL(p, s)
//   date              INT32, DATE (days since 1970-01-01)
//   timestamp         INT64, TIMESTAMP(isAdjustedToUTC, MICROS) (TIMESTAMP_MICROS)
//   array<T>          the three-level LIST: optional group (LIST) { repeated group list
//                     { optional T element } }
//   map<K,V>          optional group (MAP) { repeated group key_value { required K key;
//                     optional V value } }
//   struct<a:T,...>   optional group { optional T a; ... }
// Every column is optional (a missing key or JSON null is a null).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace sluice::parquet {

class CompactWriter;

enum class Kind : uint8_t {
  kString, kBinary, kBoolean, kTinyint, kSmallint, kInt, kBigint, kFloat, kDouble, kDecimal, kDate, kTimestamp,
  kArray, kMap, kStruct,
};

// Parquet's physical types (parquet.thrift's Type).
enum class Physical : int32_t {
  kBoolean = 0, kInt32 = 1, kInt64 = 2, kInt96 = 3, kFloat = 4, kDouble = 5, kByteArray = 6, kFixedLenByteArray = 7,
};

// One field of the schema: a column, a struct's field, an array's element, a map's key or value.
struct Field {
  std::string name;  // lower case
  Kind kind = Kind::kString;
  int precision = 0, scale = 0;  // decimal
  bool required = false;         // map keys only
  // struct: its fields; array: {element}; map: {key, value}.
  std::vector<Field> children;
  // Levels (Dremel): `def` is the definition level of a present (non-null) value of this field;
  // for an array or a map, `rep` is the repetition level of its entries (their definition level
  // is def + 1).
  int def = 0;
  int rep = 0;
  // This field's leaves, contiguous in schema order: [first_leaf, first_leaf + leaf_count).
  int first_leaf = 0;
  int leaf_count = 0;
  int leaf = -1;  // a primitive's own leaf index
  // struct: child index by name (lower case).
  std::unordered_map<std::string, int> by_name;

  bool primitive() const { return kind < Kind::kArray; }
  std::string TypeName() const;  // Hive syntax: "array<struct<a:int>>"
};

// A primitive column of the Parquet file (a leaf of the schema tree).
struct Leaf {
  const Field* field = nullptr;
  Physical physical = Physical::kByteArray;
  int type_length = 0;  // FIXED_LEN_BYTE_ARRAY width
  int max_def = 0;
  int max_rep = 0;
  std::vector<std::string> path;  // path_in_schema
};

// Hive type text ("decimal(10,2)", "map<string,array<int>>"); kInvalidArgument says where it
// stops making sense. Names are ASCII letters, digits and '_', at most 128 characters; nesting at
// most 16 deep; decimal precision 1..38, scale 0..precision (decimal alone is decimal(10,0)).
base::Status ParseType(std::string_view text, Field* out);

class Schema {
 public:
  // Columns as a Hive DDL column list: "id bigint, user struct<name:string,age:int>, tags
  // array<string>" (commas between columns; newlines are spaces). Names are case-insensitive
  // (kept in lower case) and unique; at most 1000 leaves.
  static base::Result<Schema> Parse(std::string_view columns);

  Schema(Schema&&) = default;
  Schema& operator=(Schema&&) = default;

  const std::vector<Field>& columns() const { return root_->children; }
  const Field& root() const { return *root_; }
  const std::vector<Leaf>& leaves() const { return leaves_; }
  // FileMetaData.schema: the SchemaElement list, depth first (field id 2 of FileMetaData).
  void WriteElements(CompactWriter* w, int16_t field_id) const;
  // The column list back in Hive syntax (normalised).
  std::string ToString() const;

 private:
  Schema() = default;
  std::unique_ptr<Field> root_;
  std::vector<Leaf> leaves_;
};

// Parquet's physical type and FIXED_LEN_BYTE_ARRAY width for a primitive field.
Physical PhysicalOf(const Field& f, int* type_length);

}  // namespace sluice::parquet
