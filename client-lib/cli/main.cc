// sluice: the command-line client (put, inspect, replay, admin, top, bench, convert).
#include <CLI/CLI.hpp>

#include "client-lib/cli/put_command.h"

int main(int argc, char** argv) {
  CLI::App app{"sluice: client for the Sluice streaming-delivery broker"};
  app.set_version_flag("--version", std::string("sluice ") + SLUICE_VERSION);
  app.require_subcommand(1);

  sluice::cli::PutOptions put;
  CLI::App* put_cmd = app.add_subcommand("put", "put stdin lines as records (newline not included)");
  put_cmd->add_option("--addr", put.addr, "server HOST:PORT, or a cluster's seeds HOST:PORT,HOST:PORT,...")->capture_default_str();
  put_cmd->add_option("--connections", put.connections, "connections (default 1; 4 with several seeds), spread over the cluster's nodes")->check(CLI::Range(1, 256));
  put_cmd->add_option("--failover-timeout", put.failover_timeout_s, "seconds a batch may look for a node that takes it (cluster)")->capture_default_str()->check(CLI::Range(1, 3600));
  put_cmd->add_option("--stream", put.stream, "delivery stream")->capture_default_str();
  put_cmd->add_option("--batch", put.batch, "records per batch")->capture_default_str()->check(CLI::Range(1, 16383));
  put_cmd->add_option("--in-flight", put.in_flight, "batches awaiting acks")->capture_default_str()->check(CLI::Range(1, 1024));
  put_cmd->add_option("--acked-out", put.acked_out, "append the 0-based line number of each acked record here");
  put_cmd->add_option("--auth-token", put.auth_token, "token for servers run with --auth-token");
  put_cmd->add_flag("--tls", put.tls.tls, "connect with TLS (servers with tls_ports = [\"put\"])");
  put_cmd->add_option("--ca-file", put.tls.ca_file, "CA bundle that signed the server's certificate (default: the system's)");
  put_cmd->add_flag("--quiet", put.quiet, "print the summary only when something failed");

  sluice::cli::InspectOptions inspect;
  CLI::App* inspect_cmd = app.add_subcommand("inspect", "show what a stopped server's data dir holds");
  inspect_cmd->add_option("--data-dir", inspect.data_dir, "data directory")->capture_default_str();
  inspect_cmd->add_option("--stream", inspect.stream, "only this stream");
  inspect_cmd->add_flag("--dump", inspect.dump, "print the stored records, one per line");
  std::string segment_file;
  inspect_cmd->add_option("--segment-file", segment_file, "print a backed-up segment file instead");

  sluice::cli::ReplayOptions replay;
  CLI::App* replay_cmd = app.add_subcommand("replay", "re-put the records of backed-up segment files");
  replay_cmd->add_option("--addr", replay.addr, "server HOST:PORT")->capture_default_str();
  replay_cmd->add_option("--stream", replay.stream, "target stream (default: each file's own)");
  replay_cmd->add_option("--auth-token", replay.auth_token, "token for servers run with --auth-token");
  replay_cmd->add_flag("--tls", replay.tls.tls, "connect with TLS");
  replay_cmd->add_option("--ca-file", replay.tls.ca_file, "CA bundle that signed the server's certificate");
  replay_cmd->add_option("paths", replay.paths, ".sseg files or directories")->required();

  sluice::cli::AdminOptions admin;
  CLI::App* admin_cmd = app.add_subcommand("admin", "run an admin command, or a REPL when none is given");
  admin_cmd->add_option("--addr", admin.addr, "admin port HOST:PORT")->capture_default_str();
  admin_cmd->add_option("--password", admin.password, "sent with AUTH first (sluiced --admin-password)");
  admin_cmd->add_option("command", admin.command, "command and its arguments, e.g. STREAM LIST");
  admin_cmd->prefix_command();  // everything after the options is the command, even "-x" words

  sluice::cli::TopOptions top;
  CLI::App* top_cmd = app.add_subcommand("top", "live view of every stream (rates, backlog, freshness, errors) over the admin port");
  top_cmd->add_option("--addr", top.addr, "admin port HOST:PORT")->capture_default_str();
  top_cmd->add_option("--password", top.password, "sent with AUTH first (sluiced --admin-password)");
  top_cmd->add_option("--interval", top.interval_s, "seconds between refreshes")->capture_default_str()->check(CLI::Range(0.2, 3600.0));
  top_cmd->add_option("--count", top.count, "refreshes before exiting (0: until q or Ctrl-C)")->capture_default_str();
  top_cmd->add_option("--sort", top.sort, "initial order")->capture_default_str()->check(
      CLI::IsMember({"in", "out", "backlog", "freshness", "errors", "name"}));

  sluice::cli::BenchOptions bench;
  CLI::App* bench_cmd = app.add_subcommand("bench", "load the put path and report throughput and ack latency");
  bench_cmd->add_option("--addr", bench.addr, "server HOST:PORT, or a cluster's seeds HOST:PORT,HOST:PORT,... (put port)")->capture_default_str();
  bench_cmd->add_option("--stream", bench.stream, "delivery stream")->capture_default_str();
  bench_cmd->add_option("--auth-token", bench.auth_token, "token for servers run with --auth-token; with --api firehose, <key id>:<secret> signs requests (SigV4)");
  bench_cmd->add_option("--api", bench.api, "sluice (the put port, 7410), firehose (PutRecordBatch on the Firehose API port, 7412) "
                        "or redis (XADD <stream> * f <record>, pipelined per batch: the same schedule against Redis)")
      ->capture_default_str()->check(CLI::IsMember({"sluice", "firehose", "redis"}));
  bench_cmd->add_flag("--tls", bench.tls.tls, "connect to the put port with TLS");
  bench_cmd->add_option("--ca-file", bench.tls.ca_file, "CA bundle that signed the server's certificate");
  bench_cmd->add_option("--connections", bench.connections, "connections, one thread each")->capture_default_str()->check(CLI::Range(1, 1024));
  bench_cmd->add_option("--batch", bench.batch, "records per batch")->capture_default_str()->check(CLI::Range(1, 100000));
  bench_cmd->add_option("--record-size", bench.record_size, "bytes per record")->capture_default_str()->check(CLI::Range(1, 16 << 20));
  bench_cmd->add_option("--in-flight", bench.in_flight, "batches awaiting acks per connection")->capture_default_str()->check(CLI::Range(1, 1024));
  auto* dur = bench_cmd->add_option("--duration", bench.duration_s, "seconds to run")->capture_default_str()->check(CLI::Range(0.1, 86400.0));
  bench_cmd->add_option("--records", bench.records, "records to send in total (instead of --duration)")->excludes(dur);
  bench_cmd->add_option("--rate", bench.rate, "offered load in records/s (open loop, coordinated-omission-safe latency)");
  bench_cmd->add_option("--freshness-dir", bench.freshness_dir, "the stream's delivered directory: also measure put -> file latency");
  bench_cmd->add_option("--server-pid", bench.server_pid, "report this sluiced's peak RSS");
  bench_cmd->add_flag("--json", bench.json, "one JSON object instead of text");
  bench_cmd->add_option("--payload", bench.payload, "json (realistic log/event records, fixed seed) | filler (repeated letters)")
      ->capture_default_str()->check(CLI::IsMember({"json", "filler"}));

  sluice::cli::ConvertOptions convert;
  CLI::App* convert_cmd = app.add_subcommand("convert", "JSON lines on stdin -> a Parquet file, as [stream.conversion] converts");
  convert_cmd->add_option("--columns", convert.columns, "the schema: a Hive column list (\"id bigint, tags array<string>\")")->required();
  convert_cmd->add_option("--input-format", convert.input, "openx | hive")->capture_default_str()->check(CLI::IsMember({"openx", "hive"}));
  convert_cmd->add_option("--timestamp-formats", convert.timestamp_formats, "hive: Joda patterns or millis, separated by |");
  convert_cmd->add_option("--compression", convert.compression, "snappy | gzip | zstd | uncompressed")
      ->capture_default_str()->check(CLI::IsMember({"snappy", "gzip", "zstd", "uncompressed"}));
  convert_cmd->add_option("--writer-version", convert.writer_version, "v1 | v2")->capture_default_str()->check(CLI::IsMember({"v1", "v2"}));
  convert_cmd->add_flag("--no-dictionary", convert.no_dictionary, "EnableDictionaryCompression = false");
  convert_cmd->add_option("-o,--output", convert.output, "the Parquet file to write (none: only measure)");
  convert_cmd->add_flag("--json", convert.json, "print one JSON object of figures");
  convert_cmd->add_option("--sample", convert.sample, "convert this many generated records (sluice bench's json payload) instead of stdin");
  convert_cmd->add_option("--record-size", convert.record_size, "bytes per generated record")->capture_default_str()->check(CLI::Range(40, 1 << 20));

  CLI11_PARSE(app, argc, argv);
  if (convert_cmd->parsed()) return sluice::cli::RunConvert(convert);
  if (put_cmd->parsed()) return sluice::cli::RunPut(put);
  if (inspect_cmd->parsed()) {
    if (!segment_file.empty()) return sluice::cli::RunInspectSegmentFile(segment_file, inspect.dump);
    return sluice::cli::RunInspect(inspect);
  }
  if (replay_cmd->parsed()) return sluice::cli::RunReplay(replay);
  if (admin_cmd->parsed()) return sluice::cli::RunAdmin(admin);
  if (top_cmd->parsed()) return sluice::cli::RunTop(top);
  if (bench_cmd->parsed()) {
    sluice::cli::ParsePayload(bench.payload, &bench.payload_kind);
    return sluice::cli::RunBench(bench);
  }
  return 2;
}
