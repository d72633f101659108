// The CLI's subcommands: put, inspect, replay, admin, top, bench, convert.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client-lib/cli/bench_payload.h"

struct redisContext;

namespace sluice::client {
class Client;
}

namespace sluice::cli {

// --tls / --ca-file of the commands that use the put port.
struct TlsFlags {
  bool tls = false;
  std::string ca_file;
};

struct PutOptions {
  TlsFlags tls;
  // One HOST:PORT, or several comma-separated seeds of a cluster: then `connections` lanes
  // spread over the live members and fail over (resending unacknowledged batches) when a node
  // fails.
  std::string addr = "127.0.0.1:7410";
  uint32_t connections = 0;       // 0: 1 for a single address, 4 for several seeds
  uint32_t failover_timeout_s = 30;
  std::string stream = "default";
  std::string auth_token;
  std::string acked_out;      // file receiving the 0-based line number of every acked record
  uint32_t batch = 500;       // records per batch (also capped by the server's byte limit)
  uint32_t in_flight = 8;     // batches sent but not yet acknowledged
  bool quiet = false;
};
// Reads records from stdin, one per line. Returns the process exit code: 0 when every record
// was acknowledged, 1 when some were not, 2 for usage or connection errors.
int RunPut(const PutOptions& opts);

struct ConvertOptions {
  std::string columns;              // Hive column list
  std::string input = "openx";      // openx | hive
  std::string timestamp_formats;    // hive: '|'-separated Joda patterns or millis
  std::string compression = "snappy";
  std::string writer_version = "v1";
  bool no_dictionary = false;
  std::string output;               // the Parquet file ("" = none: measure only)
  uint64_t sample = 0;              // > 0: convert this many generated json-payload records, not stdin
  uint32_t record_size = 100;       // their size
  bool json = false;
};
// Converts stdin's JSON lines into one Parquet file as a stream's [stream.conversion] would.
// Returns 0 when every line converted, 1 when some were refused, 2 for usage errors.
int RunConvert(const ConvertOptions& opts);

struct InspectOptions {
  std::string data_dir = "./sluice-data";
  std::string stream;  // empty: every stream
  bool dump = false;
};
int RunInspect(const InspectOptions& opts);

struct ReplayOptions {
  TlsFlags tls;
  std::string addr = "127.0.0.1:7410";
  std::string stream;  // empty: each file's own stream
  std::string auth_token;
  std::vector<std::string> paths;  // .sseg files or directories searched recursively
};
// Returns 0 when every record of every file was acknowledged, 1 otherwise, 2 for usage errors.
int RunReplay(const ReplayOptions& opts);
// Prints a segment file's header and metadata (or, with `dump`, its records one per line).
int RunInspectSegmentFile(const std::string& path, bool dump);

struct AdminOptions {
  std::string addr = "127.0.0.1:7411";
  std::string password;              // sent with AUTH first when set
  std::vector<std::string> command;  // empty: the REPL
};
// Runs one admin command (exit code 0, or 1 for an error reply) or the REPL; 2 when the admin
// port cannot be reached.
int RunAdmin(const AdminOptions& opts);
// A hiredis connection to the admin port at HOST:PORT (5 s to connect, 60 s per reply), or null
// after printing why (prefixed with `who`).
redisContext* ConnectAdmin(const std::string& addr, const char* who);

struct TopOptions {
  std::string addr = "127.0.0.1:7411";
  std::string password;
  double interval_s = 1;
  uint32_t count = 0;       // refreshes before exiting (0: until q or Ctrl-C)
  std::string sort = "in";  // in | out | backlog | freshness | errors | name
};
// The live view over the admin port's STATUS: a full-screen table on a terminal (keys: q quits,
// i/o/b/f/e/n sort), plain lines otherwise. 0 on a normal exit, 2 when the server cannot be reached.
int RunTop(const TopOptions& opts);

struct BenchOptions {
  TlsFlags tls;          // the put port only (not with --api firehose)
  std::string api = "sluice";  // sluice (the put port's protocol) | firehose (the Firehose API port) | redis (XADD, for comparison)
  std::string addr = "127.0.0.1:7410";
  std::string stream = "default";
  std::string auth_token;
  uint32_t connections = 4;
  uint32_t batch = 500;
  uint32_t record_size = 100;
  // json (realistic log/event records, docs/benchmarks.md) | filler (repeated letters).
  std::string payload = "json";
  Payload payload_kind = Payload::kJson;
  uint32_t in_flight = 8;       // per connection
  double duration_s = 10;       // unless `records` is set
  uint64_t records = 0;         // total across connections; 0 = run for duration_s
  uint64_t rate = 0;            // offered records/s across connections; 0 = as fast as acked
  std::string freshness_dir;    // the stream's delivered directory: measure put -> file
  uint32_t freshness_timeout_s = 60;
  int server_pid = 0;           // report this process's peak RSS
  bool json = false;
};
// Returns 0 when every record sent was acknowledged (and, with freshness, seen delivered).
int RunBench(const BenchOptions& opts);

// "HOST:PORT" or "[v6]:PORT".
bool ParseAddr(const std::string& addr, std::string* host, uint16_t* port);
// Connects (with Hello) or prints why not, prefixed with `tool`, and returns null.
std::unique_ptr<client::Client> ConnectOrExplain(const char* tool, const std::string& addr,
                                                 const std::string& auth_token, const TlsFlags& tls);

}  // namespace sluice::cli
