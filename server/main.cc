// sluiced: flags and config file -> ServerConfig -> Server. Everything else is in server.cc.
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/fault_point.h"
#include "base/log.h"
#include "server/config.h"
#include "server/delivery/destinations/registry.h"
#include "server/net/http_client.h"
#include "server/server.h"

using sluice::server::ServerConfig;

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);  // a vanished client must give EPIPE, not kill the broker
  signal(SIGHUP, SIG_IGN);   // a reload before the handlers exist must not kill the broker
#ifdef __GLIBC__
  // glibc raises its mmap threshold to the size of every large block freed (up to 32 MiB), after
  // which RocksDB's 8 MiB memtable blocks and delivery's segment buffers come from the heap
  // arenas and stay resident once freed. A fixed 4 MiB threshold keeps such blocks in mappings
  // of their own, returned to the system on free (peak RSS before and after: docs/benchmarks.md,
  // "glibc's dynamic mmap threshold"). MALLOC_MMAP_THRESHOLD_ in the environment wins.
  if (getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
  sluice::server::GlobalInitCurl();  // before any thread exists (libcurl's rule)
  // Every client, admin client and RocksDB file is a descriptor: take the whole hard limit
  // (typically 1024 soft / 524288 hard on Debian) as Redis does for maxclients.
  if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  CLI::App app{"sluiced: durable streaming-delivery broker"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // later flags win
  std::string config_file, data_dir, bind, port_file, durability, auth_token, log_level, log_format;
  int64_t log_rate_limit = -1;
  int64_t port = -1, shards = -1, max_record = -1, max_records = -1, max_batch = -1, delivery_threads = -1;
  bool fault_injection = false, admin_allow_remote = false;
  std::string admin_bind, admin_password, admin_port_file;
  int64_t admin_port = -1, http_port = -1;
  std::string http_bind, http_port_file;
  std::string cluster_endpoints, node_id, advertise, drain_for, cluster_prefix, wal_compression,
      records_compression;
  app.add_option("--config", config_file, "TOML config file (flags override its values)");
  app.add_option("--data-dir", data_dir, "data directory (default ./sluice-data)");
  app.add_option("--bind", bind, "address of the put port (default 127.0.0.1)");
  app.add_option("--port", port, "put port, 0 = any free port (default 7410)")->check(CLI::Range(0, 65535));
  app.add_option("--port-file", port_file, "write the bound put port to this file");
  app.add_option("--shards", shards, "shard threads, 0 = half the cores, at least 1 (default 0)")->check(CLI::Range(0, 256));
  app.add_option("--delivery-threads", delivery_threads, "delivery worker threads (default 4)")->check(CLI::Range(1, 64));
  app.add_option("--admin-port", admin_port, "admin port, 0 = any free port (default 7411)")->check(CLI::Range(0, 65535));
  app.add_option("--admin-bind", admin_bind, "address of the admin port (default 127.0.0.1)");
  app.add_option("--admin-password", admin_password, "require AUTH on the admin port");
  app.add_option("--admin-port-file", admin_port_file, "write the bound admin port to this file");
  app.add_option("--http-port", http_port, "Firehose API port, 0 = any free port (default 7412)")->check(CLI::Range(0, 65535));
  app.add_option("--http-bind", http_bind, "address of the Firehose API port (default 127.0.0.1; loopback only)");
  app.add_option("--http-port-file", http_port_file, "write the bound Firehose API port to this file");
  app.add_flag("--admin-allow-remote-without-password", admin_allow_remote,
               "allow a non-loopback --admin-bind without --admin-password");
  app.add_flag("--enable-fault-injection", fault_injection, "allow [stream.fault] sections (tests only)");
  app.add_option("--durability", durability, "fsync (default) | interval:<ms> | none");
  app.add_option("--auth-token", auth_token, "require Hello with this token");
  app.add_option("--max-record-bytes", max_record, "largest record (default 1024000)")->check(CLI::PositiveNumber);
  app.add_option("--max-batch-records", max_records, "most records per batch (default 500)")->check(CLI::PositiveNumber);
  app.add_option("--max-batch-bytes", max_batch, "most bytes per batch (default 4194304)")->check(CLI::PositiveNumber);
  int64_t min_free_mib = -1;
  app.add_option("--min-free-mib", min_free_mib, "refuse puts below this much free disk (default 256)")
      ->check(CLI::Range(16, 1 << 20));
  app.add_option("--log-format", log_format, "text | json (one object a line) (default text)")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-rate-limit", log_rate_limit, "lines a second one log statement may write, 0 = no limit (default 20)")
      ->check(CLI::Range(0, 100000));
  app.add_option("--log-level", log_level, "debug | info | warn | error (default info)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  bool version = false, settings_doc = false;
  app.add_option("--wal-compression", wal_compression, "none | zstd: compress the write-ahead log (default none)");
  app.add_option("--records-compression", records_compression, "none | lz4 | zstd: compress the records' SST files (default none)");
  app.add_option("--cluster", cluster_endpoints, "etcd endpoints, comma-separated (http://host:port): run as a cluster node");
  app.add_option("--node-id", node_id, "this node's id in the cluster ([A-Za-z0-9_.-], 1..64)");
  app.add_option("--advertise", advertise, "host:port at which clients and other nodes reach the put port");
  app.add_option("--cluster-prefix", cluster_prefix, "etcd key prefix of the cluster (default /sluice/)");
  app.add_option("--drain-for", drain_for, "internal (CLUSTER ADOPT): deliver this data directory's backlog for the named node, then exit");
  app.add_flag("--version", version, "print the version and exit");
  app.add_flag("--print-destination-settings", settings_doc,
               "print every destination kind's settings as Markdown tables and exit");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::printf("sluiced %s\n", SLUICE_VERSION);
    return 0;
  }
  if (settings_doc) {
    // docs/operations.md carries these tables between "<!-- settings:<kind> -->" markers;
    // scripts/docs-settings rewrites them and ctest docs_settings_tables compares.
    for (const sluice::server::DestinationKind* kind : sluice::server::DestinationKinds())
      std::printf("<!-- settings:%.*s -->\n%s<!-- /settings:%.*s -->\n", static_cast<int>(kind->name.size()),
                  kind->name.data(), sluice::server::SettingsMarkdown(*kind).c_str(),
                  static_cast<int>(kind->name.size()), kind->name.data());
    return 0;
  }

  // The configuration as the config file says, then the flags: built at startup and again on
  // SIGHUP, so a reload sees the same flags.
  auto build = [&]() -> sluice::base::Result<ServerConfig> {
    ServerConfig cfg;
    if (!config_file.empty()) RETURN_IF_ERROR(sluice::server::LoadConfigFile(config_file, &cfg));
    // A flag overrides the file: its errors must not name the file's line.
    auto flag = [&](const char* key) { cfg.origins.erase(key); };
    if (!data_dir.empty()) cfg.data_dir = data_dir, flag("data_dir");
    if (!bind.empty()) cfg.bind = bind, flag("bind");
    if (port >= 0) cfg.port = static_cast<uint16_t>(port), flag("port");
    if (!port_file.empty()) cfg.port_file = port_file;
    if (shards >= 0) cfg.shards = static_cast<uint32_t>(shards), flag("shards");
    if (!auth_token.empty()) cfg.auth_token = auth_token, flag("auth_token");
    if (min_free_mib > 0) cfg.min_free_bytes = uint64_t(min_free_mib) << 20, flag("min_free_mib");
    if (delivery_threads > 0) cfg.delivery_threads = static_cast<uint32_t>(delivery_threads), flag("delivery_threads");
    if (fault_injection) cfg.enable_fault_injection = true;
    if (admin_port >= 0) cfg.admin_port = static_cast<uint16_t>(admin_port), flag("admin_port");
    if (!admin_bind.empty()) cfg.admin_bind = admin_bind, flag("admin_bind");
    if (!admin_password.empty()) cfg.admin_password = admin_password, flag("admin_password");
    if (!admin_port_file.empty()) cfg.admin_port_file = admin_port_file;
    if (http_port >= 0) cfg.http_port = static_cast<uint16_t>(http_port), flag("http_port");
    if (!http_bind.empty()) cfg.http_bind = http_bind, flag("http_bind");
    if (!http_port_file.empty()) cfg.http_port_file = http_port_file;
    if (admin_allow_remote) cfg.admin_allow_remote_without_password = true;
    if (max_record > 0)
      cfg.limits.max_record_bytes = static_cast<uint32_t>(std::min<int64_t>(max_record, UINT32_MAX)), flag("max_record_bytes");
    if (max_records > 0)
      cfg.limits.max_batch_records = static_cast<uint32_t>(std::min<int64_t>(max_records, UINT32_MAX)), flag("max_batch_records");
    if (max_batch > 0)
      cfg.limits.max_batch_bytes = static_cast<uint32_t>(std::min<int64_t>(max_batch, UINT32_MAX)), flag("max_batch_bytes");
    if (!log_level.empty()) cfg.log_level = log_level, flag("log_level");
    if (!log_format.empty()) cfg.log_format = log_format, flag("log_format");
    if (log_rate_limit >= 0) cfg.log_rate_limit = static_cast<uint32_t>(log_rate_limit), flag("log_rate_limit");
    if (!cluster_endpoints.empty()) {
      cfg.cluster.endpoints.clear();
      for (size_t at = 0; at <= cluster_endpoints.size();) {
        size_t comma = cluster_endpoints.find(',', at);
        if (comma == std::string::npos) comma = cluster_endpoints.size();
        if (comma > at) cfg.cluster.endpoints.push_back(cluster_endpoints.substr(at, comma - at));
        at = comma + 1;
      }
      flag("cluster_endpoints");
    }
    if (!node_id.empty()) cfg.cluster.node_id = node_id, flag("node_id");
    if (!advertise.empty()) cfg.cluster.advertise = advertise, flag("advertise");
    if (!cluster_prefix.empty()) cfg.cluster.prefix = cluster_prefix, flag("cluster_prefix");
    if (!drain_for.empty()) cfg.cluster.drain_for = drain_for;
    if (!wal_compression.empty()) cfg.wal_compression = wal_compression, flag("wal_compression");
    if (!records_compression.empty()) cfg.records_compression = records_compression, flag("records_compression");
    if (!durability.empty()) {
      auto d = sluice::server::ParseDurability(durability);
      if (!d.ok()) return d.status().WithContext("--durability");
      cfg.durability = d.value();
      flag("durability");
    }
    cfg.ApplyDefaults();
    RETURN_IF_ERROR(cfg.Validate().WithContext("invalid configuration"));
    return cfg;
  };
  auto built = build();
  if (!built.ok()) {
    std::fprintf(stderr, "sluiced: %s\n", built.status().message().c_str());
    return 2;
  }
  ServerConfig cfg = std::move(built).value();
  sluice::base::SetLogLevelByName(cfg.log_level);
  sluice::base::SetLogFormatByName(cfg.log_format);
  sluice::base::SetLogRateLimit(cfg.log_rate_limit);

  if (cfg.enable_fault_injection) sluice::base::ArmFaultPoints();  // before any thread starts
  sluice::server::Server server(std::move(cfg), config_file.empty() ? sluice::server::Server::ConfigSource() : build);
  if (sluice::base::Status st = server.Start(); !st.ok()) {
    std::fprintf(stderr, "sluiced: cannot start: %s\n", st.ToString().c_str());
    return 1;
  }
  sluice::base::Status st = server.Run();
  if (!st.ok()) {
    std::fprintf(stderr, "sluiced: shutdown: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}
