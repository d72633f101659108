// Store: the RocksDB database behind a Sluice data dir. The only code that includes rocksdb/.
//
// Design: one DB, four column families.
//   default   - meta: per-shard next sequence number ("seq" + shard u16 BE -> u64 BE), the
//               next stream id ("next_stream_id" -> u32 BE)
//   records   - record chunks keyed by (stream, shard, seq) (keys.h, record_chunk.h)
//   segments  - sealed segment descriptors keyed by (stream, shard, first_seq)
//   catalog   - "stream/<name>" -> stream entry (id, creation time, config)
// Durability: a Write with sync=true returns only after the WAL is fsynced; concurrent writers
// share fsyncs through RocksDB's group commit. WAL recovery mode is kTolerateCorruptedTailRecords:
// a torn tail (never acked, since acks follow the sync) is dropped, but corruption in the middle
// of the WAL makes Open fail loudly instead of silently losing acknowledged records.
// Thread: every method is thread-safe (RocksDB's DB is); catalog updates take catalog_mu_.
// Callbacks (ChunkFn, SegmentFn) must not call back into the Store.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/keys.h"
#include "storage/record_chunk.h"
#include "storage/segment.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
class Statistics;
class SstFileManager;
}  // namespace rocksdb

namespace sluice::storage {

struct StoreOptions {
  // Directory of the RocksDB database. Default: none (required). Reloadable: no.
  std::string path;
  // Open without taking RocksDB's lock and without writing (offline inspection). The WAL is
  // replayed in memory. Default: false. Reloadable: no.
  bool read_only = false;
  // Memtable size of the records column family; bounds memory with max_write_buffers.
  // Default: 64 MiB. Reloadable: no.
  uint64_t write_buffer_bytes = 64u << 20;
  // Every write is refused (kIOError "no space: ...") while the file system holding the database
  // has less than this free, so RocksDB itself never meets ENOSPC: Debian's assert-enabled
  // RocksDB 7.8 aborts the process when a WAL writer is used again after a failed append.
  // Default: 32 MiB. Reloadable: no.
  uint64_t min_free_bytes = 32u << 20;
  // Compress the write-ahead log with ZSTD (RocksDB's wal_compression): fewer bytes written per
  // acknowledged byte for compressible records, at some CPU on the commit path. Default: false.
  // Reloadable: no (a WAL written either way is read back either way).
  bool wal_compression = false;
  // Block compression of the records column family's SST files (what memtable flushes and
  // compactions write): "none", "lz4" or "zstd". Default: "none". Reloadable: no (files written
  // either way are read back either way).
  std::string records_compression = "none";
};

struct StreamEntry {
  std::string name;
  uint32_t id = 0;
  uint32_t version = 1;  // starts at 1, +1 whenever the config text changes (object names use it)
  int64_t created_unix_ms = 0;
  int64_t updated_unix_ms = 0;
  uint32_t flags = 0;  // the server's bits (paused, deleting, ...: server/stream_registry.h)
  std::string config;  // the stream's settings, as the TOML text they were declared with
};

// A set of writes applied atomically by Store::Write.
// Thread: one owner (a shard); not thread-safe.
class Store;
class WriteBatch {
 public:
  // REQUIRES: `store` outlives the batch.
  explicit WriteBatch(Store* store);
  ~WriteBatch();
  WriteBatch(const WriteBatch&) = delete;
  WriteBatch& operator=(const WriteBatch&) = delete;

  void PutChunk(const RecordKey& key, std::string_view chunk);
  void PutNextSeq(uint16_t shard, uint64_t next_seq);
  // Records (or replaces) a segment descriptor.
  void PutSegment(const SegmentDescriptor& d);
  // Removes a segment's records and descriptor (as Store::DeleteSegment, inside this batch).
  void DeleteSegment(const SegmentDescriptor& d);
  size_t bytes() const;
  bool empty() const;
  void Clear();

 private:
  friend class Store;
  Store* store_;
  std::unique_ptr<rocksdb::WriteBatch> rep_;
  std::string key_;
};

class Store {
 public:
  // Opens (creating if needed) the database. Returns kCorruption when the WAL or the files are
  // damaged in a way that would lose acknowledged data, kIOError / kBusy when the directory
  // cannot be opened or is locked by another process.
  static base::Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  // Closes in the only safe order for Debian's assert-enabled RocksDB: column-family handles,
  // then Close(), then delete. REQUIRES: no iterator of this store is alive.
  ~Store();

  // Applies `batch` atomically. With sync=true, returns only after the WAL is fsynced.
  // Returns kIOError (disk full, I/O failure) or kCorruption; never kNotFound.
  base::Status Write(WriteBatch* batch, bool sync);
  // Fsyncs the WAL (durability modes interval and none use this).
  base::Status SyncWal();
  // Free bytes of the database's file system for unprivileged writers (statvfs, cached 100 ms).
  uint64_t FreeBytes();

  // The next unused sequence number of `shard` (1 for a shard that never wrote).
  base::Result<uint64_t> NextSeq(uint16_t shard);

  // Returns the catalog entry for `name`, creating it with a new stable id if absent; an existing
  // entry keeps its id and creation time; a changed config is stored and bumps the version.
  // Synced before returning.
  base::Result<StreamEntry> RegisterStream(std::string_view name, std::string_view config,
                                           int64_t now_unix_ms);
  base::Result<std::vector<StreamEntry>> ListStreams();
  // Creates a catalog entry with a new stable id; kAlreadyExists when the name is taken.
  // Synced before returning.
  base::Result<StreamEntry> CreateStream(std::string_view name, std::string_view config,
                                         uint32_t flags, int64_t now_unix_ms);
  // Replaces an existing entry (config, version, flags, times) as given. Synced.
  base::Status PutStreamEntry(const StreamEntry& entry);
  // Removes the entry. Its id is never reused. Synced.
  base::Status DeleteStreamEntry(std::string_view name);
  // True when any record chunk of the stream is still stored.
  base::Result<bool> HasRecords(uint32_t stream_id);

  // Calls fn for every chunk of the stream in key order; stops at and returns the first error
  // from fn, a chunk that fails its checksum (kCorruption), or RocksDB.
  using ChunkFn = std::function<base::Status(const RecordKey&, const ChunkView&)>;
  base::Status ScanStream(uint32_t stream_id, const ChunkFn& fn);
  // Number of sealed segment descriptors of the stream.
  base::Result<uint64_t> CountSealedSegments(uint32_t stream_id);

  // --- Segments (the delivery pipeline) ---
  // Calls fn for every sealed segment of every stream, in key order.
  using SegmentFn = std::function<base::Status(const SegmentDescriptor&)>;
  base::Status ForEachSegment(const SegmentFn& fn);
  // Calls fn for every chunk of the segment in order. Returns kCorruption for a damaged chunk,
  // kNotFound when the segment's records are gone.
  base::Status ReadSegment(const SegmentDescriptor& d, const ChunkFn& fn);
  // Removes the segment's records (one DeleteRange) and its descriptor in one atomic write.
  base::Status DeleteSegment(const SegmentDescriptor& d);
  // Rewrites the descriptor (delivery attempt state). Not synced: a lost update only repeats
  // an attempt.
  base::Status UpdateSegment(const SegmentDescriptor& d);
  // The records of each (stream, shard) that no descriptor covers: seq above the highest
  // last_seq of that pair's descriptors. Used at startup to seal what was open at a crash.
  // Descriptors come back with key fields, counts, bytes and oldest arrival filled in.
  base::Result<std::vector<SegmentDescriptor>> FindUnsealedTails();

  // Reads every SST block and checks its checksum (RocksDB VerifyChecksum).
  base::Status VerifyChecksums();
  // A RocksDB property of the records column family ("rocksdb.estimate-num-keys", ...).
  std::string Property(const std::string& name);
  // An integer property summed over every column family ("rocksdb.cur-size-all-mem-tables",
  // "rocksdb.live-sst-files-size", ...); 0 when RocksDB does not know it.
  uint64_t IntProperty(const std::string& name);
  // RocksDB's own counters since the store opened (its Statistics tickers).
  struct Counters {
    uint64_t wal_syncs = 0;             // WAL_FILE_SYNCED
    uint64_t wal_bytes = 0;             // WAL_FILE_BYTES
    uint64_t bytes_written = 0;         // BYTES_WRITTEN (user writes)
    uint64_t flush_write_bytes = 0;     // FLUSH_WRITE_BYTES
    uint64_t compact_write_bytes = 0;   // COMPACT_WRITE_BYTES
    uint64_t compact_read_bytes = 0;    // COMPACT_READ_BYTES
    uint64_t stall_micros = 0;          // STALL_MICROS (writes delayed or stopped)
  };
  Counters counters() const;

 private:
  friend class WriteBatch;
  Store() = default;
  base::Status ScanPrefix(rocksdb::ColumnFamilyHandle* cf, const std::string& lower,
                          const std::string& upper,
                          const std::function<base::Status(std::string_view, std::string_view)>& fn);

  base::Status CheckSpace();
  // The next unused stream id; adds its bump to `wb`. REQUIRES: catalog_mu_ held.
  base::Result<uint32_t> TakeStreamIdLocked(rocksdb::WriteBatch* wb);

  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* records_ = nullptr;
  rocksdb::ColumnFamilyHandle* segments_ = nullptr;
  rocksdb::ColumnFamilyHandle* catalog_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::shared_ptr<rocksdb::Statistics> statistics_;  // tickers only (thread-safe, no timers)
  std::shared_ptr<rocksdb::SstFileManager> file_manager_;  // paced deletion of obsolete files
  bool read_only_ = false;
  std::string path_;
  uint64_t min_free_bytes_ = 0;
  std::atomic<int64_t> free_checked_ms_{-1000};
  std::atomic<uint64_t> free_bytes_{UINT64_MAX};
  std::mutex catalog_mu_;  // serialises stream id assignment
  std::mutex tsan_mu_;     // used only in ThreadSanitizer builds (store.cc)
};

}  // namespace sluice::storage
