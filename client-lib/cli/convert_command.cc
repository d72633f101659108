// sluice convert: JSON lines on stdin -> one Parquet file, with the same schema, deserializer and
// writer a stream's [stream.conversion] uses (parquet/). For trying a schema on sample records
// before configuring a stream, and for scripts/bench (records/s converted on one core).
#include <libdeflate.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "client-lib/cli/bench_payload.h"
#include "client-lib/cli/put_command.h"
#include "parquet/json_converter.h"
#include "parquet/schema.h"
#include "parquet/writer.h"

namespace sluice::cli {

int RunConvert(const ConvertOptions& o) {
  auto schema = parquet::Schema::Parse(o.columns);
  if (!schema.ok()) {
    std::fprintf(stderr, "sluice convert: --columns: %s\n", schema.status().message().c_str());
    return 2;
  }
  parquet::ConverterOptions co;
  co.input = o.input == "hive" ? parquet::ConverterOptions::Input::kHive : parquet::ConverterOptions::Input::kOpenX;
  co.timestamp_formats = parquet::SplitTimestampFormats(o.timestamp_formats);
  if (auto st = parquet::ValidateConverterOptions(schema.value(), co); !st.ok()) {
    std::fprintf(stderr, "sluice convert: %s\n", st.message().c_str());
    return 2;
  }
  parquet::WriterOptions wo;
  wo.codec = o.compression == "gzip"           ? parquet::Codec::kGzip
             : o.compression == "zstd"         ? parquet::Codec::kZstd
             : o.compression == "uncompressed" ? parquet::Codec::kUncompressed
                                               : parquet::Codec::kSnappy;
  wo.version = o.writer_version == "v2" ? 2 : 1;
  wo.dictionary = !o.no_dictionary;
  // Read everything first: the figure is the conversion's, not the pipe's.
  std::vector<std::string> lines;
  uint64_t in_bytes = 0;
  if (o.sample > 0) {  // the benchmark's realistic JSON records (sluice bench --payload json)
    lines.resize(o.sample);
    for (uint64_t i = 0; i < o.sample; i++) {
      lines[i].resize(o.record_size);
      FillPayload(Payload::kJson, lines[i].data(), o.record_size, i, 1);
      in_bytes += o.record_size;
    }
  } else {
    for (std::string line; std::getline(std::cin, line);) {
      in_bytes += line.size();
      lines.push_back(std::move(line));
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  parquet::Converter converter(schema.value(), co);
  parquet::FileWriter writer(schema.value(), wo);
  parquet::Rows rows(schema.value());
  uint64_t refused = 0;
  for (size_t i = 0; i < lines.size(); i++) {
    auto st = converter.Convert(lines[i], &rows);
    if (!st.ok()) {
      if (refused++ < 5) std::fprintf(stderr, "sluice convert: line %zu refused: %s\n", i + 1, st.message().c_str());
      continue;
    }
    writer.Append(rows);
  }
  const uint64_t converted_rows = writer.rows();
  const std::string file = writer.Finish();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o.output.empty()) {
    std::ofstream out(o.output, std::ios::binary);
    out << file;
    if (!out) {
      std::fprintf(stderr, "sluice convert: cannot write %s\n", o.output.c_str());
      return 2;
    }
  }
  const double rate = s > 0 ? static_cast<double>(lines.size()) / s : 0;
  // What Firehose without conversion would store: the JSON lines gzip'd (level 6).
  std::string text;
  text.reserve(in_bytes + lines.size());
  for (const std::string& l : lines) text.append(l).push_back('\n');
  libdeflate_compressor* gz = libdeflate_alloc_compressor(6);
  std::string gzipped(libdeflate_gzip_compress_bound(gz, text.size()), '\0');
  const size_t gzip_bytes = libdeflate_gzip_compress(gz, text.data(), text.size(), gzipped.data(), gzipped.size());
  libdeflate_free_compressor(gz);
  if (o.json) {
    std::printf("{\"records\":%zu,\"rows\":%llu,\"refused\":%llu,\"input_bytes\":%llu,\"parquet_bytes\":%zu,"
                "\"json_gzip_bytes\":%zu,\"seconds\":%.6f,\"records_per_s\":%.0f,\"mb_per_s\":%.1f}\n",
                lines.size(), static_cast<unsigned long long>(converted_rows), static_cast<unsigned long long>(refused),
                static_cast<unsigned long long>(in_bytes), file.size(), gzip_bytes, s, rate,
                s > 0 ? static_cast<double>(in_bytes) / s / 1e6 : 0);
  } else {
    std::fprintf(stderr, "sluice convert: %zu records (%llu bytes): %llu rows, %llu refused; %zu bytes of Parquet "
                 "(the JSON lines gzip -6: %zu) in %.3f s (%.0f records/s)\n",
                 lines.size(), static_cast<unsigned long long>(in_bytes), static_cast<unsigned long long>(converted_rows),
                 static_cast<unsigned long long>(refused), file.size(), gzip_bytes, s, rate);
  }
  return refused ? 1 : 0;
}

}  // namespace sluice::cli
