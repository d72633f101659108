// Stream admin commands: STREAM LIST/DESCRIBE/CREATE/UPDATE/DELETE, FLUSH, PAUSE, RESUME, STATS,
// SEGMENTS, BACKUPS, REPLAY.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "base/clock.h"
#include "server/admin/admin_services.h"
#include "server/admin/command_table.h"
#include "server/admin/resp.h"
#include "server/delivery/codec.h"
#include "server/monitor/monitor.h"
#include "server/monitor/snapshot.h"

namespace sluice::server::admin {
namespace {

// The stream (kept alive by the returned pointer), or an error reply and nullptr.
StreamPtr FindOrReply(CommandContext& ctx, const std::string& name) {
  StreamSetPtr set = ctx.services.streams.streams();
  const StreamInfo* s = set->Find(name);
  if (s == nullptr) {
    ReplyError(ctx.out, "no delivery stream named '" + name.substr(0, 128) + "'. Try STREAM LIST.");
    return nullptr;
  }
  return set->Get(s->id);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::toupper(x) == std::toupper(y); });
}

// "key value ..." words from argv[from] on; false (with an error reply) for an odd count.
bool ParseSettings(CommandContext& ctx, size_t from, const char* command, StreamControl::Settings* out) {
  if ((ctx.argv.size() - from) % 2 != 0) {
    ReplyError(ctx.out, std::string(command) + ": settings come in key value pairs; '" +
                            ctx.argv.back().substr(0, 64) + "' has no value");
    return false;
  }
  for (size_t i = from; i < ctx.argv.size(); i += 2) out->emplace_back(ctx.argv[i], ctx.argv[i + 1]);
  return true;
}

void ReplyStatus(CommandContext& ctx, const char* command, const base::Status& st) {
  if (st.ok()) ReplySimple(ctx.out, "OK");
  else ReplyError(ctx.out, std::string(command) + ": " + st.message());
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
  ctx.services.streams.streams()->ForEach([&](const StreamInfo& s) { names.push_back(s.name); });
  std::sort(names.begin(), names.end());
  ReplyArrayHeader(ctx.out, names.size());
  for (auto& n : names) ReplyBulk(ctx.out, n);
}

// Every setting of a settings table as "<section>.<key>" (tables entry by entry), secrets masked.
void AddSettings(Pairs& p, std::string_view section, std::span<const Setting> settings, const SettingValues& values) {
  for (const Setting& st : settings) {
    const std::string key = std::string(section) + "." + std::string(st.key);
    if (st.type == SettingType::kTable) {
      for (const auto& [k, v] : values.Tbl(st.key)) p.Add(key + "." + k, v);
    } else {
      p.Add(key, ShowSetting(st, values));
    }
  }
}

void CmdStreamDescribe(CommandContext& ctx) {
  StreamPtr s = FindOrReply(ctx, ctx.argv[2]);
  if (s == nullptr) return;
  const StreamConfig& c = *s->cfg;
  Pairs p;
  p.Add("name", s->name);
  p.Add("id", s->id);
  p.Add("version", s->version);
  p.Add("status", s->accepts_puts() ? "ACTIVE" : "DELETING");
  p.Add("delivery", s->paused ? "PAUSED" : "RUNNING");
  p.Add("source", s->from_config ? "config-file" : "admin");
  p.Add("created", Iso(s->created_ms));
  p.Add("updated", Iso(s->updated_ms));
  p.Add("destination", c.destination);
  p.Add("compression", std::string(CompressionName(c.compression)));
  p.Add("append_delimiter", c.append_delimiter ? "true" : "false");
  p.Add("buffering.size_mib", c.buffering.size_mib);
  p.Add("buffering.interval_s", c.buffering.interval_s);
  p.Add("retry_duration_s", c.retry_duration_s);
  if (const DestinationKind* kind = c.kind()) AddSettings(p, kind->name, kind->settings, c.settings());
  // Processors, keyed as STREAM CREATE/UPDATE sets them, in the order they run.
  for (const char* type : {"RecordDeAggregation", "Lambda", "MetadataExtraction", "AppendDelimiterToRecord"}) {
    for (const ProcessorConfig& proc : c.processors) {
      if (proc.type != type) continue;
      if (proc.parameters.empty()) p.Add("processors." + proc.type, "on");
      for (const auto& [k, v] : proc.parameters) p.Add("processors." + proc.type + "." + k, v);
    }
  }
  if (c.partitioned()) p.Add("active_partition_limit", c.active_partition_limit);
  p.Add("backup.mode", c.backup.mode);
  p.Add("backup.store", c.backup.store);
  if (c.backup.store == "directory") p.Add("backup.path", c.backup.path);
  if (const DestinationKind* store = c.backup_kind()) {
    AddSettings(p, "backup", store->backup_settings, c.backup.kinds.at(std::string(store->name)));
    // The store's own section (endpoint, credentials) when the destination is of another kind.
    if (store->name != c.destination) AddSettings(p, store->name, store->settings, c.settings(store->name));
  }
  p.Add("backup.error_output_prefix", c.backup.error_output_prefix);
  for (const auto& [k, v] : c.tags) p.Add("tags." + k, v);
  p.Reply(ctx.out);
}

void CmdStreamCreate(CommandContext& ctx) {
  StreamControl::Settings settings;
  if (!ParseSettings(ctx, 3, "STREAM CREATE", &settings)) return;
  auto created = ctx.services.streams.CreateStream(ctx.argv[2], settings);
  if (!created.ok()) return ReplyError(ctx.out, "STREAM CREATE: " + created.status().message());
  ReplySimple(ctx.out, "OK");
}

void CmdStreamUpdate(CommandContext& ctx) {
  uint32_t expected = 0;
  size_t from = 3;
  if (EqualsIgnoreCase(ctx.argv[3], "VERSION")) {
    const std::string& v = ctx.argv[4];
    char* end = nullptr;
    unsigned long n = v.empty() || !std::isdigit(static_cast<unsigned char>(v[0])) ? 0 : std::strtoul(v.c_str(), &end, 10);
    if (n == 0 || n > UINT32_MAX || end == nullptr || *end != '\0')
      return ReplyError(ctx.out, "STREAM UPDATE: VERSION must be 1..4294967295, got '" + v.substr(0, 32) + "'");
    expected = static_cast<uint32_t>(n);
    from = 5;
    if (ctx.argv.size() < 7)
      return ReplyError(ctx.out, "STREAM UPDATE: no settings given (usage: STREAM UPDATE name [VERSION n] key value ...)");
  }
  StreamControl::Settings settings;
  if (!ParseSettings(ctx, from, "STREAM UPDATE", &settings)) return;
  auto updated = ctx.services.streams.UpdateStream(ctx.argv[2], expected, settings);
  if (!updated.ok()) return ReplyError(ctx.out, "STREAM UPDATE: " + updated.status().message());
  ReplyInteger(ctx.out, updated.value()->version);
}

void CmdStreamDelete(CommandContext& ctx) {
  bool force = false;
  if (ctx.argv.size() == 4 && EqualsIgnoreCase(ctx.argv[3], "FORCE")) force = true;
  else if (ctx.argv.size() != 3)
    return ReplyError(ctx.out, "wrong number of arguments for 'stream delete' command (usage: STREAM DELETE name [FORCE])");
  ReplyStatus(ctx, "STREAM DELETE", ctx.services.streams.DeleteStream(ctx.argv[2], force));
}

void CmdPause(CommandContext& ctx) { ReplyStatus(ctx, "PAUSE", ctx.services.streams.SetPaused(ctx.argv[1], true)); }
void CmdResume(CommandContext& ctx) { ReplyStatus(ctx, "RESUME", ctx.services.streams.SetPaused(ctx.argv[1], false)); }

namespace {
struct BackupFile {
  std::string stream;
  std::string path;
  uint64_t bytes = 0;
  uint32_t records = 0;
  int64_t modified_s = 0;
};
constexpr size_t kMaxBackupsListed = 10000;

void ListBackups(const StreamInfo& s, std::vector<BackupFile>* out) {
  std::error_code ec;
  const std::string& root = s.cfg->backup.path;
  if (!std::filesystem::is_directory(root, ec)) return;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator() && out->size() < kMaxBackupsListed; it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->path().extension() != ".sseg") continue;
    BackupFile f{s.name, it->path().string()};
    struct stat st;
    if (::stat(f.path.c_str(), &st) == 0) {
      f.bytes = static_cast<uint64_t>(st.st_size);
      f.modified_s = st.st_mtime;
    }
    char header[12];
    std::ifstream in(f.path, std::ios::binary);
    if (in.read(header, sizeof(header)) && std::string_view(header, 4) == "SLSG")
      f.records = static_cast<uint8_t>(header[8]) | static_cast<uint8_t>(header[9]) << 8 |
                  static_cast<uint8_t>(header[10]) << 16 | static_cast<uint32_t>(static_cast<uint8_t>(header[11])) << 24;
    out->push_back(std::move(f));
  }
}
}  // namespace

void CmdBackups(CommandContext& ctx) {
  if (ctx.argv.size() > 2)
    return ReplyError(ctx.out, "wrong number of arguments for 'backups' command (usage: BACKUPS [name])");
  std::vector<BackupFile> files;
  if (ctx.argv.size() == 2) {
    StreamPtr s = FindOrReply(ctx, ctx.argv[1]);
    if (s == nullptr) return;
    ListBackups(*s, &files);
  } else {
    ctx.services.streams.streams()->ForEach([&](const StreamInfo& s) { ListBackups(s, &files); });
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  ReplyArrayHeader(ctx.out, files.size());
  for (const BackupFile& f : files) {
    Pairs p;
    p.Add("stream", f.stream);
    p.Add("path", f.path);
    p.Add("records", f.records);
    p.Add("bytes", f.bytes);
    p.Add("modified", Iso(f.modified_s * 1000));
    p.Reply(ctx.out);
  }
}

void CmdReplay(CommandContext& ctx) {
  auto started = ctx.services.replay.StartReplay(ctx.argv[1]);
  if (!started.ok()) return ReplyError(ctx.out, "REPLAY: " + started.status().message());
  if (started.value() == 0) return ReplySimple(ctx.out, "OK nothing to replay (no .sseg files)");
  ReplySimple(ctx.out, "OK replaying " + std::to_string(started.value()) +
                           " files in the background; progress in INFO replay");
}

void CmdFlush(CommandContext& ctx) {
  StreamPtr s;
  if (ctx.argv.size() > 2) {
    ReplyError(ctx.out, "wrong number of arguments for 'flush' command (usage: FLUSH [name])");
    return;
  }
  if (ctx.argv.size() == 2 && (s = FindOrReply(ctx, ctx.argv[1])) == nullptr) return;
  ctx.services.streams.Flush(s.get());
  ReplySimple(ctx.out, "OK");
}

void CmdStats(CommandContext& ctx) {
  StreamPtr s = FindOrReply(ctx, ctx.argv[1]);
  if (s == nullptr) return;
  const DeliveryPool& pool = ctx.services.status.pool();
  const DeliveryPool::Backlog backlog = pool.Backlogs()[s->id];
  const monitor::StreamSnapshot snap = monitor::TakeSnapshot(s, pool, backlog);
  const DeliveryStats* d = snap.delivery.get();
  const int64_t now = base::Clock::Real()->NowUnixMillis();
  const std::string& kind = snap.destination;
  const std::string backup = "BackupTo" + snap.backup_store;
  Pairs p;
  p.Add("IncomingRecords", snap.incoming_records);
  p.Add("IncomingBytes", snap.incoming_bytes);
  p.Add("IncomingPutRequests", snap.incoming_put_requests);
  p.Add("ThrottledRecords", snap.throttled_records);
  p.Add("DeliveryTo" + kind + ".Records", d->records.load());
  p.Add("DeliveryTo" + kind + ".Bytes", d->bytes.load());
  p.Add("DeliveryTo" + kind + ".Success", Ratio(d->segments.load(), d->attempts.load()));
  if (kind != "HttpEndpoint") p.Add("DeliveryTo" + kind + ".ObjectCount", d->segments.load());
  p.Add("DeliveryTo" + kind + ".RejectedRecords", d->rejected_records.load());
  p.Add("DeliveryTo" + kind + ".DataFreshness", static_cast<uint64_t>(snap.data_freshness_s(now)));
  p.Add(backup + ".Records", d->backup_records.load());
  p.Add(backup + ".Segments", d->backup_segments.load());
  p.Add(backup + ".Success", Ratio(d->backup_segments.load(), d->backup_segments.load() + d->backup_failures.load()));
  if (s->cfg->processing.staged()) {
    auto avg = [](uint64_t sum, uint64_t n, double scale) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.3f", n ? static_cast<double>(sum) / static_cast<double>(n) / scale : 0.0);
      return std::string(buf);
    };
    if (s->cfg->processing.lambda_url.size()) {
      p.Add("ExecuteProcessing.Duration", avg(d->invocation_ms.load(), d->invocations.load(), 1));  // ms
      p.Add("ExecuteProcessing.Success", Ratio(d->invocations_ok.load(), d->invocations.load()));
    }
    p.Add("SucceedProcessing.Records", d->processed_records.load());
    p.Add("SucceedProcessing.Bytes", d->processed_bytes.load());
    p.Add("DroppedProcessing.Records", d->dropped_records.load());
    p.Add("FailedProcessing.Records", d->processing_failed_records.load());
    p.Add("FailedPartitioning.Records", d->partitioning_failed_records.load());
    p.Add("PartitionCount", static_cast<uint64_t>(snap.partitions_active));
    p.Add("PartitionCountExceeded", d->partition_exceeded.load());
    p.Add("PartitionExceeded.Records", d->partition_exceeded_records.load());
    if (s->cfg->processing.jq_query.size())
      p.Add("JQProcessing.Duration", avg(d->jq_us.load(), d->jq_records.load(), 1000));  // ms per record
  }
  if (s->cfg->conversion.on()) {
    p.Add("SucceedConversion.Records", d->converted_records.load());
    p.Add("SucceedConversion.Bytes", d->converted_bytes.load());
    p.Add("FailedConversion.Records", d->conversion_failed_records.load());
    p.Add("FailedConversion.Bytes", d->conversion_failed_bytes.load());
  }
  p.Add("BacklogRecords", backlog.records);
  p.Add("BacklogBytes", backlog.bytes);
  p.Add("RetryingSegments", backlog.retrying);
  p.Reply(ctx.out);
}

void CmdStatus(CommandContext& ctx) {
  if (ctx.argv.size() > 2) return ReplyError(ctx.out, "wrong number of arguments for 'status' command (usage: STATUS [name])");
  if (ctx.services.monitor == nullptr) return ReplyError(ctx.out, "STATUS: not available");
  if (ctx.argv.size() == 2 && FindOrReply(ctx, ctx.argv[1]) == nullptr) return;
  ReplyBulk(ctx.out, ctx.services.monitor->StatusJson(ctx.argv.size() == 2 ? std::string_view(ctx.argv[1]) : std::string_view()));
}

void CmdSegments(CommandContext& ctx) {
  StreamPtr s = FindOrReply(ctx, ctx.argv[1]);
  if (s == nullptr) return;
  auto segs = ctx.services.status.pool().PendingSegments(s->id);
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
    if (seg.is_partition()) p.Add("partition", seg.partition);
    p.Reply(ctx.out);
  }
}

}  // namespace sluice::server::admin
