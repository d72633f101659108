// Stream settings: the [[stream]] table and STREAM CREATE/UPDATE keys, their parsing,
// validation and defaults.
#include "server/stream_config.h"

#include <cerrno>
#include <sstream>

#include "server/config.h"
#include "server/config_toml.h"
#include "server/delivery/object_key.h"

namespace sluice::server {
namespace {

using config_toml::CheckKeys;
using config_toml::Get;
using config_toml::SubTable;
using config_toml::Where;

// kTable: a table of strings; kProcessors: the [[stream.processors]] list, set by
// "processors.<Type> on|off" and "processors.<Type>.<Parameter> <value>".
enum class KeyType { kString, kInteger, kBool, kTable, kProcessors };
struct StreamKey {
  std::string key;  // "section.key" for keys of a sub-table
  KeyType type;
};
// The keys every stream has, whatever its destination. Each destination kind adds its own
// ("<kind>.<key>", and "backup.<key>" for a remote backup store's) from the registry.
constexpr std::pair<std::string_view, KeyType> kCommonKeys[] = {
    {"name", KeyType::kString},
    {"destination", KeyType::kString},
    {"compression", KeyType::kString},
    {"append_delimiter", KeyType::kBool},
    {"retry_duration_s", KeyType::kInteger},
    {"buffering.size_mib", KeyType::kInteger},
    {"buffering.interval_s", KeyType::kInteger},
    {"backup.mode", KeyType::kString},
    {"backup.store", KeyType::kString},
    {"backup.path", KeyType::kString},
    {"backup.error_output_prefix", KeyType::kString},
    {"active_partition_limit", KeyType::kInteger},
    {"conversion.enabled", KeyType::kBool},
    {"conversion.columns", KeyType::kString},
    {"conversion.input_format", KeyType::kString},
    {"conversion.case_insensitive", KeyType::kBool},
    {"conversion.convert_dots_in_json_keys_to_underscores", KeyType::kBool},
    {"conversion.column_to_json_key_mappings", KeyType::kTable},
    {"conversion.timestamp_formats", KeyType::kString},
    {"conversion.compression", KeyType::kString},
    {"conversion.block_size_bytes", KeyType::kInteger},
    {"conversion.page_size_bytes", KeyType::kInteger},
    {"conversion.enable_dictionary_compression", KeyType::kBool},
    {"conversion.writer_version", KeyType::kString},
    {"processors", KeyType::kProcessors},
    {"tags", KeyType::kTable},
    {"fault.fail_attempts", KeyType::kInteger},
    {"fault.fail_for_s", KeyType::kInteger},
    {"fault.permanent", KeyType::kBool},
};

KeyType KeyTypeOf(SettingType t) {
  switch (t) {
    case SettingType::kString: return KeyType::kString;
    case SettingType::kInteger: return KeyType::kInteger;
    case SettingType::kBool: return KeyType::kBool;
    case SettingType::kTable: return KeyType::kTable;
  }
  return KeyType::kString;
}

// Every key of a [[stream]] table: the one list CheckKeys and STREAM CREATE/UPDATE use.
const std::vector<StreamKey>& StreamKeys() {
  static const std::vector<StreamKey> keys = [] {
    std::vector<StreamKey> out;
    auto add = [&](std::string key, KeyType type) {
      for (const StreamKey& k : out)
        if (k.key == key) return;  // two stores may share a backup key (bucket)
      out.push_back({std::move(key), type});
    };
    for (const auto& [key, type] : kCommonKeys) add(std::string(key), type);
    for (const DestinationKind* kind : DestinationKinds()) {
      for (const Setting& st : kind->settings) add(std::string(kind->name) + "." + std::string(st.key), KeyTypeOf(st.type));
      for (const Setting& st : kind->backup_settings) add("backup." + std::string(st.key), KeyTypeOf(st.type));
    }
    return out;
  }();
  return keys;
}

// The keys allowed in the [[stream]] table itself (section = "") or in one of its sections.
std::set<std::string_view> AllowedKeys(std::string_view section) {
  std::set<std::string_view> out;
  for (const StreamKey& k : StreamKeys()) {
    std::string_view key = k.key;
    size_t dot = key.find('.');
    if (section.empty()) out.insert(key.substr(0, dot));
    else if (dot != std::string_view::npos && key.substr(0, dot) == section) out.insert(key.substr(dot + 1));
  }
  return out;
}

// Reads the keys of `settings` present in `t` into `values`, typed as declared.
base::Status LoadSettings(const toml::table& t, std::span<const Setting> settings, std::string_view section,
                          const std::string& origin, SettingValues* values) {
  for (const Setting& st : settings) {
    const toml::node* n = t.get(st.key);
    if (n == nullptr) continue;
    const std::string name = std::string(section) + "." + std::string(st.key);
    switch (st.type) {
      case SettingType::kString:
        if (!n->is_string()) return base::InvalidArgument(Where(origin, *n) + ": " + name + " must be a string");
        values->Set(st.key, n->as_string()->get());
        break;
      case SettingType::kInteger:
        if (!n->is_integer()) return base::InvalidArgument(Where(origin, *n) + ": " + name + " must be an integer");
        values->Set(st.key, n->as_integer()->get());
        break;
      case SettingType::kBool:
        if (!n->is_boolean()) return base::InvalidArgument(Where(origin, *n) + ": " + name + " must be true or false");
        values->Set(st.key, n->as_boolean()->get());
        break;
      case SettingType::kTable: {
        if (!n->is_table()) return base::InvalidArgument(Where(origin, *n) + ": " + name + " must be a table of strings");
        SettingValues::Table table;
        for (const auto& [k, v] : *n->as_table()) {
          if (!v.is_string())
            return base::InvalidArgument(Where(origin, v) + ": " + name + "." + std::string(k.str()) + " must be a string");
          table[std::string(k.str())] = v.as_string()->get();
        }
        values->Set(st.key, std::move(table));
        break;
      }
    }
  }
  return base::Status::Ok();
}

base::Status LoadStreamImpl(const toml::table& t, const std::string& origin, StreamConfig* s) {
  RETURN_IF_ERROR(CheckKeys(t, AllowedKeys(""), origin, "[[stream]]"));
  RETURN_IF_ERROR(Get(t, "name", origin, &s->name));
  if (s->name.empty()) return base::InvalidArgument(Where(origin, t) + ": [[stream]] needs a name");
  const std::string ctx = "stream '" + s->name + "'";
  RETURN_IF_ERROR(Get(t, "destination", origin, &s->destination));
  std::string compression = "none";
  RETURN_IF_ERROR(Get(t, "compression", origin, &compression));
  auto comp = ParseCompression(compression);
  if (!comp.ok()) return comp.status().WithContext(origin + ": " + ctx);
  s->compression = comp.value();
  RETURN_IF_ERROR(Get(t, "append_delimiter", origin, &s->append_delimiter));
  RETURN_IF_ERROR(Get(t, "retry_duration_s", origin, &s->retry_duration_s));
  s->retry_duration_set = t.contains("retry_duration_s");
  RETURN_IF_ERROR(Get(t, "active_partition_limit", origin, &s->active_partition_limit));
  if (const toml::node* tags = t.get("tags")) {
    if (!tags->is_table()) return base::InvalidArgument(Where(origin, *tags) + ": " + ctx + ": tags must be a table of strings");
    for (const auto& [k, v] : *tags->as_table()) {
      if (!v.is_string())
        return base::InvalidArgument(Where(origin, v) + ": " + ctx + ": tags." + std::string(k.str()) + " must be a string");
      s->tags[std::string(k.str())] = v.as_string()->get();
    }
  }
  if (const toml::node* procs = t.get("processors")) {
    const toml::array* arr = procs->as_array();
    if (arr == nullptr)
      return base::InvalidArgument(Where(origin, *procs) + ": " + ctx + ": processors must be a list of tables ([[stream.processors]])");
    for (const toml::node& n : *arr) {
      const toml::table* pt = n.as_table();
      if (pt == nullptr) return base::InvalidArgument(Where(origin, n) + ": " + ctx + ": each processor must be a table");
      ProcessorConfig p;
      for (const auto& [k, v] : *pt) {
        std::string value;
        if (v.is_string()) value = v.as_string()->get();
        else if (v.is_integer()) value = std::to_string(v.as_integer()->get());
        else if (v.is_floating_point()) {
          std::ostringstream f;
          f << v.as_floating_point()->get();
          value = f.str();
        } else if (v.is_boolean()) value = v.as_boolean()->get() ? "true" : "false";
        else return base::InvalidArgument(Where(origin, v) + ": " + ctx + ": processor parameter " + std::string(k.str()) + " must be a string or a number");
        if (k.str() == "type") p.type = value;
        else p.parameters[std::string(k.str())] = value;
      }
      if (p.type.empty())
        return base::InvalidArgument(Where(origin, n) + ": " + ctx + ": a processor needs a type (one of: " + kProcessorTypes + ")");
      s->processors.push_back(std::move(p));
    }
    base::Status parsed = ParseProcessors(s->processors, &s->processing);
    if (!parsed.ok()) return parsed.WithContext(Where(origin, *procs) + ": " + ctx);
    if (s->processing.append_delimiter) s->append_delimiter = true;
  }
  base::Status st;
  if (const toml::table* b = SubTable(t, "buffering", origin, &st)) {
    RETURN_IF_ERROR(CheckKeys(*b, AllowedKeys("buffering"), origin, ctx + " buffering"));
    RETURN_IF_ERROR(Get(*b, "size_mib", origin, &s->buffering.size_mib));
    s->buffering_size_set = b->contains("size_mib");
    RETURN_IF_ERROR(Get(*b, "interval_s", origin, &s->buffering.interval_s));
  }
  RETURN_IF_ERROR(st);
  if (const toml::table* b = SubTable(t, "backup", origin, &st)) {
    RETURN_IF_ERROR(CheckKeys(*b, AllowedKeys("backup"), origin, "[stream.backup]"));
    RETURN_IF_ERROR(Get(*b, "mode", origin, &s->backup.mode));
    RETURN_IF_ERROR(Get(*b, "path", origin, &s->backup.path));
    RETURN_IF_ERROR(Get(*b, "store", origin, &s->backup.store));
    RETURN_IF_ERROR(Get(*b, "error_output_prefix", origin, &s->backup.error_output_prefix));
    for (const DestinationKind* kind : DestinationKinds())
      RETURN_IF_ERROR(LoadSettings(*b, kind->backup_settings, "backup", origin, &s->backup.kinds[std::string(kind->name)]));
  }
  RETURN_IF_ERROR(st);
  for (const DestinationKind* kind : DestinationKinds()) {
    if (const toml::table* x = SubTable(t, kind->name, origin, &st)) {
      RETURN_IF_ERROR(CheckKeys(*x, AllowedKeys(kind->name), origin, "[stream." + std::string(kind->name) + "]"));
      RETURN_IF_ERROR(LoadSettings(*x, kind->settings, kind->name, origin, &s->kinds[std::string(kind->name)]));
    }
    RETURN_IF_ERROR(st);
  }
  if (const toml::table* c = SubTable(t, "conversion", origin, &st)) {
    ConversionConfig& conv = s->conversion;
    RETURN_IF_ERROR(CheckKeys(*c, AllowedKeys("conversion"), origin, "[stream.conversion]"));
    RETURN_IF_ERROR(Get(*c, "enabled", origin, &conv.enabled));
    RETURN_IF_ERROR(Get(*c, "columns", origin, &conv.columns));
    RETURN_IF_ERROR(Get(*c, "input_format", origin, &conv.input_format));
    RETURN_IF_ERROR(Get(*c, "case_insensitive", origin, &conv.case_insensitive));
    RETURN_IF_ERROR(Get(*c, "convert_dots_in_json_keys_to_underscores", origin, &conv.convert_dots_in_json_keys_to_underscores));
    RETURN_IF_ERROR(Get(*c, "timestamp_formats", origin, &conv.timestamp_formats));
    RETURN_IF_ERROR(Get(*c, "compression", origin, &conv.compression));
    RETURN_IF_ERROR(Get(*c, "block_size_bytes", origin, &conv.block_size_bytes));
    RETURN_IF_ERROR(Get(*c, "page_size_bytes", origin, &conv.page_size_bytes));
    RETURN_IF_ERROR(Get(*c, "enable_dictionary_compression", origin, &conv.enable_dictionary_compression));
    RETURN_IF_ERROR(Get(*c, "writer_version", origin, &conv.writer_version));
    if (const toml::node* m = c->get("column_to_json_key_mappings")) {
      if (!m->is_table())
        return base::InvalidArgument(Where(origin, *m) + ": " + ctx + ": conversion.column_to_json_key_mappings must be a table of strings");
      for (const auto& [k, v] : *m->as_table()) {
        if (!v.is_string())
          return base::InvalidArgument(Where(origin, v) + ": " + ctx + ": conversion.column_to_json_key_mappings." +
                                       std::string(k.str()) + " must be a string");
        conv.column_to_json_key_mappings[std::string(k.str())] = v.as_string()->get();
      }
    }
    base::Status valid = ValidateConversion(&conv);
    if (!valid.ok()) return valid.WithContext(Where(origin, *c) + ": " + ctx);
  }
  RETURN_IF_ERROR(st);
  if (const toml::table* f = SubTable(t, "fault", origin, &st)) {
    RETURN_IF_ERROR(CheckKeys(*f, AllowedKeys("fault"), origin, "[stream.fault]"));
    RETURN_IF_ERROR(Get(*f, "fail_attempts", origin, &s->fault.fail_attempts));
    RETURN_IF_ERROR(Get(*f, "fail_for_s", origin, &s->fault.fail_for_s));
    RETURN_IF_ERROR(Get(*f, "permanent", origin, &s->fault.permanent));
  }
  RETURN_IF_ERROR(st);
  std::ostringstream text;
  text << toml::toml_formatter(t);
  s->toml = text.str();
  return base::Status::Ok();
}

base::Status ValidateStreamImpl(const StreamConfig& s, bool fault_injection) {
  const std::string ctx = "stream '" + s.name + "': ";
  if (!IsValidStreamName(s.name))
    return base::InvalidArgument("stream name '" + s.name.substr(0, 80) + "' must be 1..64 characters of [a-zA-Z0-9_.-], not starting with '.'");
  const DestinationKind* kind = s.kind();
  if (kind == nullptr)
    return base::InvalidArgument(ctx + "destination must be one of: " + DestinationKindNames() + "; got '" +
                                 s.destination.substr(0, 64) + "'");
  const std::string where = "stream '" + s.name + "'";
  RETURN_IF_ERROR(CheckSettings(kind->name, kind->settings, s.settings(), true).WithContext(where));
  if (kind->validate != nullptr) RETURN_IF_ERROR(kind->validate(s.settings()).WithContext(where));
  if (s.backup.store != "directory") {
    const DestinationKind* store = s.backup_kind();
    if (store == nullptr || store->make_backup == nullptr)
      return base::InvalidArgument(ctx + "backup.store must be one of: " + BackupStoreNames() + "; got '" +
                                   s.backup.store.substr(0, 64) + "'");
    const SettingValues& values = s.settings(store->name);
    const SettingValues& extra = s.backup.kinds.at(std::string(store->name));
    RETURN_IF_ERROR(CheckSettings(store->name, store->settings, values, false).WithContext(where));
    RETURN_IF_ERROR(CheckSettings("backup", store->backup_settings, extra, false).WithContext(where));
    if (store->validate_backup != nullptr) RETURN_IF_ERROR(store->validate_backup(values, extra).WithContext(where));
  }
  if (s.buffering.size_mib < 1 || s.buffering.size_mib > 128)
    return base::InvalidArgument(ctx + "buffering.size_mib must be 1..128, got " + std::to_string(s.buffering.size_mib));
  if (s.buffering.interval_s > 900)
    return base::InvalidArgument(ctx + "buffering.interval_s must be 0..900, got " + std::to_string(s.buffering.interval_s));
  if (s.buffering.size_mib > kind->max_buffer_size_mib)
    return base::InvalidArgument(ctx + "buffering.size_mib must be 1.." + std::to_string(kind->max_buffer_size_mib) +
                                 " for " + std::string(kind->name) + ", got " + std::to_string(s.buffering.size_mib));
  if (s.retry_duration_s > kind->max_retry_duration_s)
    return base::InvalidArgument(ctx + "retry_duration_s must be 0.." + std::to_string(kind->max_retry_duration_s) +
                                 " for " + std::string(kind->name) + ", got " + std::to_string(s.retry_duration_s));
  RETURN_IF_ERROR(ValidatePrefix(s.backup.error_output_prefix, true).WithContext(ctx + "backup.error_output_prefix"));
  if (s.backup.mode != "failed-only" && s.backup.mode != "all")
    return base::InvalidArgument(ctx + "backup.mode must be failed-only or all, got '" + s.backup.mode + "'");
  if (s.active_partition_limit < 1 || s.active_partition_limit > 5000)
    return base::InvalidArgument(ctx + "active_partition_limit must be 1..5000, got " + std::to_string(s.active_partition_limit));
  {
    PrefixKeys keys = ReferencedKeys(s.prefix());
    for (const std::string& k : keys.query)
      if (s.processing.jq_query.empty())
        return base::InvalidArgument(ctx + "the prefix uses !{partitionKeyFromQuery:" + k +
                                     "} but the stream has no MetadataExtraction processor");
    for (const std::string& k : keys.lambda)
      if (s.processing.lambda_url.empty())
        return base::InvalidArgument(ctx + "the prefix uses !{partitionKeyFromLambda:" + k +
                                     "} but the stream has no Lambda processor");
    if (keys.random && s.processing.staged())
      return base::InvalidArgument(ctx + "!{firehose:random-string} is not supported in the prefix of a stream with "
                                   "RecordDeAggregation, Lambda or MetadataExtraction processors");
  }
  if (s.conversion.on()) {
    if (!kind->object_store)
      return base::InvalidArgument(ctx + "record format conversion ([stream.conversion]) delivers objects: the destination must be "
                                   "one that stores them (directory, s3), not " + std::string(kind->name));
    if (s.compression != Compression::kNone)
      return base::InvalidArgument(ctx + "with record format conversion, compression must be none (Parquet compresses its pages: "
                                   "conversion.compression)");
    if (s.buffering.size_mib < 64)
      return base::InvalidArgument(ctx + "with record format conversion, buffering.size_mib must be 64..128 (Firehose's rule), got " +
                                   std::to_string(s.buffering.size_mib));
  }
  if (s.tags.size() > 50) return base::InvalidArgument(ctx + "a stream has at most 50 tags");
  for (const auto& [k, v] : s.tags) {
    if (k.empty() || k.size() > 128 || k.rfind("aws:", 0) == 0)
      return base::InvalidArgument(ctx + "tag key '" + k.substr(0, 64) + "' must be 1..128 characters, not starting with aws:");
    if (v.size() > 256) return base::InvalidArgument(ctx + "the value of tag '" + k.substr(0, 64) + "' is longer than 256 characters");
  }
  if (s.fault.enabled() && !fault_injection)
    return base::InvalidArgument(ctx + "[stream.fault] needs sluiced --enable-fault-injection (tests only)");
  return base::Status::Ok();
}

}  // namespace

namespace config_toml {
base::Status LoadStream(const toml::table& t, const std::string& origin, StreamConfig* s) {
  return LoadStreamImpl(t, origin, s);
}
base::Status ValidateStream(const StreamConfig& s, bool fault_injection) { return ValidateStreamImpl(s, fault_injection); }
}  // namespace config_toml

StreamConfig::StreamConfig() {
  for (const DestinationKind* kind : DestinationKinds()) {
    kinds.emplace(kind->name, SettingValues::Defaults(kind->settings));
    backup.kinds.emplace(kind->name, SettingValues::Defaults(kind->backup_settings));
  }
}

const SettingValues& StreamConfig::settings(std::string_view kind) const {
  static const SettingValues kNone;
  auto it = kinds.find(kind);
  return it == kinds.end() ? kNone : it->second;
}

const std::string& StreamConfig::prefix() const {
  static const std::string kNone;
  const auto* v = settings().Find("prefix");
  return v ? std::get<std::string>(*v) : kNone;
}

const std::string& StreamConfig::file_extension() const {
  static const std::string kNone;
  const auto* v = settings().Find("file_extension");
  return v ? std::get<std::string>(*v) : kNone;
}

bool StreamConfig::partitioned() const { return !ReferencedKeys(prefix()).empty(); }

// Stream settings as the catalog stores them (ApplyStreamSettings, ApplyTagChanges).
static base::Result<toml::table> ParseStored(std::string_view text, std::string_view name) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    return base::Corruption("stored settings of stream '" + std::string(name) + "' do not parse: " +
                            std::string(e.description()));
  }
}

base::Result<std::string> ApplyTagChanges(std::string_view text, std::string_view name,
                                          const std::map<std::string, std::string>& set,
                                          const std::vector<std::string>& remove) {
  ASSIGN_OR_RETURN(toml::table t, ParseStored(text, name));
  toml::node* n = t.get("tags");
  if (n == nullptr || !n->is_table()) {
    t.insert_or_assign("tags", toml::table{});
    n = t.get("tags");
  }
  toml::table* tags = n->as_table();
  for (const std::string& k : remove) tags->erase(k);
  for (const auto& [k, v] : set) tags->insert_or_assign(k, v);  // "" is a value here, not a removal
  if (tags->empty()) t.erase("tags");
  std::ostringstream out;
  out << toml::toml_formatter(t);
  return out.str();
}

bool SameExceptTags(const StreamConfig& a, const StreamConfig& b) {
  auto without = [](const std::string& text) {
    toml::table t = toml::parse(text);
    t.erase("tags");
    std::ostringstream out;
    out << toml::toml_formatter(t);
    return out.str();
  };
  try {
    return without(a.toml) == without(b.toml);
  } catch (const toml::parse_error&) {
    return false;
  }
}

base::Status CheckReloadable(const StreamConfig& current, const StreamConfig& updated,
                             std::span<const DestinationKind* const> kinds) {
  std::string fixed;
  for (const DestinationKind* kind : kinds) {
    if (kind->name != updated.destination && kind->name != updated.backup.store) continue;
    for (const Setting& st : kind->settings) {
      const SettingValues::Value* a = current.settings(kind->name).Find(st.key);
      const SettingValues::Value* b = updated.settings(kind->name).Find(st.key);
      if (!st.reloadable && (a && b ? !(*a == *b) : a != b))
        fixed += (fixed.empty() ? "" : ", ") + std::string(kind->name) + "." + std::string(st.key);
    }
  }
  if (fixed.empty()) return base::Status::Ok();
  return base::InvalidArgument("stream '" + updated.name + "': " + fixed +
                               " cannot change while the stream exists (delete and create it again)");
}

bool IsValidStreamName(std::string_view name) {
  // A name is also a directory name (delivered/<name>, backup/<name>): ".", ".." and hidden
  // names are refused so no stream can reach outside or hide inside the data directory.
  if (name.empty() || name.size() > proto::kMaxStreamNameBytes || name[0] == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void ApplyStreamDefaults(const std::string& data_dir, StreamConfig* s) {
  for (const DestinationKind* kind : DestinationKinds())
    if (kind->apply_defaults != nullptr) kind->apply_defaults(data_dir, s->name, &s->kinds[std::string(kind->name)]);
  if (const DestinationKind* kind = s->kind(); kind != nullptr && !s->retry_duration_set)
    s->retry_duration_s = kind->default_retry_duration_s;
  if (const DestinationKind* kind = s->kind(); kind != nullptr && kind->object_store && s->conversion.on() &&
                                               !s->buffering_size_set)
    s->buffering.size_mib = 128;  // Firehose's default with conversion
  if (s->backup.path.empty()) s->backup.path = data_dir + "/backup/" + s->name;
}

base::Result<StreamConfig> ParseStreamConfig(std::string_view text, const std::string& origin,
                                             const ServerConfig& server) {
  toml::table t;
  try {
    t = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return base::InvalidArgument((origin.empty() ? "stream settings" : origin + ":" + std::to_string(e.source().begin.line)) +
                                 ": " + std::string(e.description()));
  }
  StreamConfig s;
  RETURN_IF_ERROR(LoadStreamImpl(t, origin, &s));
  ApplyStreamDefaults(server.data_dir, &s);
  RETURN_IF_ERROR(ValidateStreamImpl(s, server.enable_fault_injection));
  return s;
}

namespace {

// "Type on|off" or "Type.Parameter value" applied to the [[processors]] list of `t`.
base::Status SetProcessor(toml::table* t, const std::string& rest, const std::string& value) {
  size_t dot = rest.find('.');
  std::string type = rest.substr(0, dot);
  std::string param = dot == std::string::npos ? "" : rest.substr(dot + 1);
  if (type.empty() || (dot != std::string::npos && param.empty()) || param == "type")
    return base::InvalidArgument("processor keys are processors.<Type> on|off and processors.<Type>.<Parameter> <value>");
  toml::node* n = t->get("processors");
  if (n == nullptr || !n->is_array()) {
    t->insert_or_assign("processors", toml::array{});
    n = t->get("processors");
  }
  toml::array* arr = n->as_array();
  toml::table* entry = nullptr;
  size_t index = 0;
  for (size_t i = 0; i < arr->size(); i++) {
    toml::table* e = arr->get(i)->as_table();
    if (e && e->get("type") && e->get("type")->value<std::string>() == type) {
      entry = e;
      index = i;
    }
  }
  if (param.empty()) {
    if (value != "on" && value != "off")
      return base::InvalidArgument("value '" + value.substr(0, 64) + "' for processors." + type + " must be on or off");
    if (value == "off" && entry) arr->erase(arr->begin() + static_cast<std::ptrdiff_t>(index));
    if (value == "on" && !entry) arr->push_back(toml::table{{"type", type}});
  } else {
    if (!entry) {
      arr->push_back(toml::table{{"type", type}});
      entry = arr->back().as_table();
    }
    if (value.empty()) entry->erase(param);  // "" removes the parameter
    else entry->insert_or_assign(param, value);
  }
  if (arr->empty()) t->erase("processors");
  return base::Status::Ok();
}

}  // namespace

base::Result<std::string> ApplyStreamSettings(std::string_view text, std::string_view name,
                                              const std::vector<std::pair<std::string, std::string>>& settings) {
  ASSIGN_OR_RETURN(toml::table t, ParseStored(text, name));
  t.insert_or_assign("name", std::string(name));
  for (const auto& [key, value] : settings) {
    if (key.rfind("processors.", 0) == 0) {
      RETURN_IF_ERROR(SetProcessor(&t, key.substr(std::string_view("processors.").size()), value));
      continue;
    }
    const StreamKey* spec = nullptr;
    std::string attribute;  // for kTable keys: "<table key>.<name>"
    for (const StreamKey& k : StreamKeys()) {
      if (k.key == key && k.type != KeyType::kTable) spec = &k;
      if (k.type == KeyType::kTable && key.size() > k.key.size() + 1 && key.compare(0, k.key.size(), k.key) == 0 &&
          key[k.key.size()] == '.') {
        spec = &k;
        attribute = key.substr(k.key.size() + 1);
      }
    }
    if (spec == nullptr || key == "name") {
      std::string list;
      for (const StreamKey& k : StreamKeys())
        if (k.key != "name")
          list += (list.empty() ? "" : ", ") + std::string(k.key) +
                  (k.type == KeyType::kTable ? ".<name>" : k.type == KeyType::kProcessors ? ".<Type>[.<Parameter>]" : "");
      return base::InvalidArgument("unknown key '" + key.substr(0, 64) + "' (one of: " + list + ")");
    }
    toml::table* target = &t;
    std::string_view leaf = spec->key;
    if (size_t dot = leaf.find('.'); dot != std::string_view::npos) {
      std::string_view section = leaf.substr(0, dot);
      leaf = leaf.substr(dot + 1);
      toml::node* n = t.get(section);
      if (n == nullptr || !n->is_table()) {
        t.insert_or_assign(section, toml::table{});
        n = t.get(section);
      }
      target = n->as_table();
    }
    switch (spec->type) {
      case KeyType::kProcessors:
        return base::InvalidArgument("key 'processors' takes a type: processors.<Type> on|off, processors.<Type>.<Parameter> <value>");
      case KeyType::kTable: {
        toml::node* sub = target->get(leaf);
        if (sub == nullptr || !sub->is_table()) {
          target->insert_or_assign(leaf, toml::table{});
          sub = target->get(leaf);
        }
        if (value.empty()) sub->as_table()->erase(attribute);  // "" removes the entry
        else sub->as_table()->insert_or_assign(attribute, value);
        break;
      }
      case KeyType::kString:
        target->insert_or_assign(leaf, value);
        break;
      case KeyType::kBool:
        if (value != "true" && value != "false")
          return base::InvalidArgument("value '" + value.substr(0, 64) + "' for key '" + key + "' must be true or false");
        target->insert_or_assign(leaf, value == "true");
        break;
      case KeyType::kInteger: {
        char* end = nullptr;
        errno = 0;
        unsigned long long v = value.empty() || value[0] == '-' ? 0 : std::strtoull(value.c_str(), &end, 10);
        if (value.empty() || value[0] == '-' || end == nullptr || *end != '\0' || errno == ERANGE ||
            v > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()))
          return base::InvalidArgument("value '" + value.substr(0, 64) + "' for key '" + key +
                                       "' must be a non-negative integer");
        target->insert_or_assign(leaf, static_cast<int64_t>(v));
        break;
      }
    }
  }
  std::ostringstream out;
  out << toml::toml_formatter(t);
  return out.str();
}

}  // namespace sluice::server
