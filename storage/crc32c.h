// CRC32C for RocksDB at the speed of the CPU's own instructions.
//
// Design: every byte Sluice stores passes RocksDB's CRC32C in its WAL record, on the shard's
// thread before the sync the ack waits for (and again when the WAL is replayed at start; the
// tables' blocks use XXH3), and Debian's librocksdb is a portable build: it computes CRC32C with
// a lookup table, ~1 GB/s, 11 % of the server's CPU at 4 KiB records. RocksDB calls
// `rocksdb::crc32c::Extend` through its PLT, so the definition in crc32c.cc, linked into every
// binary that uses this library, takes its place for the whole process (ELF symbol
// interposition); it runs ISA-L's crc32_iscsi, which picks SSE4.2 / PCLMUL / AVX-512 code at run
// time (~17 GB/s here). Same function, same values: files written with it
// are read by any RocksDB and the other way round. If a RocksDB build stopped routing through
// the PLT, RocksDB would just compute its own (slower) CRC; Crc32cRoutedHere() tells which.
// Thread: all functions are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::storage {

// CRC32C (Castagnoli, as iSCSI and RocksDB) of `n` bytes, continuing from the CRC `crc` of the
// bytes before them (0 for none).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

// True when RocksDB computes its checksums through Crc32cExtend (checked by letting RocksDB's own
// CRC32C file-checksum generator run on a few bytes). Store::Open logs the answer.
bool Crc32cRoutedHere();

}  // namespace sluice::storage
