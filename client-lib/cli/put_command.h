// `sluice put` and `sluice inspect`: the CLI's subcommands.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::cli {

struct PutOptions {
  std::string addr = "127.0.0.1:7410";
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

struct InspectOptions {
  std::string data_dir = "./sluice-data";
  std::string stream;  // empty: every stream
  bool dump = false;
};
int RunInspect(const InspectOptions& opts);

}  // namespace sluice::cli
