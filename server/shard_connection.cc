// ShardConnection: the backpressure and memory accounting shared by a shard's connections.
#include "server/shard_connection.h"

#include "server/shard.h"

namespace sluice::server {

base::Status ShardConnection::Open(int fd, SSL_CTX* tls) {
  RETURN_IF_ERROR(OpenFd(shard_->loop(), fd));
  if (tls != nullptr) {
    if (base::Status st = EnableTls(tls); !st.ok()) {
      Close();
      return st;
    }
  }
  UpdateReading();
  return base::Status::Ok();
}

bool ShardConnection::ReadingAllowed() const {
  return !close_after_drain_ && !paused_for_output_ && !paused_for_budget_ && !paused_for_memory_ && !peer_eof_ &&
         !shard_->stopping();
}

void ShardConnection::SyncBufferCharge(size_t bytes) {
  if (bytes == charged_buffers_) return;
  shard_->client_memory().Add(static_cast<int64_t>(bytes) - static_cast<int64_t>(charged_buffers_));
  charged_buffers_ = bytes;
}

void ShardConnection::ChargeStaged(int64_t delta) {
  staged_bytes_ = static_cast<size_t>(static_cast<int64_t>(staged_bytes_) + delta);
  shard_->client_memory().Add(delta);
}

void ShardConnection::OnOutputChange(int64_t delta) { shard_->client_memory().Add(delta); }

void ShardConnection::PauseForMemory() {
  if (!paused_for_memory_) shard_->client_memory().pauses.fetch_add(1, std::memory_order_relaxed);
  paused_for_memory_ = true;
  shard_->PauseForMemory(this);
  UpdateReading();
}

bool ShardConnection::MayTakeRequest() {
  if (closing() || close_after_drain_ || paused_for_budget_ || paused_for_memory_ || paused_for_output_) return false;
  if (shard_->OverCommitBudget()) {
    paused_for_budget_ = true;
    shard_->PauseForBudget(this);
    UpdateReading();
    return false;
  }
  if (queued_output() >= shard_->cfg().connection_output_budget) {
    paused_for_output_ = true;
    UpdateReading();
    return false;
  }
  if (shard_->client_memory().Over()) {
    PauseForMemory();
    return false;
  }
  return true;
}

void ShardConnection::SendFlushed(std::string out) {
  if (closing() || out.empty()) {
    MaybeCloseAfterDrain();
    return;
  }
  if (!Write(std::move(out))) return;
  if (!close_after_drain_ && queued_output() > shard_->cfg().connection_output_budget) {
    paused_for_output_ = true;
    UpdateReading();
  }
}

void ShardConnection::OnReadEnd(ssize_t status) {
  if (status == UV_ENOBUFS) {
    PauseForMemory();
    return;
  }
  // EOF: the peer finished sending; it may still read the answers to what it sent.
  peer_eof_ = true;
  UpdateReading();
  close_after_drain_ = true;
  MaybeCloseAfterDrain();
}

void ShardConnection::OnWritten(int status) {
  if (status < 0) return;  // closed by the base
  if (paused_for_output_ && queued_output() <= shard_->cfg().connection_output_budget / 2) {
    paused_for_output_ = false;
    ProcessInput();  // what is already buffered first, then read again
    UpdateReading();
  }
  MaybeCloseAfterDrain();
}

void ShardConnection::MaybeCloseAfterDrain() {
  if (close_after_drain_ && !closing() && !has_staged() && !in_dirty_list && pending_writes() == 0) Close();
}

void ShardConnection::ResumeAfterBudget() {
  paused_for_budget_ = false;
  paused_for_memory_ = false;
  ProcessInput();
  UpdateReading();
}

void ShardConnection::BeginDrainAndClose() {
  close_after_drain_ = true;
  UpdateReading();
  MaybeCloseAfterDrain();
}

void ShardConnection::OnClosed() {
  // Every write callback has run (with UV_ECANCELED) before the close callback: what is left
  // charged is the buffers and staged responses that were never encoded.
  ChargeStaged(-static_cast<int64_t>(staged_bytes_));
  SyncBufferCharge(0);
  shard_->OnConnectionClosed(this);
  delete this;
}

}  // namespace sluice::server
