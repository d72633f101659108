#include "server/delivery/conversion.h"

namespace sluice::server {

base::Status ValidateConversion(ConversionConfig* c) {
  if (!c->on()) return base::Status::Ok();
  const std::string ctx = "conversion: ";
  auto schema = parquet::Schema::Parse(c->columns);
  if (!schema.ok()) return schema.status().WithContext(ctx + "columns");
  parquet::ConverterOptions o;
  if (c->input_format == "openx") {
    o.input = parquet::ConverterOptions::Input::kOpenX;
    if (!c->timestamp_formats.empty())
      return base::InvalidArgument(ctx + "timestamp_formats belongs to input_format = hive (the OpenX SerDe reads its own formats)");
  } else if (c->input_format == "hive") {
    o.input = parquet::ConverterOptions::Input::kHive;
    if (!c->column_to_json_key_mappings.empty() || c->convert_dots_in_json_keys_to_underscores || !c->case_insensitive)
      return base::InvalidArgument(ctx + "column_to_json_key_mappings, convert_dots_in_json_keys_to_underscores and "
                                   "case_insensitive belong to input_format = openx");
  } else {
    return base::InvalidArgument(ctx + "input_format must be openx or hive, got '" + c->input_format.substr(0, 32) + "'");
  }
  o.case_insensitive = c->case_insensitive;
  o.dots_to_underscores = c->convert_dots_in_json_keys_to_underscores;
  o.column_to_json_key = c->column_to_json_key_mappings;
  o.timestamp_formats = parquet::SplitTimestampFormats(c->timestamp_formats);
  RETURN_IF_ERROR(parquet::ValidateConverterOptions(schema.value(), o).WithContext(ctx.substr(0, ctx.size() - 2)));
  parquet::WriterOptions w;
  if (c->compression == "snappy") w.codec = parquet::Codec::kSnappy;
  else if (c->compression == "gzip") w.codec = parquet::Codec::kGzip;
  else if (c->compression == "zstd") w.codec = parquet::Codec::kZstd;
  else if (c->compression == "uncompressed") w.codec = parquet::Codec::kUncompressed;
  else return base::InvalidArgument(ctx + "compression must be snappy, gzip, zstd or uncompressed, got '" + c->compression.substr(0, 32) + "'");
  if (c->block_size_bytes < (64u << 20) || c->block_size_bytes > (1ull << 30))
    return base::InvalidArgument(ctx + "block_size_bytes must be 67108864..1073741824 (64 MiB..1 GiB), got " + std::to_string(c->block_size_bytes));
  if (c->page_size_bytes < (64u << 10) || c->page_size_bytes > (64u << 20))
    return base::InvalidArgument(ctx + "page_size_bytes must be 65536..67108864 (64 KiB..64 MiB), got " + std::to_string(c->page_size_bytes));
  w.block_size = c->block_size_bytes;
  w.page_size = static_cast<uint32_t>(c->page_size_bytes);
  w.dictionary = c->enable_dictionary_compression;
  if (c->writer_version == "v1") w.version = 1;
  else if (c->writer_version == "v2") w.version = 2;
  else return base::InvalidArgument(ctx + "writer_version must be v1 or v2, got '" + c->writer_version.substr(0, 32) + "'");
  w.created_by = "sluice";
  c->schema = std::make_shared<const parquet::Schema>(std::move(schema).value());
  c->converter = std::move(o);
  c->writer = std::move(w);
  return base::Status::Ok();
}

ConvertedObject ConvertRecords(const ConversionConfig& c, const std::vector<std::string_view>& records) {
  ConvertedObject out;
  parquet::Converter converter(*c.schema, c.converter);
  parquet::FileWriter writer(*c.schema, c.writer);
  parquet::Rows rows(*c.schema);
  for (size_t i = 0; i < records.size(); i++) {
    base::Status st = converter.Convert(records[i], &rows);
    if (!st.ok()) {
      out.failures.push_back({static_cast<uint32_t>(i), st.message()});
      continue;
    }
    writer.Append(rows);
    out.converted_bytes += records[i].size();
  }
  out.rows = static_cast<uint32_t>(writer.rows());
  if (out.failures.size() < records.size()) out.body = writer.Finish();
  return out;
}

}  // namespace sluice::server
