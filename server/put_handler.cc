// The put path: per-record validation, chunk building, commit, and ack encoding.
#include "server/put_handler.h"

#include "storage/keys.h"

namespace sluice::server {

PutHandler::PutHandler(uint16_t shard, const ServerConfig& cfg, storage::Store* store,
                       const StreamView* streams)
    : shard_(shard), cfg_(cfg), store_(store), streams_(streams), batch_(store) {}

base::Status PutHandler::Init() {
  ASSIGN_OR_RETURN(uint64_t next, store_->NextSeq(shard_));
  next_seq_ = committed_seq_ = next;
  return base::Status::Ok();
}

StagedPut PutHandler::Stage(const wire::PutRecordBatch& batch, int64_t now_unix_ms) {
  const auto& records = *batch.records();
  return StageRecords(std::string_view(batch.stream()->data(), batch.stream()->size()), records.size(),
                      [&](uint32_t i) {
                        const auto* data = records[i]->data();
                        return data ? std::span<const uint8_t>(data->data(), data->size()) : std::span<const uint8_t>();
                      },
                      now_unix_ms);
}

base::Status PutHandler::Commit() {
  SLUICE_DCHECK(has_pending());
  batch_.PutNextSeq(shard_, next_seq_);
  base::Status st;
  // Puts stop well before the disk is full, so deliveries (which free space) and the store's
  // own writes keep their headroom; the client sees a retryable StorageFailure.
  if (uint64_t free = store_->FreeBytes(); free < cfg_.min_free_bytes)
    st = base::IOError("disk nearly full: " + std::to_string(free >> 20) + " MiB free, puts need min_free_mib " +
                       std::to_string(cfg_.min_free_bytes >> 20) + "; retry once deliveries or the operator free space");
  else
    st = store_->Write(&batch_, cfg_.durability.mode == DurabilityMode::kFsync);
  batch_.Clear();
  committed_.clear();
  if (st.ok()) {
    committed_seq_ = next_seq_;
    committed_.swap(pending_);
  } else {
    next_seq_ = committed_seq_;
    pending_.clear();
  }
  return st;
}

void PutHandler::EncodeResponse(const StagedPut& put, uint32_t request_id,
                                const base::Status& commit, proto::PutResponseEncoder* enc,
                                std::string* out) const {
  enc->Reset(put.record_count);
  size_t next_rejected = 0;
  uint32_t chunk_index = 0;
  std::string failure;
  if (!commit.ok()) failure = "records not stored: " + commit.ToString();
  for (uint32_t i = 0; i < put.record_count; i++) {
    if (put.all_failed != proto::WireError::kOk) {
      enc->AddFailed(put.all_failed, put.all_failed_message);
    } else if (next_rejected < put.rejected.size() && put.rejected[next_rejected].index == i) {
      const auto& r = put.rejected[next_rejected++];
      enc->AddFailed(r.code, r.message);
    } else if (commit.ok()) {
      enc->AddStored(storage::MakeRecordId(shard_, put.seq, chunk_index++));
    } else {
      enc->AddFailed(proto::WireError::kStorageFailure, failure);
    }
  }
  enc->Finish(request_id, out);
}

}  // namespace sluice::server
