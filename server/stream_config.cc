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
  std::string_view key;  // "section.key" for keys of a sub-table
  KeyType type;
};
// Every key of a [[stream]] table: the one list CheckKeys and STREAM CREATE/UPDATE use.
constexpr StreamKey kStreamKeys[] = {
    {"name", KeyType::kString},
    {"destination", KeyType::kString},
    {"compression", KeyType::kString},
    {"append_delimiter", KeyType::kBool},
    {"retry_duration_s", KeyType::kInteger},
    {"buffering.size_mib", KeyType::kInteger},
    {"buffering.interval_s", KeyType::kInteger},
    {"directory.path", KeyType::kString},
    {"directory.prefix", KeyType::kString},
    {"directory.file_extension", KeyType::kString},
    {"backup.mode", KeyType::kString},
    {"backup.store", KeyType::kString},
    {"backup.path", KeyType::kString},
    {"backup.bucket", KeyType::kString},
    {"backup.error_output_prefix", KeyType::kString},
    {"s3.endpoint", KeyType::kString},
    {"s3.region", KeyType::kString},
    {"s3.bucket", KeyType::kString},
    {"s3.prefix", KeyType::kString},
    {"s3.file_extension", KeyType::kString},
    {"s3.path_style", KeyType::kBool},
    {"s3.access_key_id", KeyType::kString},
    {"s3.secret_access_key", KeyType::kString},
    {"s3.session_token", KeyType::kString},
    {"s3.multipart_threshold_mib", KeyType::kInteger},
    {"s3.part_size_mib", KeyType::kInteger},
    {"s3.request_timeout_s", KeyType::kInteger},
    {"s3.ca_file", KeyType::kString},
    {"http.url", KeyType::kString},
    {"http.name", KeyType::kString},
    {"http.access_key", KeyType::kString},
    {"http.content_encoding", KeyType::kString},
    {"http.common_attributes", KeyType::kTable},
    {"http.request_timeout_s", KeyType::kInteger},
    {"http.ca_file", KeyType::kString},
    {"active_partition_limit", KeyType::kInteger},
    {"processors", KeyType::kProcessors},
    {"fault.fail_attempts", KeyType::kInteger},
    {"fault.fail_for_s", KeyType::kInteger},
    {"fault.permanent", KeyType::kBool},
};

// The keys allowed in the [[stream]] table itself (section = "") or in one of its sections.
std::set<std::string_view> AllowedKeys(std::string_view section) {
  std::set<std::string_view> out;
  for (const StreamKey& k : kStreamKeys) {
    size_t dot = k.key.find('.');
    if (section.empty()) out.insert(k.key.substr(0, dot));
    else if (dot != std::string_view::npos && k.key.substr(0, dot) == section) out.insert(k.key.substr(dot + 1));
  }
  return out;
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
    RETURN_IF_ERROR(Get(*b, "interval_s", origin, &s->buffering.interval_s));
  }
  RETURN_IF_ERROR(st);
  if (const toml::table* d = SubTable(t, "directory", origin, &st)) {
    RETURN_IF_ERROR(CheckKeys(*d, AllowedKeys("directory"), origin, "[stream.directory]"));
    RETURN_IF_ERROR(Get(*d, "path", origin, &s->directory.path));
    RETURN_IF_ERROR(Get(*d, "prefix", origin, &s->directory.prefix));
    RETURN_IF_ERROR(Get(*d, "file_extension", origin, &s->directory.file_extension));
  }
  RETURN_IF_ERROR(st);
  if (const toml::table* b = SubTable(t, "backup", origin, &st)) {
    RETURN_IF_ERROR(CheckKeys(*b, AllowedKeys("backup"), origin, "[stream.backup]"));
    RETURN_IF_ERROR(Get(*b, "mode", origin, &s->backup.mode));
    RETURN_IF_ERROR(Get(*b, "path", origin, &s->backup.path));
    RETURN_IF_ERROR(Get(*b, "store", origin, &s->backup.store));
    RETURN_IF_ERROR(Get(*b, "bucket", origin, &s->backup.bucket));
    RETURN_IF_ERROR(Get(*b, "error_output_prefix", origin, &s->backup.error_output_prefix));
  }
  RETURN_IF_ERROR(st);
  if (const toml::table* x = SubTable(t, "s3", origin, &st)) {
    RETURN_IF_ERROR(CheckKeys(*x, AllowedKeys("s3"), origin, "[stream.s3]"));
    RETURN_IF_ERROR(Get(*x, "endpoint", origin, &s->s3.endpoint));
    RETURN_IF_ERROR(Get(*x, "region", origin, &s->s3.region));
    RETURN_IF_ERROR(Get(*x, "bucket", origin, &s->s3.bucket));
    RETURN_IF_ERROR(Get(*x, "prefix", origin, &s->s3.prefix));
    RETURN_IF_ERROR(Get(*x, "file_extension", origin, &s->s3.file_extension));
    RETURN_IF_ERROR(Get(*x, "path_style", origin, &s->s3.path_style));
    RETURN_IF_ERROR(Get(*x, "access_key_id", origin, &s->s3.access_key_id));
    RETURN_IF_ERROR(Get(*x, "secret_access_key", origin, &s->s3.secret_access_key));
    RETURN_IF_ERROR(Get(*x, "session_token", origin, &s->s3.session_token));
    RETURN_IF_ERROR(Get(*x, "multipart_threshold_mib", origin, &s->s3.multipart_threshold_mib));
    RETURN_IF_ERROR(Get(*x, "part_size_mib", origin, &s->s3.part_size_mib));
    RETURN_IF_ERROR(Get(*x, "request_timeout_s", origin, &s->s3.request_timeout_s));
    RETURN_IF_ERROR(Get(*x, "ca_file", origin, &s->s3.ca_file));
  }
  RETURN_IF_ERROR(st);
  if (const toml::table* h = SubTable(t, "http", origin, &st)) {
    RETURN_IF_ERROR(CheckKeys(*h, AllowedKeys("http"), origin, "[stream.http]"));
    RETURN_IF_ERROR(Get(*h, "url", origin, &s->http.url));
    RETURN_IF_ERROR(Get(*h, "name", origin, &s->http.name));
    RETURN_IF_ERROR(Get(*h, "access_key", origin, &s->http.access_key));
    RETURN_IF_ERROR(Get(*h, "content_encoding", origin, &s->http.content_encoding));
    RETURN_IF_ERROR(Get(*h, "request_timeout_s", origin, &s->http.request_timeout_s));
    RETURN_IF_ERROR(Get(*h, "ca_file", origin, &s->http.ca_file));
    if (const toml::node* a = h->get("common_attributes")) {
      if (!a->is_table())
        return base::InvalidArgument(Where(origin, *a) + ": http.common_attributes must be a table of strings");
      for (const auto& [k, v] : *a->as_table()) {
        if (!v.is_string())
          return base::InvalidArgument(Where(origin, v) + ": http.common_attributes." + std::string(k.str()) + " must be a string");
        s->http.common_attributes[std::string(k.str())] = v.as_string()->get();
      }
    }
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

bool IsValidExtension(std::string_view ext) {
  if (ext.empty()) return true;
  if (ext.size() > 128 || ext[0] != '.') return false;
  for (char c : ext.substr(1)) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || std::string_view("!-_.*'()").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

base::Status ValidateStreamImpl(const StreamConfig& s, bool fault_injection) {
  const std::string ctx = "stream '" + s.name + "': ";
  if (!IsValidStreamName(s.name))
    return base::InvalidArgument("stream name '" + s.name.substr(0, 80) + "' must be 1..64 characters of [a-zA-Z0-9_.-], not starting with '.'");
  if (s.destination != "directory" && s.destination != "s3" && s.destination != "http")
    return base::InvalidArgument(ctx + "destination must be one of: directory, s3, http; got '" + s.destination + "'");
  auto valid_bucket = [](const std::string& b) {
    bool ok = b.size() >= 3 && b.size() <= 63;
    for (char c : b) ok &= (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    return ok;
  };
  if (s.backup.store != "directory" && s.backup.store != "s3")
    return base::InvalidArgument(ctx + "backup.store must be directory or s3, got '" + s.backup.store + "'");
  if (s.backup.store == "s3" && !valid_bucket(s.backup.bucket.empty() ? s.s3.bucket : s.backup.bucket))
    return base::InvalidArgument(ctx + "backup.store = s3 needs backup.bucket (or s3.bucket): 3..63 characters of [a-z0-9.-]");
  if (s.destination == "s3" || s.backup.store == "s3") {
    const auto& x = s.s3;
    if (s.destination == "s3" && !valid_bucket(x.bucket))
      return base::InvalidArgument(ctx + "s3.bucket must be 3..63 characters of [a-z0-9.-], got '" + x.bucket.substr(0, 80) + "'");
    if (!x.endpoint.empty() && x.endpoint.rfind("http://", 0) != 0 && x.endpoint.rfind("https://", 0) != 0)
      return base::InvalidArgument(ctx + "s3.endpoint must start with http:// or https://, got '" + x.endpoint.substr(0, 100) + "'");
    for (char c : x.endpoint + x.region)
      if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
        return base::InvalidArgument(ctx + "s3.endpoint and s3.region must not contain spaces or control characters");
    if (x.region.empty() || x.region.size() > 64 || x.region.find(':') != std::string::npos)
      return base::InvalidArgument(ctx + "s3.region must be 1..64 characters without ':'");
    if (x.multipart_threshold_mib < 5 || x.multipart_threshold_mib > 5120 || x.part_size_mib < 5 || x.part_size_mib > 5120)
      return base::InvalidArgument(ctx + "s3.multipart_threshold_mib and s3.part_size_mib must be 5..5120");
    if (x.request_timeout_s < 1 || x.request_timeout_s > 3600)
      return base::InvalidArgument(ctx + "s3.request_timeout_s must be 1..3600, got " + std::to_string(x.request_timeout_s));
    if (!IsValidExtension(x.file_extension))
      return base::InvalidArgument(ctx + "s3.file_extension must match ^$|\\.[0-9a-z!\\-_.*'()]+ (at most 128), got '" +
                                   x.file_extension + "'");
    RETURN_IF_ERROR(ValidatePrefix(x.prefix, false).WithContext(ctx + "s3.prefix"));
  }
  if (s.destination == "http") {
    const auto& h = s.http;
    if (h.url.rfind("http://", 0) != 0 && h.url.rfind("https://", 0) != 0)
      return base::InvalidArgument(ctx + "http.url must start with http:// or https://, got '" + h.url.substr(0, 100) + "'");
    if (h.url.size() > 1000) return base::InvalidArgument(ctx + "http.url must be at most 1000 characters");
    for (char c : h.url)
      if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
        return base::InvalidArgument(ctx + "http.url must not contain spaces or control characters");
    if (h.access_key.size() > 4096) return base::InvalidArgument(ctx + "http.access_key must be at most 4096 bytes");
    for (char c : h.access_key)
      if (c == '\r' || c == '\n' || c == '\0') return base::InvalidArgument(ctx + "http.access_key must not contain line breaks");
    if (h.content_encoding != "none" && h.content_encoding != "gzip")
      return base::InvalidArgument(ctx + "http.content_encoding must be none or gzip, got '" + h.content_encoding + "'");
    if (h.common_attributes.size() > 50)
      return base::InvalidArgument(ctx + "http.common_attributes may have at most 50 entries");
    for (const auto& [k, v] : h.common_attributes)
      if (k.empty() || k.size() > 256 || v.size() > 1024)
        return base::InvalidArgument(ctx + "http.common_attributes: names are 1..256 characters, values 0..1024");
    if (h.request_timeout_s < 1 || h.request_timeout_s > 600)
      return base::InvalidArgument(ctx + "http.request_timeout_s must be 1..600, got " + std::to_string(h.request_timeout_s));
    if (s.buffering.size_mib > 64)
      return base::InvalidArgument(ctx + "buffering.size_mib must be 1..64 for http, got " + std::to_string(s.buffering.size_mib));
    if (s.retry_duration_s > 7200)
      return base::InvalidArgument(ctx + "retry_duration_s must be 0..7200 for http, got " + std::to_string(s.retry_duration_s));
  }
  if (s.buffering.size_mib < 1 || s.buffering.size_mib > 128)
    return base::InvalidArgument(ctx + "buffering.size_mib must be 1..128, got " + std::to_string(s.buffering.size_mib));
  if (s.buffering.interval_s > 900)
    return base::InvalidArgument(ctx + "buffering.interval_s must be 0..900, got " + std::to_string(s.buffering.interval_s));
  if (s.retry_duration_s > 86400)
    return base::InvalidArgument(ctx + "retry_duration_s must be 0..86400, got " + std::to_string(s.retry_duration_s));
  if (!IsValidExtension(s.directory.file_extension))
    return base::InvalidArgument(ctx + "directory.file_extension must match ^$|\\.[0-9a-z!\\-_.*'()]+ (at most 128), got '" +
                                 s.directory.file_extension + "'");
  RETURN_IF_ERROR(ValidatePrefix(s.directory.prefix, false).WithContext(ctx + "directory.prefix"));
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

bool StreamConfig::partitioned() const { return !ReferencedKeys(prefix()).empty(); }

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
  if ((s->destination == "s3" || s->backup.store == "s3") && s->s3.endpoint.empty()) s->s3.endpoint = "https://s3." + s->s3.region + ".amazonaws.com";
  if (!s->retry_duration_set && s->destination == "http") s->retry_duration_s = 300;
  if (s->directory.path.empty()) s->directory.path = data_dir + "/delivered/" + s->name;
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
  toml::table t;
  try {
    t = toml::parse(text);
  } catch (const toml::parse_error& e) {
    return base::Corruption("stored settings of stream '" + std::string(name) + "' do not parse: " +
                            std::string(e.description()));
  }
  t.insert_or_assign("name", std::string(name));
  for (const auto& [key, value] : settings) {
    if (key.rfind("processors.", 0) == 0) {
      RETURN_IF_ERROR(SetProcessor(&t, key.substr(std::string_view("processors.").size()), value));
      continue;
    }
    const StreamKey* spec = nullptr;
    std::string attribute;  // for kTable keys: "<table key>.<name>"
    for (const StreamKey& k : kStreamKeys) {
      if (k.key == key && k.type != KeyType::kTable) spec = &k;
      if (k.type == KeyType::kTable && key.size() > k.key.size() + 1 && key.compare(0, k.key.size(), k.key) == 0 &&
          key[k.key.size()] == '.') {
        spec = &k;
        attribute = key.substr(k.key.size() + 1);
      }
    }
    if (spec == nullptr || key == "name") {
      std::string list;
      for (const StreamKey& k : kStreamKeys)
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
