#include <catch2/catch.hpp>

#include "server/config.h"

using namespace sluice::server;

TEST_CASE("ServerConfig: a full TOML file loads and validates", "[server][config]") {
  ServerConfig cfg;
  auto st = LoadConfigText(R"(
data_dir = "/tmp/x"
port = 9000
shards = 3
durability = "interval:50"
max_batch_records = 1000

[[stream]]
name = "clicks"
destination = "directory"
[stream.directory]
path = "/tmp/out"

[[stream]]
name = "logs.v2"
)", "test.toml", &cfg);
  INFO(st.ToString());
  REQUIRE(st.ok());
  cfg.ApplyDefaults();
  REQUIRE(cfg.Validate().ok());
  CHECK(cfg.port == 9000);
  CHECK(cfg.shards == 3);
  CHECK(cfg.durability.mode == DurabilityMode::kInterval);
  CHECK(cfg.durability.interval_ms == 50);
  CHECK(cfg.limits.max_batch_records == 1000);
  REQUIRE(cfg.streams.size() == 2);
  CHECK(cfg.streams[0].settings("directory").Str("path") == "/tmp/out");
  CHECK(cfg.streams[1].settings().Str("path") == "/tmp/x/delivered/logs.v2");
}

TEST_CASE("ServerConfig: no streams declared gives the embedded default stream", "[server][config]") {
  ServerConfig cfg;
  cfg.ApplyDefaults();
  REQUIRE(cfg.streams.size() == 1);
  CHECK(cfg.streams[0].name == "default");
  CHECK(cfg.Validate().ok());
}

TEST_CASE("ServerConfig: bad input names the key and the allowed range", "[server][config]") {
  ServerConfig cfg;
  auto check = [&](const char* text, const char* needle) {
    ServerConfig c;
    auto st = LoadConfigText(text, "f.toml", &c);
    if (st.ok()) {
      c.ApplyDefaults();
      st = c.Validate();
    }
    INFO(text << " -> " << st.ToString());
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find(needle) != std::string::npos);
  };
  check("prot = 1", "unknown key 'prot'");
  check("port = 70000", "port");
  check("port = \"x\"", "port must be an integer");
  check("durability = \"sometimes\"", "durability must be");
  check("durability = \"interval:0\"", "durability must be");
  check("max_batch_records = 0", "max_batch_records must be 1..");
  check("max_batch_records = 20000", "max_batch_records must be 1..");
  check("shards = 1000", "shards must be 0..256");
  check("[[stream]]\nname = \"bad name\"", "must be 1..64 characters");
  check("[[stream]]\nname = \"a\"\n[[stream]]\nname = \"a\"", "declared twice");
  check("[[stream]]\nname = \"a\"\ndestination = \"kafka\"", "destination must be one of");
  check("[[stream]]\nname = \"a\"\nbuffer = 1", "unknown key 'buffer'");
  check("this is = not toml [", "f.toml:1");
  // Issue 13: names that are also unsafe directory names, and escaping prefixes.
  check("[[stream]]\nname = \"..\"", "not starting with '.'");
  check("[[stream]]\nname = \".\"", "not starting with '.'");
  check("[[stream]]\nname = \".hidden\"", "not starting with '.'");
  check("[[stream]]\nname = \"a\"\ndirectory = { prefix = \"../../../escape/\" }", "leave its root");
  check("[[stream]]\nname = \"a\"\nbackup = { error_output_prefix = \"../e/\" }", "leave its root");
  // New settings, and range errors that name the file and line.
  check("max_connections = 0", "max_connections must be 1..");
  check("read_timeout_s = 0", "read_timeout_s must be 1..3600");
  check("write_timeout_s = 99999", "write_timeout_s must be 1..3600");
  check("max_client_memory_mib = 1", "max_client_memory_mib must be");
  check("delivery_memory_mib = 8", "delivery_memory_mib must be 16..1048576");
  check("log_level = \"loud\"", "log_level must be one of");
  check("replay_roots = \"x\"", "replay_roots must be a list");
  check("\n\nshards = 1000", "f.toml:3: shards must be 0..256");
  check("[[stream]]\nname = \"a\"\n\n[[stream]]\nname = \"b\"\nbuffering = { size_mib = 999 }", "f.toml:4: stream 'b'");
}

TEST_CASE("ServerConfig: log_level, timeouts and replay_roots load from the file", "[server][config]") {
  ServerConfig c;
  REQUIRE(LoadConfigText("log_level = \"debug\"\nread_timeout_s = 5\nwrite_timeout_s = 7\nmax_connections = 3\n"
                         "max_client_memory_mib = 64\ndelivery_memory_mib = 96\nshutdown_timeout_s = 0\nreplay_roots = [\"/srv/a\", \"/srv/b\"]\n",
                         "f.toml", &c)
              .ok());
  c.ApplyDefaults();
  REQUIRE(c.Validate().ok());
  CHECK(c.log_level == "debug");
  CHECK(c.read_timeout_s == 5);
  CHECK(c.write_timeout_s == 7);
  CHECK(c.max_connections == 3);
  CHECK(c.max_client_memory_bytes == (64u << 20));
  CHECK(c.delivery_memory_bytes == (96u << 20));
  CHECK(c.shutdown_timeout_s == 0);
  CHECK(c.replay_roots == std::vector<std::string>{"/srv/a", "/srv/b"});
}

TEST_CASE("ParseDurability: the three modes", "[server][config]") {
  CHECK(ParseDurability("fsync").value().mode == DurabilityMode::kFsync);
  CHECK(ParseDurability("none").value().mode == DurabilityMode::kNone);
  CHECK(ParseDurability("interval:10").value().interval_ms == 10);
  CHECK_FALSE(ParseDurability("interval:").ok());
  CHECK_FALSE(ParseDurability("interval:10x").ok());
}

TEST_CASE("ServerConfig: wal_compression and records_compression take known names only", "[server][config]") {
  for (const char* v : {"none", "zstd"}) {
    ServerConfig cfg;
    REQUIRE(LoadConfigText(std::string("wal_compression = \"") + v + "\"\n", "w.toml", &cfg).ok());
    cfg.ApplyDefaults();
    CHECK(cfg.Validate().ok());
  }
  ServerConfig cfg;
  REQUIRE(LoadConfigText("wal_compression = \"lz4\"\n", "w.toml", &cfg).ok());
  cfg.ApplyDefaults();
  auto st = cfg.Validate();
  CHECK(st.message().find("w.toml:1") != std::string::npos);
  CHECK(st.message().find("none or zstd") != std::string::npos);
  ServerConfig rc;
  REQUIRE(LoadConfigText("records_compression = \"lz4\"\n", "r.toml", &rc).ok());
  rc.ApplyDefaults();
  CHECK(rc.Validate().ok());
  REQUIRE(LoadConfigText("records_compression = \"brotli\"\n", "r.toml", &rc).ok());
  CHECK(rc.Validate().message().find("none, lz4 or zstd") != std::string::npos);
}

TEST_CASE("StreamConfig: record format conversion settings, defaults and Firehose's rules", "[server][config]") {
  // The [[stream]] table's contents, as the catalog stores them: [stream.conversion] is [conversion].
  ServerConfig server;
  server.data_dir = "/tmp/x";
  auto ok = ParseStreamConfig(
      "name = \"p\"\n[conversion]\ncolumns = \"id bigint, tags array<string>\"\ncompression = \"zstd\"\n"
      "column_to_json_key_mappings = { id = \"ID\" }\n",
      "", server);
  INFO(ok.status().ToString());
  REQUIRE(ok.ok());
  CHECK(ok.value().conversion.on());
  CHECK(ok.value().buffering.size_mib == 128);  // Firehose's default with conversion
  CHECK(ok.value().conversion.writer.codec == sluice::parquet::Codec::kZstd);
  CHECK(ok.value().conversion.schema->leaves().size() == 2);
  auto off = ParseStreamConfig("name = \"p\"\n[conversion]\nenabled = false\ncolumns = \"id bigint\"\n", "", server);
  REQUIRE(off.ok());
  CHECK_FALSE(off.value().conversion.on());
  CHECK(off.value().buffering.size_mib == 5);

  auto refused = [&](const std::string& text, const char* needle) {
    auto r = ParseStreamConfig("name = \"p\"\n" + text, "", server);
    INFO(text << " -> " << r.status().ToString());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find(needle) != std::string::npos);
  };
  const std::string conv = "[conversion]\ncolumns = \"id bigint\"\n";
  refused("destination = \"http\"\nhttp = { url = \"http://127.0.0.1:1/\" }\n" + conv, "directory, s3");
  refused("compression = \"gzip\"\n" + conv, "compression must be none");
  refused("buffering = { size_mib = 5 }\n" + conv, "size_mib must be 64..128");
  refused("[conversion]\ncolumns = \"id bigint,\"\n", "conversion: columns");
  refused("[conversion]\ncolumns = \"id blob\"\n", "unknown type 'blob'");
  refused(conv + "compression = \"lzo\"\n", "snappy, gzip, zstd or uncompressed");
  refused(conv + "block_size_bytes = 1000\n", "block_size_bytes must be");
  refused(conv + "page_size_bytes = 1000\n", "page_size_bytes must be");
  refused(conv + "writer_version = \"v3\"\n", "writer_version must be v1 or v2");
  refused(conv + "input_format = \"csv\"\n", "input_format must be openx or hive");
  refused(conv + "timestamp_formats = \"yyyy\"\n", "belongs to input_format = hive");
  refused(conv + "input_format = \"hive\"\ntimestamp_formats = \"yyyy MMM\"\n", "month names");
  refused(conv + "input_format = \"hive\"\ncase_insensitive = false\n", "belong to input_format = openx");
  refused(conv + "column_to_json_key_mappings = { nope = \"x\" }\n", "does not have");
  refused(conv + "colums = \"x\"\n", "unknown key 'colums'");
}
