// Fuzz target: the whole put path up to the storage append, as a shard runs it: frame decoder ->
// PutRecordBatch verification -> PutHandler::Stage (per-record checks, chunk building) -> Commit
// into a real RocksDB store in a temp dir -> response encoding, which must itself verify and
// account for every record: stored ones in the committed chunk, the rest failed.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "protocol/frame.h"
#include "protocol/verify.h"
#include "server/put_handler.h"
#include "server/stream_registry.h"
#include "storage/store.h"

namespace {

using namespace sluice;

struct Env {
  std::string dir;
  std::unique_ptr<storage::Store> store;
  server::ServerConfig cfg;
  server::StreamRegistry registry;
  std::unique_ptr<server::StreamView> view;
  std::unique_ptr<server::PutHandler> puts;
  proto::PutResponseEncoder encoder;
};

Env* Setup() {
  auto* env = new Env;
  char tmpl[] = "/tmp/sluice-put-fuzz.XXXXXX";
  env->dir = mkdtemp(tmpl);
  storage::StoreOptions o;
  o.path = env->dir + "/db";
  env->store = std::move(storage::Store::Open(o)).value();
  env->cfg.durability.mode = server::DurabilityMode::kNone;  // speed; the write path is the same
  env->cfg.limits.max_record_bytes = 1000;                    // so oversized records happen
  for (uint32_t id : {1u, 2u}) {
    server::StreamInfo s;
    s.name = id == 1 ? "s" : "deleting";
    s.id = id;
    s.cfg = std::make_shared<const server::StreamConfig>();
    if (id == 2) s.status = server::StreamStatus::kDeleting;
    env->registry.Put(std::move(s));
  }
  env->view = std::make_unique<server::StreamView>(&env->registry);
  env->puts = std::make_unique<server::PutHandler>(0, env->cfg, env->store.get(), env->view.get());
  if (!env->puts->Init().ok()) std::abort();
  static std::string dir_to_remove;
  dir_to_remove = env->dir;
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(dir_to_remove, ec);  // the store stays open: fine on Linux
  });
  return env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Env* env = Setup();
  std::span<const uint8_t> buf(data, size);
  std::vector<uint64_t> aligned;
  while (true) {
    auto frame = proto::DecodeFrame(buf, env->cfg.limits.MaxFrameBody());
    if (!frame.ok() || !frame.value().has_value()) break;
    const proto::Frame& f = *frame.value();
    buf = buf.subspan(f.size());
    if (f.header.type != proto::MessageType::kPutRecordBatch) continue;
    aligned.assign(f.body.size() / 8 + 1, 0);
    std::memcpy(aligned.data(), f.body.data(), f.body.size());
    std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(aligned.data()), f.body.size());
    auto batch = proto::VerifyPutRecordBatch(body, env->cfg.limits);
    if (!batch.ok()) continue;
    server::StagedPut put = env->puts->Stage(*batch.value(), 1'000'000);
    base::Status commit;
    if (env->puts->has_pending()) commit = env->puts->Commit();
    uint32_t stored = 0;
    for (const auto& c : env->puts->committed()) stored += c.records;
    if (commit.ok() && put.seq != 0 && stored != put.record_count - put.failed_count()) __builtin_trap();
    std::string out;
    env->puts->EncodeResponse(put, f.header.request_id, commit, &env->encoder, &out);
    auto reply = proto::DecodeFrame(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(out.data()), out.size()),
                                    1u << 30);
    if (!reply.ok() || !reply.value().has_value()) __builtin_trap();
    std::vector<uint64_t> rbuf(reply.value()->body.size() / 8 + 1);
    std::memcpy(rbuf.data(), reply.value()->body.data(), reply.value()->body.size());
    auto resp = proto::VerifyPutRecordBatchResponse(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(rbuf.data()), reply.value()->body.size()));
    if (!resp.ok()) __builtin_trap();
    uint32_t failed = resp.value()->failed_put_count();
    if (commit.ok() && failed != put.failed_count()) __builtin_trap();
    if (resp.value()->results()->size() != put.record_count) __builtin_trap();
  }
  return 0;
}
