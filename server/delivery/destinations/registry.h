// The destination registry: every destination kind (and the remote backup stores they provide)
// declares itself here once, and everything else iterates the list: config parsing, STREAM
// CREATE/UPDATE keys, STREAM DESCRIBE, the delivery pool's factory and the docs' settings tables.
//
// Adding a kind: a folder server/delivery/destinations/<kind>/ whose <kind>.cc defines
// `const DestinationKind k<Kind>` (its settings table, checks, factory) and one line in
// kinds.inc. CMake picks up the folder's sources by itself.
//
// Settings are declarative, like RocksDB's option tables (name, type, range, mutability): the
// generic code parses, range-checks, renders and documents them; a kind's own `validate` hook
// only checks what the table cannot say (a region without ':', the attribute table's limits).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "base/status.h"
#include "server/delivery/destination.h"

namespace sluice::server {

enum class SettingType { kString, kInteger, kBool, kTable };

// How a non-empty string value is checked (empty values are checked only by `required`).
enum class SettingFormat {
  kText,       // no line breaks or NUL; at most `max` bytes when max > 0
  kUrl,        // http:// or https://, no spaces or control characters, at most `max` bytes
  kBucket,     // an S3 bucket name: 3..63 characters of [a-z0-9.-]
  kPrefix,     // a prefix expression (docs/operations.md, "Prefixes")
  kExtension,  // a file extension: ^$|\.[0-9a-z!\-_.*'()]+, at most 128 characters
  kChoice,     // one of `choices` ("none|gzip")
};

// How STREAM DESCRIBE shows a value.
enum class SettingShown {
  kPlain,
  kSecret,  // "(set)" or "" — never the value
};

struct Setting {
  std::string_view key = {};  // under [stream.<kind>] (or [stream.backup] for backup settings)
  SettingType type = SettingType::kString;
  std::string_view default_value = {};  // text form ("8", "true", "none"); "" = empty
  // Integers: the range. Strings (kText, kUrl): the maximum length when max > 0. Tables: the
  // maximum number of entries, names 1..256 characters and values 0..1024.
  int64_t min = 0;
  int64_t max = 0;
  SettingFormat format = SettingFormat::kText;
  std::string_view choices = {};        // kChoice: "a|b|c"
  bool required = false;           // a destination of this kind needs a non-empty value
  bool reloadable = true;          // STREAM UPDATE and SIGHUP may change it (false: recreate the stream)
  SettingShown shown = SettingShown::kPlain;
  std::string_view shown_when_empty = {};  // DESCRIBE's text for an empty value ("(environment)")
  std::string_view firehose = {};       // Firehose's name for it ("" when Sluice's own); dotted
                                        // for nested members ("EndpointConfiguration.Url")
  std::string_view firehose_prefix = {};  // prepended in Firehose's shape ("arn:aws:s3:::")
  std::string_view default_doc = {};    // the docs' default column when computed at start
  std::string_view doc = {};            // one line: what it means
};

// The values of one kind's settings: every declared key is present once parsed.
class SettingValues {
 public:
  using Table = std::map<std::string, std::string>;
  using Value = std::variant<std::string, int64_t, bool, Table>;

  // Every setting at its default.
  static SettingValues Defaults(std::span<const Setting> settings);

  // REQUIRES (all accessors): `key` is declared with that type (a programming error otherwise:
  // an empty value is returned and the failure is logged once).
  const std::string& Str(std::string_view key) const;
  int64_t Int(std::string_view key) const;
  bool Bool(std::string_view key) const;
  const Table& Tbl(std::string_view key) const;
  // nullptr when `key` is not declared.
  const Value* Find(std::string_view key) const;
  void Set(std::string_view key, Value v) { values_[std::string(key)] = std::move(v); }
  bool operator==(const SettingValues& o) const { return values_ == o.values_; }

 private:
  std::map<std::string, Value, std::less<>> values_;
};

// Where a kind's factory runs: the stream it delivers for and its settings (already validated).
struct DestinationContext {
  std::string_view stream;
  const SettingValues& settings;
  const SettingValues* backup = nullptr;  // make_backup: the kind's [stream.backup] settings
};

struct DestinationKind {
  std::string_view name = {};         // destination = "<name>", settings under [stream.<name>]
  std::string_view metric_name = {};  // DeliveryTo<metric_name>.*, BackupTo<metric_name>.*
  std::string_view firehose = {};     // Firehose's configuration it matches
  std::string_view summary = {};      // one line for the docs
  std::span<const Setting> settings = {};
  // Limits of the stream's common settings for this kind (Firehose's, per destination).
  uint32_t max_buffer_size_mib = 128;
  uint32_t max_retry_duration_s = 86400;
  uint32_t default_retry_duration_s = 86400;
  // Objects whose bytes are what the stream builds (directory, s3): record format conversion
  // (Parquet objects) is allowed.
  bool object_store = false;
  // Defaults computed from the server and the stream (a path under data_dir); may be null.
  void (*apply_defaults)(const std::string& data_dir, std::string_view stream, SettingValues* values) = nullptr;
  // Checks beyond the table's (ranges, formats and `required` are done already); may be null.
  base::Status (*validate)(const SettingValues& values) = nullptr;
  std::unique_ptr<Destination> (*make)(const DestinationContext& ctx) = nullptr;
  // A remote backup store in this kind's storage (backup.store = <name>), with the extra keys
  // it reads from [stream.backup]; null when the kind cannot hold backups.
  std::shared_ptr<ObjectStore> (*make_backup)(const DestinationContext& ctx) = nullptr;
  std::span<const Setting> backup_settings = {};
  base::Status (*validate_backup)(const SettingValues& values, const SettingValues& backup) = nullptr;
};

// Every registered kind, in kinds.inc's order.
std::span<const DestinationKind* const> DestinationKinds();
// nullptr when no kind has that name.
const DestinationKind* FindDestinationKind(std::string_view name);
// "directory, s3, http" — for error messages and docs.
std::string DestinationKindNames();
// "directory, s3": the names backup.store accepts (the local directory store and every kind
// with make_backup).
std::string BackupStoreNames();

// Checks `values` against `settings` (types are checked when parsed): ranges, formats and, with
// `as_destination`, the required keys. kInvalidArgument names "<section>.<key>".
base::Status CheckSettings(std::string_view section, std::span<const Setting> settings,
                           const SettingValues& values, bool as_destination);
// The value as STREAM DESCRIBE shows it (secrets as "(set)").
std::string ShowSetting(const Setting& s, const SettingValues& values);
// The docs' range column of a setting ("1..3600", "`none`, `gzip`", "http:// or https://, ≤ 1000").
std::string SettingRangeDoc(const Setting& s);
// Markdown: one table per kind (key, default, range, reloadable, Firehose, meaning), as
// docs/operations.md shows them between "<!-- settings:<kind> -->" markers.
std::string SettingsMarkdown(const DestinationKind& kind);

}  // namespace sluice::server
