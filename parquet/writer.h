// FileWriter: Parquet files in memory, from shredded rows (Rows: the converter's output).
//
// Layout: "PAR1", row groups (a new one once the buffered data reaches block_size bytes), each a
// column chunk per leaf: an optional dictionary page, then data pages of about page_size bytes,
// cut between records; then the footer (FileMetaData, Thrift compact), its length and "PAR1".
// Values: dictionary indices (RLE / bit-packed) while the dictionary pays for itself (smaller
// than the plain values on the chunk's first page) and stays under page_size bytes; otherwise
// DELTA_BINARY_PACKED for INT32/INT64 and PLAIN for the rest. Levels: the RLE / bit-packed hybrid. Statistics per chunk: min, max (as the column's type orders them),
// null count. Pages are compressed with the codec; nothing wraps the file.
// Thread: one owner (a delivery worker converts one segment).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parquet/schema.h"

namespace sluice::parquet {

// parquet.thrift's CompressionCodec values.
enum class Codec : int32_t { kUncompressed = 0, kSnappy = 1, kGzip = 2, kZstd = 6 };

struct WriterOptions {
  Codec codec = Codec::kSnappy;
  uint64_t block_size = 256ull << 20;  // row group size (uncompressed bytes, estimated)
  uint32_t page_size = 1u << 20;       // data page size (before compression)
  bool dictionary = true;
  int version = 1;                     // 1: DATA_PAGE (V1); 2: DATA_PAGE_V2
  std::string created_by = "sluice";
};

// The shredded values of one or more rows: per leaf, its levels and values in order.
class Rows {
 public:
  explicit Rows(const Schema& schema) : columns_(schema.leaves().size()) {}

  struct Column {
    std::vector<uint8_t> rep, def;
    std::string values;              // fixed width: little-endian (FLBA: big-endian); bytes: concatenated
    std::vector<uint32_t> lengths;   // BYTE_ARRAY values' lengths
    void Clear() {
      rep.clear();
      def.clear();
      values.clear();
      lengths.clear();
    }
  };

  void Clear() {
    for (Column& c : columns_) c.Clear();
    rows_ = 0;
  }
  void EndRow() { rows_++; }
  void Null(int leaf, int rep, int def) { Levels(leaf, rep, def); }
  void Fixed(int leaf, int rep, int def, const void* bytes, size_t n) {
    Levels(leaf, rep, def);
    columns_[leaf].values.append(static_cast<const char*>(bytes), n);
  }
  void Bytes(int leaf, int rep, int def, std::string_view v) {
    Levels(leaf, rep, def);
    columns_[leaf].values.append(v);
    columns_[leaf].lengths.push_back(static_cast<uint32_t>(v.size()));
  }
  const std::vector<Column>& columns() const { return columns_; }
  size_t rows() const { return rows_; }
  size_t bytes() const {
    size_t n = 0;
    for (const Column& c : columns_) n += c.values.size() + c.def.size() + c.rep.size();
    return n;
  }

 private:
  void Levels(int leaf, int rep, int def) {
    columns_[leaf].rep.push_back(static_cast<uint8_t>(rep));
    columns_[leaf].def.push_back(static_cast<uint8_t>(def));
  }
  std::vector<Column> columns_;
  size_t rows_ = 0;
};

class ColumnWriter;

class FileWriter {
 public:
  FileWriter(const Schema& schema, WriterOptions options);
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  // Appends whole rows (one record's); page and row-group cuts fall between calls.
  void Append(const Rows& rows);
  // The file. The writer is spent afterwards.
  std::string Finish();
  uint64_t rows() const { return total_rows_; }

 private:
  void FinishRowGroup();

  const Schema& schema_;
  const WriterOptions options_;
  std::vector<std::unique_ptr<ColumnWriter>> columns_;
  std::string out_;
  std::string row_groups_;  // the RowGroup structs of the footer, already encoded
  int row_group_count_ = 0;
  uint64_t group_rows_ = 0;
  uint64_t total_rows_ = 0;
};

// Compresses one page with a codec (also the file-level helpers' and tests' way in).
void CompressPage(Codec codec, std::string_view in, std::string* out);

}  // namespace sluice::parquet
