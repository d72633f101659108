#include "parquet/writer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <unordered_map>

#include <libdeflate.h>
#include <snappy.h>
#include <zstd.h>

#include "parquet/encoding.h"
#include "parquet/thrift_compact.h"

namespace sluice::parquet {
namespace {

// parquet.thrift enums.
enum Encoding : int32_t { kPlain = 0, kPlainDictionary = 2, kRle = 3, kDeltaBinaryPacked = 5, kRleDictionary = 8 };
enum PageType : int32_t { kDataPage = 0, kDictionaryPage = 2, kDataPageV2 = 3 };

constexpr size_t kMaxStatBytes = 4096;  // longer min/max values are left out of the statistics

struct ViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view v) const { return std::hash<std::string_view>()(v); }
};

void PutU32(uint32_t v, std::string* out) {
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16), static_cast<char>(v >> 24)};
  out->append(b, 4);
}

}  // namespace

void CompressPage(Codec codec, std::string_view in, std::string* out) {
  switch (codec) {
    case Codec::kUncompressed:
      out->assign(in);
      return;
    case Codec::kSnappy:
      out->clear();
      snappy::Compress(in.data(), in.size(), out);
      return;
    case Codec::kGzip: {
      libdeflate_compressor* c = libdeflate_alloc_compressor(6);
      out->resize(libdeflate_gzip_compress_bound(c, in.size()));
      size_t n = libdeflate_gzip_compress(c, in.data(), in.size(), out->data(), out->size());
      libdeflate_free_compressor(c);
      out->resize(n);
      return;
    }
    case Codec::kZstd: {
      out->resize(ZSTD_compressBound(in.size()));
      size_t n = ZSTD_compress(out->data(), out->size(), in.data(), in.size(), 3);
      out->resize(ZSTD_isError(n) ? 0 : n);
      return;
    }
  }
}

// One leaf's column chunk in the making.
class ColumnWriter {
 public:
  ColumnWriter(const Leaf& leaf, const WriterOptions& o)
      : leaf_(leaf), o_(o), dict_on_(o.dictionary && leaf.physical != Physical::kBoolean) {
    switch (leaf.physical) {
      case Physical::kBoolean: width_ = 1; break;
      case Physical::kInt32:
      case Physical::kFloat: width_ = 4; break;
      case Physical::kInt64:
      case Physical::kDouble: width_ = 8; break;
      case Physical::kFixedLenByteArray: width_ = static_cast<size_t>(leaf.type_length); break;
      default: width_ = 0; break;  // BYTE_ARRAY
    }
  }

  void Add(const Rows::Column& c) {
    size_t off = 0, k = 0;
    for (size_t i = 0; i < c.def.size(); i++) {
      rep_.push_back(c.rep[i]);
      def_.push_back(c.def[i]);
      if (c.rep[i] == 0) page_rows_++;
      page_values_++;
      if (c.def[i] != leaf_.max_def) {
        page_nulls_++;
        continue;
      }
      size_t n = width_ ? width_ : c.lengths[k++];
      std::string_view v(c.values.data() + off, n);
      off += n;
      Stat(v);
      page_plain_bytes_ += n + (width_ ? 0 : 4);
      if (dict_on_) {
        auto it = dict_index_.find(v);
        uint32_t index;
        if (it != dict_index_.end()) {
          index = it->second;
        } else {
          index = static_cast<uint32_t>(dict_index_.size());
          dict_index_.emplace(std::string(v), index);
          dict_count_++;
          const size_t at = dict_plain_.size();
          Plain(v, &dict_plain_);
          dict_entries_.emplace_back(static_cast<uint32_t>(at), static_cast<uint32_t>(dict_plain_.size() - at));
        }
        indices_.push_back(index);
      } else if (leaf_.physical == Physical::kBoolean) {
        bools_.push_back(static_cast<uint8_t>(v[0]));
      } else {
        Plain(v, &plain_);
      }
    }
  }

  // Between records: a full page is written; a dictionary past its limit ends here (the
  // chunk's later pages are PLAIN).
  void MaybeFlushPage() {
    if (dict_on_ && dict_plain_.size() > o_.page_size) {
      FlushPage();  // may drop the dictionary already (the first page)
      dict_on_ = false;
      dict_index_.clear();
    } else if (PageBytes() >= o_.page_size) {
      FlushPage();
    }
  }

  uint64_t BufferedBytes() const { return pages_uncompressed_ + PageBytes() + dict_plain_.size(); }

  // Writes the chunk at the end of `out` and encodes its ColumnChunk into `meta`; resets for the
  // next row group.
  void Finish(std::string* out, CompactWriter* meta, uint64_t* uncompressed, uint64_t* compressed) {
    FlushPage();
    const int64_t start = static_cast<int64_t>(out->size());
    int64_t dict_offset = -1;
    std::set<int32_t> encodings{kRle};
    uint64_t total_u = pages_uncompressed_, total_c = pages_.size();
    if (dict_pages_used_) {
      dict_offset = start;
      std::string body;
      CompressPage(o_.codec, dict_plain_, &body);
      std::string header;
      CompactWriter h(&header);
      h.I32(1, kDictionaryPage);
      h.I32(2, static_cast<int32_t>(dict_plain_.size()));
      h.I32(3, static_cast<int32_t>(body.size()));
      h.BeginStruct(7);
      h.I32(1, static_cast<int32_t>(dict_count_));
      h.I32(2, o_.version == 1 ? kPlainDictionary : kPlain);
      h.EndStruct();
      h.End();
      out->append(header);
      out->append(body);
      total_u += header.size() + dict_plain_.size();
      total_c += header.size() + body.size();
      encodings.insert(o_.version == 1 ? kPlainDictionary : kPlain);
      encodings.insert(o_.version == 1 ? kPlainDictionary : kRleDictionary);
    }
    if (plain_pages_used_) encodings.insert(kPlain);
    if (delta_pages_used_) encodings.insert(kDeltaBinaryPacked);
    const int64_t data_offset = static_cast<int64_t>(out->size());
    out->append(pages_);

    meta->BeginListStruct();  // ColumnChunk
    meta->I64(2, start);
    meta->BeginStruct(3);  // ColumnMetaData
    meta->I32(1, static_cast<int32_t>(leaf_.physical));
    meta->BeginList(2, CompactWriter::kI32, encodings.size());
    for (int32_t e : encodings) meta->I32Value(e);
    meta->BeginList(3, CompactWriter::kBinary, leaf_.path.size());
    for (const std::string& p : leaf_.path) meta->BinaryValue(p);
    meta->I32(4, static_cast<int32_t>(o_.codec));
    meta->I64(5, static_cast<int64_t>(num_values_));
    meta->I64(6, static_cast<int64_t>(total_u));
    meta->I64(7, static_cast<int64_t>(total_c));
    meta->I64(9, data_offset);
    if (dict_offset >= 0) meta->I64(11, dict_offset);
    meta->BeginStruct(12);  // Statistics: 3 null_count, 5 max_value, 6 min_value
    meta->I64(3, static_cast<int64_t>(null_count_));
    if (has_stats_ && !stats_too_long_) {
      meta->Binary(5, max_);
      meta->Binary(6, min_);
    }
    meta->EndStruct();
    meta->EndStruct();
    meta->EndStruct();
    *uncompressed += total_u;
    *compressed += total_c;

    // The next row group starts afresh (its own dictionary and statistics).
    pages_.clear();
    pages_uncompressed_ = 0;
    dict_plain_.clear();
    dict_index_.clear();
    dict_entries_.clear();
    dict_count_ = 0;
    dict_on_ = o_.dictionary && leaf_.physical != Physical::kBoolean;
    dict_pages_used_ = plain_pages_used_ = delta_pages_used_ = false;
    num_values_ = null_count_ = 0;
    has_stats_ = stats_too_long_ = false;
    min_.clear();
    max_.clear();
  }

 private:
  size_t PageBytes() const {
    return plain_.size() + indices_.size() * 3 + bools_.size() / 8 + (def_.size() + rep_.size()) / 4;
  }

  void Plain(std::string_view v, std::string* out) const {
    if (width_ == 0) PutU32(static_cast<uint32_t>(v.size()), out);
    out->append(v);
  }

  int Compare(std::string_view a, std::string_view b) const {
    switch (leaf_.physical) {
      case Physical::kBoolean: return static_cast<int>(a[0]) - static_cast<int>(b[0]);
      case Physical::kInt32: return Cmp<int32_t>(a, b);
      case Physical::kInt64: return Cmp<int64_t>(a, b);
      case Physical::kFloat: return Cmp<float>(a, b);
      case Physical::kDouble: return Cmp<double>(a, b);
      case Physical::kFixedLenByteArray: {  // big-endian two's complement: signed first byte
        int8_t x = static_cast<int8_t>(a[0]), y = static_cast<int8_t>(b[0]);
        if (x != y) return x < y ? -1 : 1;
        return a.substr(1).compare(b.substr(1));
      }
      default: return a.compare(b);  // unsigned byte-wise
    }
  }
  template <typename T>
  static int Cmp(std::string_view a, std::string_view b) {
    T x, y;
    std::memcpy(&x, a.data(), sizeof(T));
    std::memcpy(&y, b.data(), sizeof(T));
    return x < y ? -1 : (y < x ? 1 : 0);
  }

  void Stat(std::string_view v) {
    if (leaf_.physical == Physical::kFloat || leaf_.physical == Physical::kDouble) {
      double d;
      if (leaf_.physical == Physical::kFloat) {
        float f;
        std::memcpy(&f, v.data(), 4);
        d = f;
      } else {
        std::memcpy(&d, v.data(), 8);
      }
      if (std::isnan(d)) return;  // NaN orders nowhere: readers ignore it in min/max
    }
    if (v.size() > kMaxStatBytes) {
      stats_too_long_ = true;
      return;
    }
    if (!has_stats_) {
      min_.assign(v);
      max_.assign(v);
      has_stats_ = true;
      return;
    }
    if (Compare(v, min_) < 0) min_.assign(v);
    if (Compare(v, max_) > 0) max_.assign(v);
  }

  // The chunk's first page decides whether the dictionary pays (as parquet-mr does): when the
  // dictionary and its indices are not smaller than the values themselves, the page is written
  // without it, and so is the rest of the chunk.
  bool DictionaryPays() const {
    const size_t index_bytes = indices_.size() * static_cast<size_t>(BitWidth(dict_count_ > 0 ? dict_count_ - 1 : 0)) / 8 + 1;
    return dict_plain_.size() + index_bytes < page_plain_bytes_;
  }

  void DropDictionary() {
    for (uint32_t index : indices_) {
      const auto [at, n] = dict_entries_[index];
      if (leaf_.physical == Physical::kBoolean) bools_.push_back(static_cast<uint8_t>(dict_plain_[at]));
      else plain_.append(dict_plain_, at, n);
    }
    indices_.clear();
    dict_on_ = false;
    dict_index_.clear();
    dict_entries_.clear();
    dict_plain_.clear();
    dict_count_ = 0;
  }

  // PLAIN values of an INT32/INT64 page as DELTA_BINARY_PACKED.
  void EncodeDelta(std::string* out) const {
    const bool int32 = leaf_.physical == Physical::kInt32;
    std::vector<int64_t> v(plain_.size() / width_);
    for (size_t i = 0; i < v.size(); i++) {
      if (int32) {
        int32_t x;
        std::memcpy(&x, plain_.data() + 4 * i, 4);
        v[i] = x;
      } else {
        std::memcpy(&v[i], plain_.data() + 8 * i, 8);
      }
    }
    EncodeDeltaBinaryPacked(v, int32, out);
  }

  void FlushPage() {
    if (page_values_ == 0) return;
    if (!indices_.empty() && !dict_pages_used_ && !DictionaryPays()) DropDictionary();
    const bool dict = !indices_.empty();
    const bool delta = !dict && (leaf_.physical == Physical::kInt32 || leaf_.physical == Physical::kInt64);
    std::string levels_rep, levels_def, values;
    if (leaf_.max_rep > 0) EncodeHybrid(std::span<const uint8_t>(rep_), BitWidth(leaf_.max_rep), &levels_rep);
    if (leaf_.max_def > 0) EncodeHybrid(std::span<const uint8_t>(def_), BitWidth(leaf_.max_def), &levels_def);
    if (dict) {
      const int w = std::max(1, BitWidth(dict_count_ > 0 ? dict_count_ - 1 : 0));
      values.push_back(static_cast<char>(w));
      EncodeHybrid(std::span<const uint32_t>(indices_), w, &values);
      dict_pages_used_ = true;
    } else if (leaf_.physical == Physical::kBoolean) {
      EncodeBooleans(bools_, &values);
      plain_pages_used_ = true;
    } else if (delta) {
      EncodeDelta(&values);
      delta_pages_used_ = true;
    } else {
      values = std::move(plain_);
      plain_pages_used_ = true;
    }
    const int32_t encoding = dict ? (o_.version == 1 ? kPlainDictionary : kRleDictionary) : delta ? kDeltaBinaryPacked : kPlain;
    std::string header, body;
    CompactWriter h(&header);
    size_t uncompressed;
    if (o_.version == 1) {
      std::string raw;
      if (leaf_.max_rep > 0) {
        PutU32(static_cast<uint32_t>(levels_rep.size()), &raw);
        raw.append(levels_rep);
      }
      if (leaf_.max_def > 0) {
        PutU32(static_cast<uint32_t>(levels_def.size()), &raw);
        raw.append(levels_def);
      }
      raw.append(values);
      CompressPage(o_.codec, raw, &body);
      uncompressed = raw.size();
      h.I32(1, kDataPage);
      h.I32(2, static_cast<int32_t>(uncompressed));
      h.I32(3, static_cast<int32_t>(body.size()));
      h.BeginStruct(5);
      h.I32(1, static_cast<int32_t>(page_values_));
      h.I32(2, encoding);
      h.I32(3, kRle);
      h.I32(4, kRle);
      h.EndStruct();
    } else {
      std::string compressed;
      CompressPage(o_.codec, values, &compressed);
      body = levels_rep + levels_def + compressed;
      uncompressed = levels_rep.size() + levels_def.size() + values.size();
      h.I32(1, kDataPageV2);
      h.I32(2, static_cast<int32_t>(uncompressed));
      h.I32(3, static_cast<int32_t>(body.size()));
      h.BeginStruct(8);
      h.I32(1, static_cast<int32_t>(page_values_));
      h.I32(2, static_cast<int32_t>(page_nulls_));
      h.I32(3, static_cast<int32_t>(page_rows_));
      h.I32(4, encoding);
      h.I32(5, static_cast<int32_t>(levels_def.size()));
      h.I32(6, static_cast<int32_t>(levels_rep.size()));
      h.Bool(7, o_.codec != Codec::kUncompressed);
      h.EndStruct();
    }
    h.End();
    pages_.append(header);
    pages_.append(body);
    pages_uncompressed_ += header.size() + uncompressed;
    num_values_ += page_values_;
    null_count_ += page_nulls_;
    rep_.clear();
    def_.clear();
    plain_.clear();
    indices_.clear();
    bools_.clear();
    page_values_ = page_nulls_ = page_rows_ = 0;
    page_plain_bytes_ = 0;
  }

  const Leaf& leaf_;
  const WriterOptions& o_;
  size_t width_ = 0;
  // The page being filled.
  std::vector<uint8_t> rep_, def_, bools_;
  std::string plain_;
  std::vector<uint32_t> indices_;
  uint64_t page_values_ = 0, page_nulls_ = 0, page_rows_ = 0;
  size_t page_plain_bytes_ = 0;  // the page's values PLAIN-encoded (what the dictionary must beat)
  // The chunk.
  bool dict_on_;
  std::unordered_map<std::string, uint32_t, ViewHash, std::equal_to<>> dict_index_;
  std::string dict_plain_;
  std::vector<std::pair<uint32_t, uint32_t>> dict_entries_;  // each entry's place in dict_plain_
  uint32_t dict_count_ = 0;
  bool dict_pages_used_ = false, plain_pages_used_ = false, delta_pages_used_ = false;
  std::string pages_;
  uint64_t pages_uncompressed_ = 0;
  uint64_t num_values_ = 0, null_count_ = 0;
  bool has_stats_ = false, stats_too_long_ = false;
  std::string min_, max_;
};

FileWriter::FileWriter(const Schema& schema, WriterOptions options) : schema_(schema), options_(std::move(options)) {
  for (const Leaf& leaf : schema_.leaves()) columns_.push_back(std::make_unique<ColumnWriter>(leaf, options_));
  out_ = "PAR1";
}

FileWriter::~FileWriter() = default;

void FileWriter::Append(const Rows& rows) {
  const auto& cols = rows.columns();
  for (size_t i = 0; i < columns_.size(); i++) columns_[i]->Add(cols[i]);
  group_rows_ += rows.rows();
  total_rows_ += rows.rows();
  uint64_t buffered = 0;
  for (auto& c : columns_) {
    c->MaybeFlushPage();
    buffered += c->BufferedBytes();
  }
  if (buffered >= options_.block_size) FinishRowGroup();
}

void FileWriter::FinishRowGroup() {
  if (group_rows_ == 0) return;
  const int64_t start = static_cast<int64_t>(out_.size());
  std::string chunks;
  CompactWriter meta(&chunks);
  uint64_t uncompressed = 0, compressed = 0;
  for (auto& c : columns_) c->Finish(&out_, &meta, &uncompressed, &compressed);
  // RowGroup: 1 columns, 2 total_byte_size, 3 num_rows, 5 file_offset, 6 total_compressed_size, 7 ordinal.
  CompactWriter g(&row_groups_);
  g.BeginListStruct();
  g.BeginList(1, CompactWriter::kStruct, columns_.size());
  row_groups_.append(chunks);
  g.I64(2, static_cast<int64_t>(uncompressed));
  g.I64(3, static_cast<int64_t>(group_rows_));
  g.I64(5, start);
  g.I64(6, static_cast<int64_t>(compressed));
  g.I16(7, static_cast<int16_t>(row_group_count_));
  g.EndStruct();
  row_group_count_++;
  group_rows_ = 0;
}

std::string FileWriter::Finish() {
  FinishRowGroup();
  const size_t footer_start = out_.size();
  CompactWriter w(&out_);
  w.I32(1, options_.version);
  schema_.WriteElements(&w, 2);
  w.I64(3, static_cast<int64_t>(total_rows_));
  w.BeginList(4, CompactWriter::kStruct, static_cast<size_t>(row_group_count_));
  out_.append(row_groups_);
  w.Binary(6, options_.created_by);
  w.BeginList(7, CompactWriter::kStruct, columns_.size());  // ColumnOrder: TYPE_ORDER for each
  for (size_t i = 0; i < columns_.size(); i++) {
    w.BeginListStruct();
    w.BeginStruct(1);
    w.EndStruct();
    w.EndStruct();
  }
  w.End();
  PutU32(static_cast<uint32_t>(out_.size() - footer_start), &out_);
  out_.append("PAR1");
  return std::move(out_);
}

}  // namespace sluice::parquet
