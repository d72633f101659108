// CompactWriter: the Thrift compact protocol, write side only: what a Parquet footer and page
// headers need (structs, i8/i32/i64, bool, binary, lists). Field ids and types are the caller's
// (parquet/format.h mirrors parquet.thrift). Why not libthrift: see parquet/README.md.
//
// Encoding (Thrift's compact protocol specification): a field header is one byte
// (id delta << 4 | type) when the id is 1..15 above the previous field of the same struct, else
// the type byte and the id as a zigzag varint; integers are zigzag varints; binary is a varint
// length and the bytes; a bool field carries its value in the type nibble; a list header is
// (size << 4 | element type) below 15 elements, else 0xF0 | type and a varint size; a struct
// ends with a 0 byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::parquet {

class CompactWriter {
 public:
  enum Type : uint8_t {
    kTrue = 1, kFalse = 2, kByte = 3, kI16 = 4, kI32 = 5, kI64 = 6, kDouble = 7, kBinary = 8,
    kList = 9, kSet = 10, kMap = 11, kStruct = 12,
  };

  explicit CompactWriter(std::string* out) : out_(out) { last_.push_back(0); }

  void I32(int16_t id, int32_t v) { Field(id, kI32); ZigZag(v); }
  void I64(int16_t id, int64_t v) { Field(id, kI64); ZigZag(v); }
  void I16(int16_t id, int16_t v) { Field(id, kI16); ZigZag(v); }
  void I8(int16_t id, int8_t v) { Field(id, kByte); out_->push_back(static_cast<char>(v)); }
  void Bool(int16_t id, bool v) { Field(id, v ? kTrue : kFalse); }
  void Binary(int16_t id, std::string_view v) { Field(id, kBinary); BinaryValue(v); }
  // A nested struct: BeginStruct(id) ... EndStruct().
  void BeginStruct(int16_t id) { Field(id, kStruct); last_.push_back(0); }
  void EndStruct() { out_->push_back(0); last_.pop_back(); }
  // A list field: BeginList(id, type, n), then n elements written with the *Value calls (or
  // BeginListStruct/EndStruct for struct elements).
  void BeginList(int16_t id, Type element, size_t n) {
    Field(id, kList);
    if (n < 15) {
      out_->push_back(static_cast<char>((n << 4) | element));
    } else {
      out_->push_back(static_cast<char>(0xF0 | element));
      Varint(n);
    }
  }
  void BeginListStruct() { last_.push_back(0); }
  void I32Value(int32_t v) { ZigZag(v); }
  void BinaryValue(std::string_view v) {
    Varint(v.size());
    out_->append(v);
  }
  // The outermost struct's stop byte (a top-level struct has no field header).
  void End() { out_->push_back(0); }

 private:
  void Field(int16_t id, Type t) {
    int16_t& last = last_.back();
    if (id > last && id - last <= 15) {
      out_->push_back(static_cast<char>(((id - last) << 4) | t));
    } else {
      out_->push_back(static_cast<char>(t));
      ZigZag(id);
    }
    last = id;
  }
  void ZigZag(int64_t v) { Varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }

  std::string* out_;
  std::vector<int16_t> last_;  // the previous field id of each open struct
};

}  // namespace sluice::parquet
