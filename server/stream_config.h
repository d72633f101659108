// StreamConfig: one delivery stream's settings (the config file's [[stream]] table, STREAM
// CREATE/UPDATE keys, the catalog's stored TOML), their parsing, defaults and validation.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "server/delivery/codec.h"
#include "server/delivery/conversion.h"
#include "server/delivery/destinations/registry.h"
#include "server/delivery/fault_destination.h"
#include "server/processing/spec.h"

namespace sluice::server {

struct ServerConfig;

// Buffering hints: a segment is sealed when either is reached (Firehose's BufferingHints).
struct BufferingHints {
  // Segment size that seals it, before compression. 1..128. Default: 5. Reloadable: no.
  uint32_t size_mib = 5;
  // Age of the oldest record that seals a segment. 0..900; 0 = as soon as possible (within a
  // tick of ~100 ms). Default: 300. Reloadable: no.
  uint32_t interval_s = 300;
};

// One delivery stream as declared in the config file. Key names follow Firehose's.
struct StreamConfig {
  // 1..64 characters of [a-zA-Z0-9_.-] (Firehose's DeliveryStreamName rule), not starting with
  // '.' (a name is also a directory name).
  std::string name;
  // Where the stream was declared ("path:line" of its [[stream]] table), for error messages.
  std::string origin;
  // Destination kind: a name in the registry (server/delivery/destinations/kinds.inc):
  // directory | s3 | http. Default: "directory".
  std::string destination = "directory";
  // none | gzip | zstd | snappy (container and extension as Firehose). Default: none.
  Compression compression = Compression::kNone;
  // AppendDelimiterToRecord: a newline after each record. Default: false (Firehose).
  bool append_delimiter = false;
  BufferingHints buffering;
  bool buffering_size_set = false;  // buffering.size_mib given (else conversion makes it 128)
  // [stream.conversion]: record format conversion, JSON -> Parquet (directory and s3 only;
  // needs compression = none and buffering.size_mib >= 64, as Firehose).
  ConversionConfig conversion;
  // How long a failing segment is retried before it goes to the backup store. 0 = no retry.
  // 0..the kind's max_retry_duration_s. Default: the kind's default_retry_duration_s (86400 for
  // directory and s3, as Firehose's S3 24 h; 300 for http, as Firehose's RetryOptions).
  uint32_t retry_duration_s = 86400;
  bool retry_duration_set = false;  // given explicitly (else the destination's default applies)
  // Every registered kind's [stream.<kind>] settings, at their defaults where the section is
  // absent. Those of the destination (and of a remote backup store) are checked and used; the
  // others are only type-checked (they stay in `toml` for a later change of destination).
  std::map<std::string, SettingValues, std::less<>> kinds;
  struct Backup {
    // failed-only: segments given up on; all: every segment, delivered or not (source backup).
    // Default: failed-only.
    std::string mode = "failed-only";
    // directory, or a kind with a remote backup store (s3: a bucket, reached with [stream.s3]'s
    // endpoint, region and credentials). Default: directory.
    std::string store = "directory";
    // Directory of the backup store. Default: <data_dir>/backup/<name>.
    std::string path;
    // Error output prefix inside it. Default: !{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH/}.
    std::string error_output_prefix;
    // The keys remote stores add to [stream.backup] (s3: bucket), per kind, as `kinds`.
    std::map<std::string, SettingValues, std::less<>> kinds;
  } backup;
  // [[stream.processors]]: Firehose's ProcessingConfiguration.Processors, each a table with
  // `type` and the processor's parameters by their Firehose names. Default: none.
  std::vector<ProcessorConfig> processors;
  // The processors, checked (append_delimiter above also covers AppendDelimiterToRecord).
  ProcessingSpec processing;
  // Dynamic partitioning: at most this many partitions (distinct evaluated prefixes) buffer at
  // once; records for another go to the error output as activePartitionExceeded. 1..5000.
  // Default: 500 (Firehose's quota).
  uint32_t active_partition_limit = 500;
  // Tags (Firehose's TagDeliveryStream): at most 50; keys 1..128 characters not starting with
  // "aws:", values 0..256. Changing them does not change the stream's version. Default: none.
  std::map<std::string, std::string> tags;
  // Test-only fault injection; refused unless the server runs with --enable-fault-injection.
  FaultConfig fault;
  // The settings as TOML text, stored in the catalog; a change bumps the stream version.
  std::string toml;

  // Every kind's settings at their defaults.
  StreamConfig();
  // The destination's kind; nullptr for a name that is not registered (refused by validation).
  const DestinationKind* kind() const { return FindDestinationKind(destination); }
  // The kind holding a remote backup store (backup.store = s3); nullptr for the directory store.
  const DestinationKind* backup_kind() const {
    return backup.store == "directory" ? nullptr : FindDestinationKind(backup.store);
  }
  // The destination's settings, or those of another kind (empty for an unregistered name).
  const SettingValues& settings() const { return settings(destination); }
  const SettingValues& settings(std::string_view kind) const;
  // The destination's prefix expression and file extension ("" for kinds without them: http).
  const std::string& prefix() const;
  const std::string& file_extension() const;
  // True when the prefix uses partition keys (dynamic partitioning).
  bool partitioned() const;
  // Buffering of segments as put: the processors' when the stream is staged, else the hints.
  uint64_t source_buffer_bytes() const {
    return processing.staged() ? processing.source_buffer_bytes() : uint64_t(buffering.size_mib) << 20;
  }
  int64_t source_interval_ms() const {
    return processing.staged() ? processing.source_interval_ms() : int64_t(buffering.interval_s) * 1000;
  }
};

// Fills in a stream's defaults that depend on the server and the kind (paths under `data_dir`,
// the S3 endpoint of its region, the kind's retry duration).
void ApplyStreamDefaults(const std::string& data_dir, StreamConfig* s);

bool IsValidStreamName(std::string_view name);

// Sets (`set`) and removes (`remove`) tags in the stream settings `text`; the result is checked
// by ParseStreamConfig as any other change (kInvalidArgument past Firehose's tag limits).
base::Result<std::string> ApplyTagChanges(std::string_view text, std::string_view name,
                                          const std::map<std::string, std::string>& set,
                                          const std::vector<std::string>& remove);
// True when `a` and `b` differ at most in their tags (a change that keeps the version).
bool SameExceptTags(const StreamConfig& a, const StreamConfig& b);

// kInvalidArgument naming the settings that `updated` changes although their kind declares them
// not reloadable (Setting::reloadable): STREAM UPDATE and SIGHUP refuse such a change.
base::Status CheckReloadable(const StreamConfig& current, const StreamConfig& updated,
                             std::span<const DestinationKind* const> kinds = DestinationKinds());

// Parses one stream's settings from TOML text (a [[stream]] table's contents, as stored in the
// catalog), fills in the defaults under server.data_dir and validates them as the config file's
// streams are. kInvalidArgument names the key and the allowed values.
base::Result<StreamConfig> ParseStreamConfig(std::string_view text, const std::string& origin,
                                             const ServerConfig& server);
// Applies "key value" settings (the config file's keys, dotted for sections: buffering.size_mib)
// to the stream settings in `text` ("" for a new stream) and returns the new TOML text, for
// ParseStreamConfig to validate. kInvalidArgument names an unknown key or a mistyped value.
base::Result<std::string> ApplyStreamSettings(std::string_view text, std::string_view name,
                                              const std::vector<std::pair<std::string, std::string>>& settings);

}  // namespace sluice::server
