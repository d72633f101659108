// Store: RocksDB setup, the close order, and the one rocksdb::Status -> base::Status mapping.
#include "storage/store.h"

#include <sys/statvfs.h>

#include <chrono>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_manager.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <map>

#include "base/log.h"
#include "storage/crc32c.h"

namespace sluice::storage {

// Debian's RocksDB is not built with ThreadSanitizer, so the synchronisation inside it (write
// groups reading other threads' batches, lock-free memtables) is invisible to TSan, which then
// reports races in our stacks. TSan builds serialise every call into RocksDB with one mutex so
// the ordering is visible; other builds pay nothing. (tests/tsan.supp covers RocksDB's own
// background threads.)
#if defined(__SANITIZE_THREAD__)
#define STORE_TSAN_SERIALIZE() std::lock_guard<std::mutex> tsan_lock(tsan_mu_)
#else
#define STORE_TSAN_SERIALIZE() \
  do {                         \
  } while (0)
#endif

namespace {

constexpr char kRecordsCf[] = "records";
constexpr char kSegmentsCf[] = "segments";
constexpr char kCatalogCf[] = "catalog";
constexpr char kNextStreamIdKey[] = "next_stream_id";
constexpr char kStreamKeyPrefix[] = "stream/";

base::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return base::Status::Ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return base::Corruption(msg);
  if (s.IsNotFound()) return base::NotFound(msg);
  if (s.IsInvalidArgument()) return base::InvalidArgument(msg);
  if (s.IsBusy() || s.IsTryAgain()) return {base::Code::kBusy, msg};
  if (s.IsNoSpace()) return base::IOError(msg + " (disk full)");
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
    return {base::Code::kBusy, msg};
  return base::IOError(msg);
}

std::string SeqKey(uint16_t shard) {
  std::string k = "seq";
  k.push_back(static_cast<char>(shard >> 8));
  k.push_back(static_cast<char>(shard));
  return k;
}

rocksdb::ColumnFamilyOptions RecordsCfOptions(const StoreOptions& o) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = o.write_buffer_bytes;
  // A full memtable waits for a second one before both are flushed together: records delivered
  // meanwhile are deleted by a range tombstone in the newer one, and the flush drops them instead
  // of writing them to a file (and compacting them away later). Measured with 8 MiB / 1 s
  // segments (storage bytes written per acknowledged byte): 4 KiB 1.40 -> 1.19, 100 B
  // 1.30 -> 1.16, at up to 64 MiB more memtable. Four buffers: two waiting, one flushing, one
  // taking writes, so puts never stall on a flush.
  cf.max_write_buffer_number = 4;
  cf.min_write_buffer_number_to_merge = 2;
  // Records are transient (deleted after delivery) and often already compressed by producers, so
  // none by default; compressible records (JSON logs) write fewer bytes with lz4 or zstd.
  cf.compression = o.records_compression == "zstd"  ? rocksdb::kZSTD
                   : o.records_compression == "lz4" ? rocksdb::kLZ4Compression
                                                    : rocksdb::kNoCompression;
  // Delivered segments leave range tombstones; compact files that are mostly deletions.
  cf.table_properties_collector_factories.push_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(128 * 1024, 64 * 1024, 0.5));
  return cf;
}

}  // namespace

WriteBatch::WriteBatch(Store* store)
    : store_(store), rep_(std::make_unique<rocksdb::WriteBatch>()) {}
WriteBatch::~WriteBatch() = default;

void WriteBatch::PutChunk(const RecordKey& key, std::string_view chunk) {
  EncodeRecordKey(key, &key_);
  // Put into a WriteBatch only fails past 4 GiB of batch size, which shard budgets rule out.
  rep_->Put(store_->records_, key_, rocksdb::Slice(chunk.data(), chunk.size()))
      .PermitUncheckedError();
}

void WriteBatch::PutNextSeq(uint16_t shard, uint64_t next_seq) {
  std::string v;
  PutBE64(&v, next_seq);
  rep_->Put(store_->meta_, SeqKey(shard), v).PermitUncheckedError();
}

void WriteBatch::PutSegment(const SegmentDescriptor& d) {
  rep_->Put(store_->segments_, EncodeSegmentKey(d), EncodeSegmentValue(d)).PermitUncheckedError();
}

void WriteBatch::DeleteSegment(const SegmentDescriptor& d) {
  rep_->DeleteRange(store_->records_, EncodeRecordKey({d.stream_id, d.shard, d.first_seq}),
                    EncodeRecordKey({d.stream_id, d.shard, d.last_seq + 1}))
      .PermitUncheckedError();
  rep_->Delete(store_->segments_, EncodeSegmentKey(d)).PermitUncheckedError();
}

size_t WriteBatch::bytes() const { return rep_->GetDataSize(); }
bool WriteBatch::empty() const { return rep_->Count() == 0; }
void WriteBatch::Clear() { rep_->Clear(); }

base::Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  // Once a process: whether RocksDB's checksums run on the CPU's CRC32C instructions (crc32c.h).
  static const bool crc32c_here = [] {
    bool here = Crc32cRoutedHere();
    if (here)
      SLUICE_LOG_DEBUG("storage", "RocksDB's CRC32C runs on ISA-L (hardware)");
    else
      SLUICE_LOG_WARN("storage", "RocksDB computes CRC32C itself (its software table in a portable build): "
                      "the ISA-L override is not in effect; see docs/architecture.md, storage");
    return here;
  }();
  (void)crc32c_here;
  std::unique_ptr<Store> store(new Store());
  store->read_only_ = options.read_only;
  store->path_ = options.path;
  store->min_free_bytes_ = options.min_free_bytes;

  rocksdb::DBOptions db;
  db.create_if_missing = !options.read_only;
  db.create_missing_column_families = !options.read_only;
  db.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  db.max_background_jobs = 2;
  db.max_total_wal_size = 512u << 20;
  db.db_write_buffer_size = 320u << 20;  // the records' four 64 MiB memtables and the small families
  db.max_open_files = -1;
  // A WAL fdatasync that acks wait for also waits for whatever other writes the disk has queued,
  // so every background writer keeps little queued (docs/benchmarks.md, "the ack tail"):
  // flushes and compactions hand each 512 KiB to writeback and wait for the previous 512 KiB
  // first (strict), instead of queueing a file's megabytes at once. Ack p99, 100 B at 1.08 M/s,
  // one shard: 1 MiB strict 15-21 ms, 512 KiB 8.6-13.6, 256 KiB 9.5-13 (but 256 KiB slowed
  // ingest into a growing backlog: compaction's writes wait too); the old 1 MiB non-strict
  // (two shards, 950 k/s): 66-86 ms.
  db.bytes_per_sync = 512u << 10;
  db.writable_file_max_buffer_size = 512u << 10;
  db.strict_bytes_per_sync = true;
  if (!options.read_only) {
    // Obsolete files (compacted SSTs, old WALs, tens of MiB each) are renamed to *.trash and
    // truncated 4 MiB at a time by RocksDB's delete scheduler: one unlink of a 64 MiB file took
    // 18-20 ms here and held concurrent WAL syncs as long (without it: p99 49-57 ms). At 512 MiB/s
    // the trash keeps up with what flushes and compactions delete (a 64 MiB file lasts ~1/8 s);
    // the ratio lets trash exceed the (often nearly empty) database, and past 1000x RocksDB
    // unlinks at once. Trash left by a crash is deleted at the next open.
    rocksdb::Status fs;
    store->file_manager_.reset(rocksdb::NewSstFileManager(rocksdb::Env::Default(), nullptr, "", 512ll << 20,
                                                          true, &fs, 1000.0, 4u << 20));
    if (!fs.ok()) return FromRocks(fs, "sst file manager");
    db.sst_file_manager = store->file_manager_;
  }
  db.wal_compression = options.wal_compression ? rocksdb::kZSTD : rocksdb::kNoCompression;
  db.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db.keep_log_file_num = 4;
  // Tickers for /metrics (WAL syncs, bytes written, stall time): per-core counters, no clock
  // reads (histograms and timers stay off).
  store->statistics_ = rocksdb::CreateDBStatistics();
  store->statistics_->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  db.statistics = store->statistics_;

  rocksdb::ColumnFamilyOptions small;
  small.write_buffer_size = 4u << 20;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, small},
      {kRecordsCf, RecordsCfOptions(options)},
      {kSegmentsCf, small},
      {kCatalogCf, small},
  };
  // An existing DB must be opened with every column family it has (a newer version may have
  // added some): open unknown ones with small options so they are preserved.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db, options.path, &existing).ok()) {
    for (const std::string& name : existing) {
      bool known = false;
      for (auto& d : cfs) known |= d.name == name;
      if (!known) cfs.emplace_back(name, small);
    }
  } else if (options.read_only) {
    return base::NotFound("no Sluice database at " + options.path);
  }

  rocksdb::Status s;
  if (options.read_only) {
    s = rocksdb::DB::OpenForReadOnly(db, options.path, cfs, &store->handles_, &store->db_);
  } else {
    std::error_code ec;
    std::filesystem::create_directories(options.path, ec);
    if (ec) return base::IOError("cannot create " + options.path + ": " + ec.message());
    s = rocksdb::DB::Open(db, options.path, cfs, &store->handles_, &store->db_);
  }
  if (!s.ok()) {
    store->db_ = nullptr;
    store->handles_.clear();
    base::Status st = FromRocks(s, "open " + options.path);
    if (st.code() == base::Code::kCorruption)
      SLUICE_LOG_ERROR("storage", "refusing to open %s: %s. Acknowledged records may be damaged; "
                       "see docs/reliability.md before repairing.",
                       options.path.c_str(), s.ToString().c_str());
    return st;
  }
  store->meta_ = store->handles_[0];
  store->records_ = store->handles_[1];
  store->segments_ = store->handles_[2];
  store->catalog_ = store->handles_[3];
  return store;
}

Store::~Store() {
  if (db_ == nullptr) return;
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  handles_.clear();
  rocksdb::Status s = db_->Close();
  if (!s.ok()) SLUICE_LOG_WARN("storage", "close: %s", s.ToString().c_str());
  delete db_;
  db_ = nullptr;
}

uint64_t Store::FreeBytes() {
  // statvfs at most every 100 ms while the disk is far from the floors (it is cheap, but commits
  // run thousands of times a second), and on every call once it is near them: within 100 ms a
  // shard can append tens of MiB to the WAL while a flush writes its file and obsolete files are
  // still being truncated, and a stale figure let a WAL append meet ENOSPC on a 64 MiB file
  // system (disk_full_test under load, about 1 run in 20). Near means within twice the put floor
  // (puts stop at four times this store's floor, see StoreOptions::min_free_bytes).
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch()).count();
  if (now - free_checked_ms_.load(std::memory_order_relaxed) >= 100 ||
      free_bytes_.load(std::memory_order_relaxed) < 8 * min_free_bytes_) {
    struct statvfs v;
    if (::statvfs(path_.c_str(), &v) == 0)
      free_bytes_.store(static_cast<uint64_t>(v.f_bavail) * v.f_frsize, std::memory_order_relaxed);
    free_checked_ms_.store(now, std::memory_order_relaxed);
  }
  return free_bytes_.load(std::memory_order_relaxed);
}

base::Status Store::CheckSpace() {
  uint64_t free = FreeBytes();
  if (free >= min_free_bytes_) return base::Status::Ok();
  return base::IOError("no space: the data dir's file system has " + std::to_string(free >> 20) +
                       " MiB free, below the " + std::to_string(min_free_bytes_ >> 20) +
                       " MiB floor; writes resume once space is freed");
}

base::Status Store::Write(WriteBatch* batch, bool sync) {
  STORE_TSAN_SERIALIZE();
  if (read_only_) return base::InvalidArgument("store is open read-only");
  SLUICE_DCHECK(batch->store_ == this);
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  RETURN_IF_ERROR(CheckSpace());
  return FromRocks(db_->Write(wo, batch->rep_.get()), "write");
}

base::Status Store::SyncWal() {
  STORE_TSAN_SERIALIZE();
  RETURN_IF_ERROR(CheckSpace());
  return FromRocks(db_->SyncWAL(), "sync WAL");
}

base::Result<uint64_t> Store::NextSeq(uint16_t shard) {
  STORE_TSAN_SERIALIZE();
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_, SeqKey(shard), &v);
  if (s.IsNotFound()) return uint64_t{1};
  RETURN_IF_ERROR(FromRocks(s, "read next seq"));
  if (v.size() != 8) return base::Corruption("next seq of shard " + std::to_string(shard) + " is malformed");
  return GetBE64(v.data());
}

base::Status Store::ScanPrefix(
    rocksdb::ColumnFamilyHandle* cf, const std::string& lower, const std::string& upper,
    const std::function<base::Status(std::string_view, std::string_view)>& fn) {
  STORE_TSAN_SERIALIZE();
  rocksdb::Slice upper_slice(upper);  // must outlive the iterator
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  ro.verify_checksums = true;
  base::Status result;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      result = fn(std::string_view(it->key().data(), it->key().size()),
                  std::string_view(it->value().data(), it->value().size()));
      if (!result.ok()) break;
    }
    if (result.ok()) result = FromRocks(it->status(), "scan");
  }  // the iterator dies before anything else can close the DB
  return result;
}

namespace {
// Catalog value, format 2: 0xC2 | id u32 BE | created ms u64 BE | version u32 BE |
// updated ms u64 BE | flags u32 BE | config. Format 1 (written before flags existed) is the same
// without the marker byte and the flags; its first byte, the top of a stream id, is always 0.
constexpr char kCatalogV2 = '\xC2';
constexpr size_t kCatalogFixedV1 = 24;
constexpr size_t kCatalogFixedV2 = 1 + 24 + 4;
std::string EncodeCatalog(const StreamEntry& e) {
  std::string v(1, kCatalogV2);
  PutBE32(&v, e.id);
  PutBE64(&v, static_cast<uint64_t>(e.created_unix_ms));
  PutBE32(&v, e.version);
  PutBE64(&v, static_cast<uint64_t>(e.updated_unix_ms));
  PutBE32(&v, e.flags);
  v += e.config;
  return v;
}
base::Status DecodeCatalog(std::string_view name, std::string_view v, StreamEntry* e) {
  bool v2 = !v.empty() && v[0] == kCatalogV2;
  if (v.size() < (v2 ? kCatalogFixedV2 : kCatalogFixedV1))
    return base::Corruption("catalog entry of stream " + std::string(name) + " is malformed");
  if (v2) v.remove_prefix(1);
  e->name = std::string(name);
  e->id = GetBE32(v.data());
  e->created_unix_ms = static_cast<int64_t>(GetBE64(v.data() + 4));
  e->version = GetBE32(v.data() + 12);
  e->updated_unix_ms = static_cast<int64_t>(GetBE64(v.data() + 16));
  e->flags = v2 ? GetBE32(v.data() + 24) : 0;
  e->config = std::string(v.substr(v2 ? 28 : kCatalogFixedV1));
  return base::Status::Ok();
}
}  // namespace

base::Result<uint32_t> Store::TakeStreamIdLocked(rocksdb::WriteBatch* wb) {
  std::string next;
  rocksdb::Status ns = db_->Get(rocksdb::ReadOptions(), meta_, kNextStreamIdKey, &next);
  uint32_t id = 1;
  if (ns.ok() && next.size() == 4) id = GetBE32(next.data());
  else if (!ns.IsNotFound()) return FromRocks(ns, "read next stream id");
  std::string bumped;
  PutBE32(&bumped, id + 1);
  wb->Put(meta_, kNextStreamIdKey, bumped).PermitUncheckedError();
  return id;
}

base::Result<StreamEntry> Store::RegisterStream(std::string_view name, std::string_view config,
                                                int64_t now_unix_ms) {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  STORE_TSAN_SERIALIZE();
  std::string key = std::string(kStreamKeyPrefix) + std::string(name);
  std::string value;
  StreamEntry entry;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), catalog_, key, &value);
  rocksdb::WriteBatch wb;
  if (s.ok()) {
    RETURN_IF_ERROR(DecodeCatalog(name, value, &entry));
    if (entry.config == config) return entry;
    entry.version++;
  } else if (s.IsNotFound()) {
    ASSIGN_OR_RETURN(entry.id, TakeStreamIdLocked(&wb));
    entry.name = std::string(name);
    entry.version = 1;
    entry.created_unix_ms = now_unix_ms;
  } else {
    return FromRocks(s, "read catalog");
  }
  entry.config = std::string(config);
  entry.updated_unix_ms = now_unix_ms;
  wb.Put(catalog_, key, EncodeCatalog(entry)).PermitUncheckedError();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RETURN_IF_ERROR(CheckSpace());
  RETURN_IF_ERROR(FromRocks(db_->Write(wo, &wb), "write catalog"));
  return entry;
}

base::Result<StreamEntry> Store::CreateStream(std::string_view name, std::string_view config,
                                              uint32_t flags, int64_t now_unix_ms) {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  STORE_TSAN_SERIALIZE();
  std::string key = std::string(kStreamKeyPrefix) + std::string(name);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), catalog_, key, &value);
  if (s.ok()) return base::Status(base::Code::kAlreadyExists, "stream " + std::string(name) + " exists");
  if (!s.IsNotFound()) return FromRocks(s, "read catalog");
  rocksdb::WriteBatch wb;
  StreamEntry entry;
  ASSIGN_OR_RETURN(entry.id, TakeStreamIdLocked(&wb));
  entry.name = std::string(name);
  entry.created_unix_ms = entry.updated_unix_ms = now_unix_ms;
  entry.flags = flags;
  entry.config = std::string(config);
  wb.Put(catalog_, key, EncodeCatalog(entry)).PermitUncheckedError();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RETURN_IF_ERROR(CheckSpace());
  RETURN_IF_ERROR(FromRocks(db_->Write(wo, &wb), "write catalog"));
  return entry;
}

base::Status Store::PutStreamEntry(const StreamEntry& entry) {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  STORE_TSAN_SERIALIZE();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RETURN_IF_ERROR(CheckSpace());
  return FromRocks(db_->Put(wo, catalog_, std::string(kStreamKeyPrefix) + entry.name, EncodeCatalog(entry)),
                   "write catalog");
}

base::Status Store::DeleteStreamEntry(std::string_view name) {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  STORE_TSAN_SERIALIZE();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RETURN_IF_ERROR(CheckSpace());
  return FromRocks(db_->Delete(wo, catalog_, std::string(kStreamKeyPrefix) + std::string(name)), "delete catalog entry");
}

base::Result<bool> Store::HasRecords(uint32_t stream_id) {
  bool found = false;
  base::Status st = ScanPrefix(records_, StreamPrefix(stream_id), StreamPrefix(stream_id + 1),
                               [&](std::string_view, std::string_view) {
                                 found = true;
                                 return base::Status(base::Code::kAlreadyExists, "");  // stop at the first
                               });
  if (!found) RETURN_IF_ERROR(st);
  return found;
}

base::Result<std::vector<StreamEntry>> Store::ListStreams() {
  std::vector<StreamEntry> out;
  std::string lower = kStreamKeyPrefix;
  std::string upper = lower;
  upper.back()++;
  RETURN_IF_ERROR(ScanPrefix(catalog_, lower, upper,
                             [&](std::string_view key, std::string_view value) -> base::Status {
                               StreamEntry e;
                               RETURN_IF_ERROR(DecodeCatalog(key.substr(lower.size()), value, &e));
                               out.push_back(std::move(e));
                               return base::Status::Ok();
                             }));
  return out;
}

namespace {
base::Status ParseChunk(std::string_view key, std::string_view value, const Store::ChunkFn& fn) {
  RecordKey k;
  if (!DecodeRecordKey(key, &k))
    return base::Corruption("record key of " + std::to_string(key.size()) + " bytes is malformed");
  auto view = ChunkView::Parse(value);
  if (!view.ok())
    return view.status().WithContext("chunk stream=" + std::to_string(k.stream_id) + " shard=" +
                                     std::to_string(k.shard) + " seq=" + std::to_string(k.seq));
  return fn(k, view.value());
}
}  // namespace

base::Status Store::ScanStream(uint32_t stream_id, const ChunkFn& fn) {
  return ScanPrefix(records_, StreamPrefix(stream_id), StreamPrefix(stream_id + 1),
                    [&](std::string_view key, std::string_view value) { return ParseChunk(key, value, fn); });
}

base::Status Store::ForEachSegment(const SegmentFn& fn) {
  return ScanPrefix(segments_, std::string(), std::string(kRecordKeySize, '\xff'),
                    [&](std::string_view key, std::string_view value) -> base::Status {
                      RecordKey k;
                      if (!DecodeRecordKey(key, &k)) return base::Corruption("segment key is malformed");
                      SegmentDescriptor d;
                      d.stream_id = k.stream_id;
                      d.shard = k.shard;
                      d.first_seq = k.seq;
                      RETURN_IF_ERROR(DecodeSegmentValue(value, &d).WithContext("segment " + d.Id()));
                      return fn(d);
                    });
}

base::Status Store::ReadSegment(const SegmentDescriptor& d, const ChunkFn& fn) {
  uint64_t chunks = 0;
  RETURN_IF_ERROR(ScanPrefix(records_, EncodeRecordKey({d.stream_id, d.shard, d.first_seq}),
                             EncodeRecordKey({d.stream_id, d.shard, d.last_seq + 1}),
                             [&](std::string_view key, std::string_view value) {
                               chunks++;
                               return ParseChunk(key, value, fn);
                             }));
  if (chunks == 0 && d.record_count > 0) return base::NotFound("records of segment " + d.Id() + " are gone");
  return base::Status::Ok();
}

base::Status Store::DeleteSegment(const SegmentDescriptor& d) {
  STORE_TSAN_SERIALIZE();
  rocksdb::WriteBatch wb;
  wb.DeleteRange(records_, EncodeRecordKey({d.stream_id, d.shard, d.first_seq}),
                 EncodeRecordKey({d.stream_id, d.shard, d.last_seq + 1}))
      .PermitUncheckedError();
  wb.Delete(segments_, EncodeSegmentKey(d)).PermitUncheckedError();
  // Not synced: if the delete is lost in a crash the segment is delivered again, and delivery
  // is idempotent by segment id. The next synced put makes it durable anyway (one WAL).
  RETURN_IF_ERROR(CheckSpace());
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &wb), "delete segment " + d.Id());
}

base::Status Store::UpdateSegment(const SegmentDescriptor& d) {
  STORE_TSAN_SERIALIZE();
  rocksdb::WriteBatch wb;
  wb.Put(segments_, EncodeSegmentKey(d), EncodeSegmentValue(d)).PermitUncheckedError();
  RETURN_IF_ERROR(CheckSpace());
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &wb), "update segment " + d.Id());
}

base::Result<std::vector<SegmentDescriptor>> Store::FindUnsealedTails() {
  // Highest sealed seq per (stream, shard).
  std::map<std::pair<uint32_t, uint16_t>, uint64_t> sealed_through;
  RETURN_IF_ERROR(ForEachSegment([&](const SegmentDescriptor& d) {
    uint64_t& v = sealed_through[{d.stream_id, d.shard}];
    v = std::max(v, d.last_seq);
    return base::Status::Ok();
  }));
  std::vector<SegmentDescriptor> tails;
  STORE_TSAN_SERIALIZE();
  // One pass over the records CF, skipping each pair's sealed range with a Seek.
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, records_));
  it->SeekToFirst();
  while (it->Valid()) {
    RecordKey k;
    if (!DecodeRecordKey(std::string_view(it->key().data(), it->key().size()), &k))
      return base::Corruption("record key is malformed");
    auto found = sealed_through.find({k.stream_id, k.shard});
    uint64_t through = found == sealed_through.end() ? 0 : found->second;
    if (k.seq <= through) {
      it->Seek(EncodeRecordKey({k.stream_id, k.shard, through + 1}));
      continue;
    }
    if (tails.empty() || tails.back().stream_id != k.stream_id || tails.back().shard != k.shard) {
      SegmentDescriptor d;
      d.stream_id = k.stream_id;
      d.shard = k.shard;
      d.first_seq = k.seq;
      tails.push_back(d);
    }
    SegmentDescriptor& d = tails.back();
    auto view = ChunkView::Parse(std::string_view(it->value().data(), it->value().size()));
    if (!view.ok()) return view.status().WithContext("chunk seq=" + std::to_string(k.seq));
    if (d.record_count == 0 || view->arrival_unix_ms() < d.oldest_arrival_ms)
      d.oldest_arrival_ms = view->arrival_unix_ms();
    d.last_seq = k.seq;
    d.record_count += view->count();
    d.bytes += view->payload_bytes();
    it->Next();
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "scan unsealed records"));
  return tails;
}

base::Result<uint64_t> Store::CountSealedSegments(uint32_t stream_id) {
  uint64_t n = 0;
  RETURN_IF_ERROR(ScanPrefix(segments_, StreamPrefix(stream_id), StreamPrefix(stream_id + 1),
                             [&](std::string_view, std::string_view) {
                               n++;
                               return base::Status::Ok();
                             }));
  return n;
}

base::Status Store::VerifyChecksums() {
  STORE_TSAN_SERIALIZE();
  return FromRocks(db_->VerifyChecksum(), "verify checksums");
}

std::string Store::Property(const std::string& name) {
  STORE_TSAN_SERIALIZE();
  std::string v;
  if (!db_->GetProperty(records_, name, &v)) return "";
  return v;
}

uint64_t Store::IntProperty(const std::string& name) {
  STORE_TSAN_SERIALIZE();
  uint64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* cf : handles_) {
    uint64_t v = 0;
    if (db_->GetIntProperty(cf, name, &v)) total += v;
  }
  return total;
}

Store::Counters Store::counters() const {
  Counters c;
  if (statistics_ == nullptr) return c;
  c.wal_syncs = statistics_->getTickerCount(rocksdb::WAL_FILE_SYNCED);
  c.wal_bytes = statistics_->getTickerCount(rocksdb::WAL_FILE_BYTES);
  c.bytes_written = statistics_->getTickerCount(rocksdb::BYTES_WRITTEN);
  c.flush_write_bytes = statistics_->getTickerCount(rocksdb::FLUSH_WRITE_BYTES);
  c.compact_write_bytes = statistics_->getTickerCount(rocksdb::COMPACT_WRITE_BYTES);
  c.compact_read_bytes = statistics_->getTickerCount(rocksdb::COMPACT_READ_BYTES);
  c.stall_micros = statistics_->getTickerCount(rocksdb::STALL_MICROS);
  return c;
}

}  // namespace sluice::storage
