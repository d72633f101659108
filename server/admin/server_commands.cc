// Server-wide admin commands: PING, HELP, COMMAND, QUIT, AUTH, INFO, SHUTDOWN.
#include <fnmatch.h>
#include <unistd.h>

#include <cctype>
#include <sstream>

#include "base/clock.h"
#include "server/admin/admin_services.h"
#include "server/admin/command_table.h"
#include "server/admin/resp.h"
#include "server/monitor/process_stats.h"

namespace sluice::server::admin {
namespace {

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string FlagNames(unsigned f) {
  std::string s;
  auto add = [&](const char* n) {
    if (!s.empty()) s.push_back(' ');
    s.append(n);
  };
  if (f & kNoAuth) add("noauth");
  if (f & kReadOnly) add("readonly");
  if (f & kWrite) add("write");
  if (f & kAdmin) add("admin");
  return s;
}

}  // namespace

void CmdPing(CommandContext& ctx) {
  if (ctx.argv.size() > 1) ReplyBulk(ctx.out, ctx.argv[1]);
  else ReplySimple(ctx.out, "PONG");
}

void CmdHelp(CommandContext& ctx) {
  std::vector<std::string> lines;
  std::string want = ctx.argv.size() > 1 ? Upper(ctx.argv[1]) : "";
  std::string want_sub = ctx.argv.size() > 2 ? Upper(ctx.argv[2]) : "";
  for (const CommandSpec& c : AllCommands()) {
    if (!want.empty() && want != c.name) continue;
    // HELP STREAM CREATE shows that subcommand only; HELP STREAM all of them.
    if (!want_sub.empty() && want_sub != c.sub) continue;
    lines.push_back(std::string(c.usage) + "  -  " + c.summary);
  }
  if (lines.empty()) {
    ReplyError(ctx.out, "unknown command '" + ctx.argv[1].substr(0, 128) + "'. Try HELP.");
    return;
  }
  ReplyArrayHeader(ctx.out, lines.size());
  for (auto& l : lines) ReplySimple(ctx.out, l);
}

void CmdCommand(CommandContext& ctx) {
  if (ctx.argv.size() > 1) {
    // redis-cli asks for COMMAND DOCS at start to build its hints; an empty reply means
    // "no docs" (HELP has them), while anything else in Redis 7's shape would be large.
    if (Upper(ctx.argv[1]) == "DOCS") {
      ReplyArrayHeader(ctx.out, 0);
      return;
    }
    ReplyError(ctx.out, "unknown subcommand '" + ctx.argv[1].substr(0, 64) + "' for 'command' (try COMMAND or COMMAND DOCS)");
    return;
  }
  // Shape of Redis's COMMAND reply: name, arity, flags, first/last/step key positions.
  const auto& all = AllCommands();
  ReplyArrayHeader(ctx.out, all.size());
  for (const CommandSpec& c : all) {
    ReplyArrayHeader(ctx.out, 6);
    std::string name = c.sub[0] ? std::string(c.name) + "|" + c.sub : c.name;
    for (auto& ch : name) ch = static_cast<char>(std::tolower(ch));
    ReplyBulk(ctx.out, name);
    ReplyInteger(ctx.out, c.arity);
    std::istringstream flags(FlagNames(c.flags));
    std::vector<std::string> f((std::istream_iterator<std::string>(flags)), std::istream_iterator<std::string>());
    ReplyArrayHeader(ctx.out, f.size());
    for (auto& x : f) ReplySimple(ctx.out, x);
    ReplyInteger(ctx.out, 0);
    ReplyInteger(ctx.out, 0);
    ReplyInteger(ctx.out, 0);
  }
}

void CmdQuit(CommandContext& ctx) {
  ReplySimple(ctx.out, "OK");
  ctx.session.close_after_reply = true;
}

void CmdAuth(CommandContext& ctx) {
  if (ctx.argv.size() > 3) {
    ReplyError(ctx.out, "wrong number of arguments for 'auth' command (usage: AUTH [username] password)");
    return;
  }
  if (!ctx.services.control.password_required()) {
    ReplyError(ctx.out, "AUTH called without any password configured (start sluiced with --admin-password)");
    return;
  }
  const std::string& given = ctx.argv.back();
  if (ctx.argv.size() == 3 && ctx.argv[1] != "default") {
    ReplyError(ctx.out, "WRONGPASS invalid username-password pair");
    return;
  }
  if (!ctx.services.control.CheckPassword(given)) {
    ctx.session.authenticated = false;
    ReplyError(ctx.out, "WRONGPASS invalid username-password pair");
    return;
  }
  ctx.session.authenticated = true;
  ReplySimple(ctx.out, "OK");
}

void CmdInfo(CommandContext& ctx) {
  std::string want = ctx.argv.size() > 1 ? Upper(ctx.argv[1]) : "";
  auto wanted = [&](const char* s) { return want.empty() || want == "ALL" || want == s; };
  static const char* kSections[] = {"SERVER", "SHARDS", "STORAGE", "DELIVERY", "MEMORY", "STREAMS", "REPLAY", "ALL"};
  if (!want.empty() && std::find(std::begin(kSections), std::end(kSections), want) == std::end(kSections)) {
    ReplyError(ctx.out, "unknown INFO section '" + ctx.argv[1].substr(0, 64) +
                            "' (one of: server, shards, storage, delivery, memory, streams, replay, all)");
    return;
  }
  ServerStatus& s = ctx.services.status;
  const ServerConfig& cfg = s.config();
  std::ostringstream o;
  int64_t now = base::Clock::Real()->NowUnixMillis();
  if (wanted("SERVER")) {
    o << "# Server\r\nsluice_version:" SLUICE_VERSION "\r\nprocess_id:" << getpid() << "\r\nuptime_in_seconds:"
      << (now - s.start_unix_ms()) / 1000 << "\r\nput_port:" << s.put_port() << "\r\nadmin_port:" << s.admin_port()
      << "\r\nbind:" << cfg.bind << "\r\ndata_dir:" << cfg.data_dir << "\r\ndurability:" << ToString(cfg.durability)
      << "\r\nshards:" << s.shards().size() << "\r\ndelivery_threads:" << cfg.delivery_threads << "\r\n\r\n";
  }
  if (wanted("SHARDS")) {
    o << "# Shards\r\n";
    for (const auto& sh : s.shards()) {
      const ShardStats& st = sh->stats();
      o << "shard" << sh->id() << ":connections=" << st.connections_open.load() << ",accepted="
        << st.connections_accepted.load() << ",put_requests=" << st.put_requests.load() << ",records_stored="
        << st.records_stored.load() << ",bytes_stored=" << st.bytes_stored.load() << ",records_failed="
        << st.records_failed.load() << ",commits=" << st.commits.load() << ",commit_failures="
        << st.commit_failures.load() << ",protocol_errors=" << st.protocol_errors.load() << ",budget_pauses="
        << st.budget_pauses.load() << ",segments_sealed=" << st.segments_sealed.load()
        << ",seal_failures=" << st.seal_failures.load() << ",timeouts=" << st.timeouts.load() << "\r\n";
    }
    if (!s.shards().empty()) {  // one ClientMemory, shared by every shard
      const ClientMemory& mem = s.shards().front()->client_memory_view();
      o << "client_memory_bytes:" << mem.used() << "\r\nclient_memory_budget:" << mem.budget()
        << "\r\nclient_memory_pauses:" << mem.pauses.load() << "\r\n";
    }
    o << "\r\n";
  }
  if (wanted("STORAGE")) {
    o << "# Storage\r\nrocksdb_estimate_num_keys:" << s.store().Property("rocksdb.estimate-num-keys")
      << "\r\nrocksdb_live_sst_bytes:" << s.store().Property("rocksdb.live-sst-files-size")
      << "\r\nrocksdb_memtable_bytes:" << s.store().Property("rocksdb.cur-size-all-mem-tables") << "\r\n\r\n";
  }
  if (wanted("DELIVERY")) {
    o << "# Delivery\r\ndelivery_threads:" << cfg.delivery_threads << "\r\npending_segments:" << s.pool().pending()
      << "\r\ndelivery_memory_bytes:" << s.pool().memory_in_flight()
      << "\r\ndelivery_memory_budget_bytes:" << cfg.delivery_memory_bytes << "\r\n\r\n";
  }
  if (wanted("MEMORY")) {
    const monitor::ProcessStats proc = monitor::ReadProcessStats();
    o << "# Memory\r\nused_memory_rss:" << proc.rss_bytes << "\r\nused_memory_peak_rss:" << proc.peak_rss_bytes
      << "\r\n\r\n";
  }
  if (wanted("STREAMS")) {
    StreamSetPtr set = ctx.services.streams.streams();
    o << "# Streams\r\nstreams:" << set->size() << "\r\n";
    set->ForEach([&](const StreamInfo& st) {
      o << "stream_" << st.name << ":id=" << st.id << ",version=" << st.version
        << ",status=" << (st.accepts_puts() ? "active" : "deleting") << ",delivery=" << (st.paused ? "paused" : "running")
        << ",incoming_records=" << st.counters->incoming_records.load()
        << ",pending_segments=" << s.pool().pending(st.id) << "\r\n";
    });
    o << "\r\n";
  }
  if (wanted("REPLAY")) {
    ReplayJob::Snapshot r = ctx.services.replay.replay_status();
    o << "# Replay\r\nreplay_running:" << (r.running ? 1 : 0) << "\r\nreplay_target:" << r.target
      << "\r\nreplay_files_total:" << r.progress.files_total << "\r\nreplay_files_done:" << r.progress.files_done
      << "\r\nreplay_files_renamed:" << r.files_renamed << "\r\nreplay_files_unreadable:" << r.progress.files_bad
      << "\r\nreplay_records_acked:" << r.progress.records_acked
      << "\r\nreplay_records_failed:" << r.progress.records_failed << "\r\nreplay_last_error:" << r.progress.first_error
      << "\r\n";
  }
  ReplyBulk(ctx.out, o.str());
}

void CmdConfigGet(CommandContext& ctx) {
  std::vector<std::pair<std::string, std::string>> matched;
  for (auto& [k, v] : ctx.services.status.ConfigValues())
    if (fnmatch(ctx.argv[2].c_str(), k.c_str(), FNM_CASEFOLD) == 0) matched.emplace_back(k, v);
  ReplyArrayHeader(ctx.out, matched.size() * 2);
  for (auto& [k, v] : matched) {
    ReplyBulk(ctx.out, k);
    ReplyBulk(ctx.out, v);
  }
}

void CmdConfigSet(CommandContext& ctx) {
  base::Status st = ctx.services.control.SetConfig(ctx.argv[2], ctx.argv[3]);
  if (!st.ok()) return ReplyError(ctx.out, "CONFIG SET: " + st.message());
  ReplySimple(ctx.out, "OK");
}

void CmdShutdown(CommandContext& ctx) {
  ReplySimple(ctx.out, "OK");
  ctx.session.close_after_reply = true;
  ctx.services.control.RequestShutdown();
}

}  // namespace sluice::server::admin
