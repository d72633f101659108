// Stream admin commands: STREAM LIST, STREAM DESCRIBE, FLUSH, STATS, SEGMENTS.
#include <ctime>

#include "base/clock.h"
#include "server/admin/admin_services.h"
#include "server/admin/command_table.h"
#include "server/admin/resp.h"
#include "server/delivery/codec.h"

namespace sluice::server::admin {
namespace {

const StreamInfo* FindOrReply(CommandContext& ctx, const std::string& name) {
  const StreamInfo* s = ctx.services.streams().Find(name);
  if (s == nullptr) ReplyError(ctx.out, "no delivery stream named '" + name.substr(0, 128) + "'. Try STREAM LIST.");
  return s;
}

std::string Iso(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  tm t;
  gmtime_r(&secs, &t);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

// Flat [key, value, key, value, ...] reply, the shape of CONFIG GET.
class Pairs {
 public:
  void Add(std::string key, std::string value) { kv_.emplace_back(std::move(key), std::move(value)); }
  void Add(std::string key, uint64_t value) { Add(std::move(key), std::to_string(value)); }
  void Reply(std::string* out) const {
    ReplyArrayHeader(out, kv_.size() * 2);
    for (auto& [k, v] : kv_) {
      ReplyBulk(out, k);
      ReplyBulk(out, v);
    }
  }

 private:
  std::vector<std::pair<std::string, std::string>> kv_;
};

std::string Ratio(uint64_t good, uint64_t total) {
  if (total == 0) return "1";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f", static_cast<double>(good) / static_cast<double>(total));
  return buf;
}

}  // namespace

void CmdStreamList(CommandContext& ctx) {
  std::vector<std::string> names;
  ctx.services.streams().ForEach([&](const StreamInfo& s) { names.push_back(s.name); });
  std::sort(names.begin(), names.end());
  ReplyArrayHeader(ctx.out, names.size());
  for (auto& n : names) ReplyBulk(ctx.out, n);
}

void CmdStreamDescribe(CommandContext& ctx) {
  const StreamInfo* s = FindOrReply(ctx, ctx.argv[2]);
  if (s == nullptr) return;
  const StreamConfig& c = *s->cfg;
  Pairs p;
  p.Add("name", s->name);
  p.Add("id", s->id);
  p.Add("version", s->version);
  p.Add("status", "ACTIVE");
  p.Add("created", Iso(s->created_ms));
  p.Add("updated", Iso(s->updated_ms));
  p.Add("destination", c.destination);
  p.Add("compression", std::string(CompressionName(c.compression)));
  p.Add("append_delimiter", c.append_delimiter ? "true" : "false");
  p.Add("buffering.size_mib", c.buffering.size_mib);
  p.Add("buffering.interval_s", c.buffering.interval_s);
  p.Add("retry_duration_s", c.retry_duration_s);
  p.Add("directory.path", c.directory.path);
  p.Add("directory.prefix", c.directory.prefix);
  p.Add("directory.file_extension", c.directory.file_extension);
  p.Add("backup.mode", c.backup.mode);
  p.Add("backup.path", c.backup.path);
  p.Add("backup.error_output_prefix", c.backup.error_output_prefix);
  p.Reply(ctx.out);
}

void CmdFlush(CommandContext& ctx) {
  const StreamInfo* s = nullptr;
  if (ctx.argv.size() > 2) {
    ReplyError(ctx.out, "wrong number of arguments for 'flush' command (usage: FLUSH [name])");
    return;
  }
  if (ctx.argv.size() == 2 && (s = FindOrReply(ctx, ctx.argv[1])) == nullptr) return;
  ctx.services.Flush(s);
  ReplySimple(ctx.out, "OK");
}

void CmdStats(CommandContext& ctx) {
  const StreamInfo* s = FindOrReply(ctx, ctx.argv[1]);
  if (s == nullptr) return;
  const DeliveryStats* d = ctx.services.pool().stats(s->id);
  const StreamCounters& in = *s->counters;
  int64_t now = base::Clock::Real()->NowUnixMillis();
  // DataFreshness: age of the oldest record not yet delivered, open or sealed.
  int64_t oldest = 0;
  for (const auto& slot : in.open_oldest_ms) {
    int64_t v = slot.load(std::memory_order_relaxed);
    if (v != 0 && (oldest == 0 || v < oldest)) oldest = v;
  }
  uint64_t backlog_records = 0, backlog_bytes = 0, retrying = 0;
  for (const auto& seg : ctx.services.pool().PendingSegments(s->id)) {
    backlog_records += seg.record_count;
    backlog_bytes += seg.bytes;
    retrying += seg.attempts > 0;
    if (oldest == 0 || seg.oldest_arrival_ms < oldest) oldest = seg.oldest_arrival_ms;
  }
  const std::string kind = "Directory";
  Pairs p;
  p.Add("IncomingRecords", in.incoming_records.load());
  p.Add("IncomingBytes", in.incoming_bytes.load());
  p.Add("IncomingPutRequests", in.incoming_put_requests.load());
  p.Add("ThrottledRecords", in.throttled_records.load());
  p.Add("DeliveryTo" + kind + ".Records", d->records.load());
  p.Add("DeliveryTo" + kind + ".Bytes", d->bytes.load());
  p.Add("DeliveryTo" + kind + ".Success", Ratio(d->segments.load(), d->attempts.load()));
  p.Add("DeliveryTo" + kind + ".DataFreshness", static_cast<uint64_t>(oldest ? std::max<int64_t>(0, now - oldest) / 1000 : 0));
  p.Add("BackupTo" + kind + ".Records", d->backup_records.load());
  p.Add("BackupTo" + kind + ".Segments", d->backup_segments.load());
  p.Add("BackupTo" + kind + ".Success", Ratio(d->backup_segments.load(), d->backup_segments.load() + d->backup_failures.load()));
  p.Add("BacklogRecords", backlog_records);
  p.Add("BacklogBytes", backlog_bytes);
  p.Add("RetryingSegments", retrying);
  p.Reply(ctx.out);
}

void CmdSegments(CommandContext& ctx) {
  const StreamInfo* s = FindOrReply(ctx, ctx.argv[1]);
  if (s == nullptr) return;
  auto segs = ctx.services.pool().PendingSegments(s->id);
  int64_t now = base::Clock::Real()->NowUnixMillis();
  ReplyArrayHeader(ctx.out, segs.size());
  for (const auto& seg : segs) {
    Pairs p;
    p.Add("id", seg.Id());
    p.Add("records", seg.record_count);
    p.Add("bytes", seg.bytes);
    p.Add("age_s", static_cast<uint64_t>(std::max<int64_t>(0, now - seg.oldest_arrival_ms) / 1000));
    p.Add("attempts", seg.attempts);
    p.Add("next_attempt_in_ms", static_cast<uint64_t>(std::max<int64_t>(0, seg.next_attempt_ms - now)));
    p.Add("last_error", seg.last_error);
    p.Reply(ctx.out);
  }
}

}  // namespace sluice::server::admin
