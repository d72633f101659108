// CRC32C: ISA-L's crc32_iscsi behind RocksDB's crc32c::Extend (see crc32c.h).
#include "storage/crc32c.h"

#include <isa-l/crc.h>
#include <rocksdb/file_checksum.h>

#include <memory>

namespace sluice::storage {
namespace {

// Set by the interposed Extend on the calling thread; read only by Crc32cRoutedHere's probe.
thread_local bool tls_extend_called = false;

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n) {
  // crc32_iscsi works on the raw register (no inversion) and takes an int length.
  uint32_t reg = ~crc;
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));  // ISA-L does not write it
  while (n > 0) {
    const size_t step = n < (size_t{1} << 30) ? n : (size_t{1} << 30);
    reg = crc32_iscsi(p, static_cast<int>(step), reg);
    p += step;
    n -= step;
  }
  return ~reg;
}

bool Crc32cRoutedHere() {
  std::shared_ptr<rocksdb::FileChecksumGenFactory> factory = rocksdb::GetFileChecksumGenCrc32cFactory();
  rocksdb::FileChecksumGenContext context;
  std::unique_ptr<rocksdb::FileChecksumGenerator> gen = factory->CreateFileChecksumGenerator(context);
  if (gen == nullptr) return false;
  tls_extend_called = false;
  gen->Update("sluice", 6);
  gen->Finalize();
  return tls_extend_called;
}

}  // namespace sluice::storage

// The interposed definition: same signature (and so the same mangled name) as RocksDB's
// util/crc32c.h, `uint32_t Extend(uint32_t init_crc, const char* data, size_t n)`. Exported from
// the executable (storage/CMakeLists.txt) so that librocksdb's PLT calls bind to it.
namespace rocksdb::crc32c {
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);
uint32_t Extend(uint32_t init_crc, const char* data, size_t n) {
  sluice::storage::tls_extend_called = true;
  return sluice::storage::Crc32cExtend(init_crc, data, n);
}
}  // namespace rocksdb::crc32c
