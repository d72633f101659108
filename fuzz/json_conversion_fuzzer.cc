// Fuzz target: record format conversion takes any bytes a producer put. Against a fixed schema
// with every type and nesting, each record is either converted (then the shredded levels are
// consistent with the schema and the Parquet file is well formed) or refused with a reason (and
// nothing of it is kept). The first byte picks the deserializer and its options.
#include <cstdint>
#include <string>
#include <string_view>

#include "parquet/json_converter.h"
#include "parquet/schema.h"
#include "parquet/writer.h"

using namespace sluice::parquet;

namespace {

const Schema& TheSchema() {
  static const Schema* s = new Schema(
      Schema::Parse("id bigint, name string, ok boolean, t tinyint, s smallint, i int, f float, d double, "
                    "small decimal(5,2), wide decimal(30,10), day date, ts timestamp, raw binary, "
                    "tags array<string>, nested array<array<int>>, m map<string,struct<a:int,b:array<double>>>, "
                    "im map<int,string>, u struct<x:string,y:struct<z:timestamp,w:map<string,bigint>>>")
          .value());
  return *s;
}

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (1u << 20)) return 0;
  const Schema& schema = TheSchema();
  ConverterOptions o;
  const uint8_t mode = data[0];
  if (mode & 1) {
    o.input = ConverterOptions::Input::kHive;
    if (mode & 2) o.timestamp_formats = {"yyyy-MM-dd'T'HH:mm:ss.SSSZ", "dd/MM/yyyy HH:mm", "millis"};
  } else {
    o.case_insensitive = !(mode & 2);
    o.dots_to_underscores = mode & 4;
    if (mode & 8) o.column_to_json_key = {{"id", "@id"}, {"ts", "time.stamp"}};
  }
  Check(ValidateConverterOptions(schema, o).ok());
  Converter converter(schema, o);
  Rows rows(schema);
  const std::string_view record(reinterpret_cast<const char*>(data + 1), size - 1);
  auto st = converter.Convert(record, &rows);
  if (!st.ok()) {
    Check(!st.message().empty());
    Check(rows.rows() == 0 && rows.bytes() == 0);
    return 0;
  }
  Check(rows.rows() >= 1);
  for (size_t l = 0; l < schema.leaves().size(); l++) {
    const Leaf& leaf = schema.leaves()[l];
    const Rows::Column& c = rows.columns()[l];
    Check(c.rep.size() == c.def.size());
    size_t starts = 0, present = 0;
    for (size_t k = 0; k < c.def.size(); k++) {
      Check(c.def[k] <= leaf.max_def && c.rep[k] <= leaf.max_rep);
      if (c.rep[k] == 0) starts++;
      if (c.def[k] == leaf.max_def) present++;
    }
    Check(!c.def.empty() && c.rep[0] == 0);
    Check(starts == rows.rows());  // every leaf has an entry starting each row
    if (leaf.physical == Physical::kByteArray) Check(c.lengths.size() == present);
  }
  WriterOptions w;
  w.page_size = 256;
  w.block_size = 4096;
  w.codec = static_cast<Codec>((mode >> 4) % 3);  // uncompressed, snappy, gzip
  w.version = (mode & 0x40) ? 2 : 1;
  FileWriter writer(schema, w);
  writer.Append(rows);
  writer.Append(rows);
  const std::string file = writer.Finish();
  Check(file.size() > 12 && file.compare(0, 4, "PAR1") == 0 && file.compare(file.size() - 4, 4, "PAR1") == 0);
  Check(writer.rows() == 2 * rows.rows());
  return 0;
}
