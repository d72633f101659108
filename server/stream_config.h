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
  // Destination kind: directory | s3 | http. Default: "directory".
  std::string destination = "directory";
  // none | gzip | zstd | snappy (container and extension as Firehose). Default: none.
  Compression compression = Compression::kNone;
  // AppendDelimiterToRecord: a newline after each record. Default: false (Firehose).
  bool append_delimiter = false;
  BufferingHints buffering;
  // How long a failing segment is retried before it goes to the backup store. 0 = no retry.
  // 0..86400 for directory, 0..7200 for http. Default: 86400 (directory, as Firehose's S3 24 h),
  // 300 (http, as Firehose's RetryOptions).
  uint32_t retry_duration_s = 86400;
  bool retry_duration_set = false;  // given explicitly (else the destination's default applies)
  struct Directory {
    // Root directory of delivered objects. Default: <data_dir>/delivered/<name>.
    std::string path;
    // Prefix expression (docs/operations.md). Default: "" = !{timestamp:yyyy/MM/dd/HH/}.
    std::string prefix;
    // Overrides the compression's extension (Firehose FileExtension). Default: "".
    std::string file_extension;
  } directory;
  // [stream.s3]: an S3-compatible object store, SigV4-signed, objects named as Firehose names them in S3.
  struct S3 {
    // Endpoint URL. Default: https://s3.<region>.amazonaws.com.
    std::string endpoint;
    // Signing region. Default: us-east-1.
    std::string region = "us-east-1";
    // Bucket name, 3..63 characters of [a-z0-9.-]. Required.
    std::string bucket;
    // Key prefix expression (as directory.prefix). Default: "" = !{timestamp:yyyy/MM/dd/HH/}.
    std::string prefix;
    // Overrides the compression's extension (Firehose FileExtension). Default: "".
    std::string file_extension;
    // true: <endpoint>/<bucket>/<key> (S3-compatible servers); false: virtual-host style.
    // Default: true.
    bool path_style = true;
    // Credentials; when empty, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
    // from sluiced's environment. Default: "".
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;
    // Objects above this size are uploaded in parts of part_size_mib. 5..5120 / 5..5120 MiB.
    // Defaults: 8, 8.
    uint32_t multipart_threshold_mib = 8;
    uint32_t part_size_mib = 8;
    // Timeout of each request, 1..3600 s. Default: 120.
    uint32_t request_timeout_s = 120;
    // CA bundle for https with a private CA. Default: the system's.
    std::string ca_file;
  } s3;
  // [stream.http]: Firehose's HTTP endpoint delivery protocol 1.0.
  struct Http {
    // Endpoint URL, http:// or https:// at most 1000 characters. Required.
    std::string url;
    // Display name (Firehose EndpointConfiguration.Name). Default: "".
    std::string name;
    // Sent verbatim as X-Amz-Firehose-Access-Key, at most 4096 bytes. Default: none.
    std::string access_key;
    // none | gzip (Content-Encoding of the request). Default: none.
    std::string content_encoding = "none";
    // At most 50: name 1..256 characters, value 0..1024. Default: none.
    std::map<std::string, std::string> common_attributes;
    // Whole-request timeout, 1..600 s. Default: 180 (Firehose's 3 minutes).
    uint32_t request_timeout_s = 180;
    // CA bundle for https endpoints with a private CA. Default: the system's.
    std::string ca_file;
  } http;
  struct Backup {
    // failed-only: segments given up on; all: every segment, delivered or not (source backup).
    // Default: failed-only.
    std::string mode = "failed-only";
    // directory | s3 (the bucket below, reached with [stream.s3]'s endpoint, region and
    // credentials). Default: directory.
    std::string store = "directory";
    // Directory of the backup store. Default: <data_dir>/backup/<name>.
    std::string path;
    // Bucket of an s3 backup store. Default: s3.bucket.
    std::string bucket;
    // Error output prefix inside it. Default: !{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH/}.
    std::string error_output_prefix;
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
  // Test-only fault injection; refused unless the server runs with --enable-fault-injection.
  FaultConfig fault;
  // The settings as TOML text, stored in the catalog; a change bumps the stream version.
  std::string toml;

  // The destination's prefix expression ("" for http, which has none).
  const std::string& prefix() const {
    static const std::string kNone;
    return destination == "s3" ? s3.prefix : destination == "directory" ? directory.prefix : kNone;
  }
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

// Fills in a stream's defaults that depend on the server (paths under `data_dir`, the S3
// endpoint of its region, the HTTP retry duration).
void ApplyStreamDefaults(const std::string& data_dir, StreamConfig* s);

bool IsValidStreamName(std::string_view name);

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
