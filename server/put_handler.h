// PutHandler: turns verified PutRecordBatch requests into one pending storage write per shard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "protocol/error_codes.h"
#include "protocol/messages.h"
#include "protocol/sluice_generated.h"
#include "server/config.h"
#include "server/segmenter.h"
#include "server/stream_registry.h"
#include "storage/record_chunk.h"
#include "storage/store.h"

namespace sluice::server {

// What one PutRecordBatch will be answered with once the commit it joined has finished.
struct StagedPut {
  struct Rejected {
    uint32_t index;
    proto::WireError code;
    std::string message;
  };
  uint32_t record_count = 0;
  uint64_t seq = 0;  // storage sequence of the chunk holding the accepted records; 0 = none
  uint64_t accepted_bytes = 0;
  int64_t staged_mono_ns = 0;  // when it was staged: the put ack latency runs from here to the ack
  // A batch refused as a whole (unknown or deleting stream): every record fails with this code
  // and one shared message, so a refused batch costs no memory per record while it waits.
  proto::WireError all_failed = proto::WireError::kOk;
  std::string all_failed_message;
  std::vector<Rejected> rejected;  // ascending index (records refused one by one)

  uint32_t failed_count() const {
    return all_failed != proto::WireError::kOk ? record_count : static_cast<uint32_t>(rejected.size());
  }
  // An upper bound of the encoded response, counted against the connection's output budget
  // before the response exists: header and tables, 16 bytes a result, 16 a RecordError, and
  // each distinct message once.
  size_t ResponseBytesBound() const {
    size_t n = 256 + 16 * size_t(record_count) + all_failed_message.size();
    if (all_failed != proto::WireError::kOk) n += 16 * size_t(record_count);
    for (const Rejected& r : rejected) n += 24 + r.message.size();
    return n;
  }
};

// Owns the shard's pending WriteBatch and its sequence counter.
// Thread: the owning shard's loop; not thread-safe.
class PutHandler {
 public:
  PutHandler(uint16_t shard, const ServerConfig& cfg, storage::Store* store,
             const StreamView* streams);

  // Loads the next sequence number from storage. Returns the storage error on failure.
  base::Status Init();

  // Validates each record and appends the accepted ones, as one chunk, to the pending batch.
  // Per-record problems (unknown stream, record too large) become Rejected entries; the call
  // itself cannot fail. REQUIRES: `batch` passed proto::VerifyPutRecordBatch.
  StagedPut Stage(const wire::PutRecordBatch& batch, int64_t now_unix_ms);
  // The same for records of any protocol (the Firehose API): `record_at(i)` returns the i-th
  // record's bytes (std::span<const uint8_t>), for i < count. The bytes are copied.
  template <typename RecordAt>
  StagedPut StageRecords(std::string_view stream_name, uint32_t count, RecordAt record_at, int64_t now_unix_ms);

  bool has_pending() const { return !batch_.empty(); }
  // The chunks of the last successful commit (empty after a failed one).
  const std::vector<AppendedChunk>& committed() const { return committed_; }
  size_t pending_bytes() const { return batch_.bytes(); }

  // Writes the pending batch (sync per durability). On failure nothing was applied and the
  // sequence counter is rolled back, so the same sequence numbers are reused; the caller must
  // fail every staged put. Returns the storage error (kIOError, kCorruption).
  base::Status Commit();

  // Appends the PutRecordBatchResponse frame for `put` to `out`. When `commit` failed, every
  // record that was not already rejected fails with kStorageFailure and commit's message.
  void EncodeResponse(const StagedPut& put, uint32_t request_id, const base::Status& commit,
                      proto::PutResponseEncoder* enc, std::string* out) const;

 private:
  const uint16_t shard_;
  const ServerConfig& cfg_;
  storage::Store* store_;
  const StreamView* streams_;
  storage::WriteBatch batch_;
  storage::ChunkBuilder chunk_;
  uint64_t next_seq_ = 1;       // next sequence to hand out
  uint64_t committed_seq_ = 1;  // next_seq_ as of the last successful commit
  std::vector<AppendedChunk> pending_;    // chunks in batch_
  std::vector<AppendedChunk> committed_;  // chunks of the last commit
};

template <typename RecordAt>
StagedPut PutHandler::StageRecords(std::string_view name, uint32_t count, RecordAt record_at, int64_t now_unix_ms) {
  StagedPut put;
  put.record_count = count;
  put.staged_mono_ns = base::Clock::Real()->NowMonoNanos();
  const StreamInfo* stream = (*streams_)->Find(name);
  if (stream == nullptr || !stream->accepts_puts()) {
    put.all_failed = stream ? proto::WireError::kStreamDeleting : proto::WireError::kUnknownStream;
    put.all_failed_message = "delivery stream '" + std::string(name.substr(0, 128)) +
                             (stream ? "' is being deleted" : "' does not exist");
    return put;
  }
  chunk_.Start(now_unix_ms);
  for (uint32_t i = 0; i < count; i++) {
    std::span<const uint8_t> bytes = record_at(i);
    if (bytes.size() > cfg_.limits.max_record_bytes) {
      put.rejected.push_back({i, proto::WireError::kRecordTooLarge,
                              "record of " + std::to_string(bytes.size()) + " bytes exceeds max_record_bytes " +
                                  std::to_string(cfg_.limits.max_record_bytes)});
      continue;
    }
    chunk_.Add(bytes);
    put.accepted_bytes += bytes.size();
  }
  if (chunk_.count() > 0) {
    put.seq = next_seq_++;
    batch_.PutChunk({stream->id, shard_, put.seq}, chunk_.Finish());
    pending_.push_back({stream, stream->id, put.seq, chunk_.count(), put.accepted_bytes, now_unix_ms});
  }
  return put;
}

}  // namespace sluice::server
