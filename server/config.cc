// ServerConfig: the server's own settings from TOML and flags, validation and defaults.
#include "server/config.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <span>
#include <sstream>

#include "server/cluster/records.h"
#include "server/config_toml.h"

namespace sluice::server {

using config_toml::CheckKeys;
using config_toml::Get;
using config_toml::LoadStream;
using config_toml::ValidateStream;
using config_toml::Where;

base::Result<Durability> ParseDurability(const std::string& text) {
  Durability d;
  if (text == "fsync") return d;
  if (text == "none") {
    d.mode = DurabilityMode::kNone;
    return d;
  }
  constexpr std::string_view kPrefix = "interval:";
  if (text.rfind(kPrefix, 0) == 0) {
    std::string num = text.substr(kPrefix.size());
    char* end = nullptr;
    unsigned long ms = num.empty() ? 0 : std::strtoul(num.c_str(), &end, 10);
    if (!num.empty() && end && *end == '\0' && ms >= 1 && ms <= 60000) {
      d.mode = DurabilityMode::kInterval;
      d.interval_ms = static_cast<uint32_t>(ms);
      return d;
    }
  }
  return base::InvalidArgument("durability must be fsync, interval:<1..60000 ms> or none, got '" +
                               text + "'");
}

std::string ToString(const Durability& d) {
  switch (d.mode) {
    case DurabilityMode::kFsync: return "fsync";
    case DurabilityMode::kNone: return "none";
    case DurabilityMode::kInterval: return "interval:" + std::to_string(d.interval_ms);
  }
  return "?";
}

base::Status LoadConfigText(std::string_view text, const std::string& origin, ServerConfig* cfg) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return base::InvalidArgument(origin + ":" + std::to_string(e.source().begin.line) + ":" +
                                 std::to_string(e.source().begin.column) + ": " +
                                 std::string(e.description()));
  }
  RETURN_IF_ERROR(CheckKeys(root,
                            {"data_dir", "bind", "port", "shards", "durability", "auth_token", "delivery_threads", "delivery_memory_mib",
                             "admin_port", "admin_bind", "admin_password", "admin_allow_remote_without_password",
                             "max_record_bytes", "max_batch_records", "max_batch_bytes",
                             "connection_output_budget", "shard_commit_budget", "min_free_mib", "wal_compression", "records_compression", "stream",
                             "max_connections", "max_client_memory_mib", "read_timeout_s", "write_timeout_s",
                             "shutdown_timeout_s", "log_level", "log_format", "log_rate_limit", "replay_roots", "http_enabled", "http_port",
                             "http_bind", "access_key", "tls_ports", "tls_cert_file", "tls_key_file", "cluster_endpoints",
                             "node_id", "advertise", "cluster_prefix", "cluster_lease_ttl_s", "cluster_timeout_ms", "cluster_auto_adopt_s"},
                            origin, "the top level"));
  for (const auto& [k, v] : root)
    if (k.str() != "stream") cfg->origins[std::string(k.str())] = Where(origin, v);
  if (const toml::node* keys = root.get("access_key")) {
    const toml::array* arr = keys->as_array();
    if (arr == nullptr || arr->size() > 1000)
      return base::InvalidArgument(Where(origin, *keys) + ": access_key must be a list of at most 1000 tables ([[access_key]])");
    cfg->access_keys.clear();
    for (const toml::node& n : *arr) {
      const toml::table* t = n.as_table();
      if (t == nullptr) return base::InvalidArgument(Where(origin, n) + ": each [[access_key]] must be a table");
      RETURN_IF_ERROR(CheckKeys(*t, {"id", "secret", "streams", "operations"}, origin, "[[access_key]]"));
      AccessKey key;
      RETURN_IF_ERROR(Get(*t, "id", origin, &key.id));
      RETURN_IF_ERROR(Get(*t, "secret", origin, &key.secret));
      for (const char* list : {"streams", "operations"}) {
        const toml::node* l = t->get(list);
        if (l == nullptr) continue;
        const toml::array* items = l->as_array();
        if (items == nullptr || items->empty() || items->size() > 100)
          return base::InvalidArgument(Where(origin, *l) + ": access_key." + list + " must be a list of 1..100 strings");
        std::vector<std::string>& out = std::string_view(list) == "streams" ? key.streams : key.operations;
        out.clear();
        for (const toml::node& item : *items) {
          if (!item.is_string() || item.as_string()->get().empty() || item.as_string()->get().size() > 128)
            return base::InvalidArgument(Where(origin, item) + ": access_key." + list + " entries are strings of 1..128 characters");
          out.push_back(item.as_string()->get());
        }
      }
      cfg->origins["access_key." + key.id] = Where(origin, n);
      cfg->access_keys.push_back(std::move(key));
    }
  }
  RETURN_IF_ERROR(Get(root, "max_connections", origin, &cfg->max_connections));
  if (root.contains("max_client_memory_mib")) {
    uint32_t mib = 0;
    RETURN_IF_ERROR(Get(root, "max_client_memory_mib", origin, &mib));
    cfg->max_client_memory_bytes = uint64_t(mib) << 20;
  }
  RETURN_IF_ERROR(Get(root, "read_timeout_s", origin, &cfg->read_timeout_s));
  RETURN_IF_ERROR(Get(root, "write_timeout_s", origin, &cfg->write_timeout_s));
  RETURN_IF_ERROR(Get(root, "shutdown_timeout_s", origin, &cfg->shutdown_timeout_s));
  RETURN_IF_ERROR(Get(root, "log_level", origin, &cfg->log_level));
  RETURN_IF_ERROR(Get(root, "log_format", origin, &cfg->log_format));
  RETURN_IF_ERROR(Get(root, "log_rate_limit", origin, &cfg->log_rate_limit));
  if (const toml::node* roots = root.get("replay_roots")) {
    const toml::array* arr = roots->as_array();
    if (arr == nullptr || arr->size() > 64)
      return base::InvalidArgument(Where(origin, *roots) + ": replay_roots must be a list of at most 64 directory paths");
    cfg->replay_roots.clear();
    for (const toml::node& n : *arr) {
      if (!n.is_string() || n.as_string()->get().empty())
        return base::InvalidArgument(Where(origin, n) + ": replay_roots entries must be non-empty strings");
      cfg->replay_roots.push_back(n.as_string()->get());
    }
  }
  if (const toml::node* eps = root.get("cluster_endpoints")) {
    const toml::array* arr = eps->as_array();
    if (arr == nullptr || arr->empty() || arr->size() > 16)
      return base::InvalidArgument(Where(origin, *eps) + ": cluster_endpoints must be a list of 1..16 etcd URLs");
    cfg->cluster.endpoints.clear();
    for (const toml::node& n : *arr) {
      if (!n.is_string() || n.as_string()->get().empty() || n.as_string()->get().size() > 512)
        return base::InvalidArgument(Where(origin, n) + ": cluster_endpoints entries must be URLs of 1..512 characters");
      cfg->cluster.endpoints.push_back(n.as_string()->get());
    }
  }
  RETURN_IF_ERROR(Get(root, "node_id", origin, &cfg->cluster.node_id));
  RETURN_IF_ERROR(Get(root, "advertise", origin, &cfg->cluster.advertise));
  RETURN_IF_ERROR(Get(root, "cluster_prefix", origin, &cfg->cluster.prefix));
  RETURN_IF_ERROR(Get(root, "cluster_lease_ttl_s", origin, &cfg->cluster.lease_ttl_s));
  RETURN_IF_ERROR(Get(root, "cluster_timeout_ms", origin, &cfg->cluster.timeout_ms));
  RETURN_IF_ERROR(Get(root, "cluster_auto_adopt_s", origin, &cfg->cluster.auto_adopt_s));
  RETURN_IF_ERROR(Get(root, "data_dir", origin, &cfg->data_dir));
  RETURN_IF_ERROR(Get(root, "bind", origin, &cfg->bind));
  RETURN_IF_ERROR(Get(root, "port", origin, &cfg->port));
  RETURN_IF_ERROR(Get(root, "shards", origin, &cfg->shards));
  RETURN_IF_ERROR(Get(root, "delivery_threads", origin, &cfg->delivery_threads));
  if (root.contains("delivery_memory_mib")) {
    uint32_t mib = 0;
    RETURN_IF_ERROR(Get(root, "delivery_memory_mib", origin, &mib));
    cfg->delivery_memory_bytes = uint64_t(mib) << 20;
  }
  RETURN_IF_ERROR(Get(root, "tls_cert_file", origin, &cfg->tls_cert_file));
  RETURN_IF_ERROR(Get(root, "tls_key_file", origin, &cfg->tls_key_file));
  if (const toml::node* ports = root.get("tls_ports")) {
    const toml::array* arr = ports->as_array();
    if (arr == nullptr || arr->size() > 3)
      return base::InvalidArgument(Where(origin, *ports) + ": tls_ports must be a list of \"put\", \"admin\", \"http\"");
    cfg->tls_ports.clear();
    for (const toml::node& n : *arr) {
      if (!n.is_string()) return base::InvalidArgument(Where(origin, n) + ": tls_ports entries are strings");
      cfg->tls_ports.push_back(n.as_string()->get());
    }
  }
  RETURN_IF_ERROR(Get(root, "http_enabled", origin, &cfg->http_enabled));
  RETURN_IF_ERROR(Get(root, "http_port", origin, &cfg->http_port));
  RETURN_IF_ERROR(Get(root, "http_bind", origin, &cfg->http_bind));
  RETURN_IF_ERROR(Get(root, "admin_port", origin, &cfg->admin_port));
  RETURN_IF_ERROR(Get(root, "admin_bind", origin, &cfg->admin_bind));
  RETURN_IF_ERROR(Get(root, "admin_password", origin, &cfg->admin_password));
  RETURN_IF_ERROR(Get(root, "admin_allow_remote_without_password", origin, &cfg->admin_allow_remote_without_password));
  RETURN_IF_ERROR(Get(root, "auth_token", origin, &cfg->auth_token));
  RETURN_IF_ERROR(Get(root, "max_record_bytes", origin, &cfg->limits.max_record_bytes));
  RETURN_IF_ERROR(Get(root, "max_batch_records", origin, &cfg->limits.max_batch_records));
  RETURN_IF_ERROR(Get(root, "max_batch_bytes", origin, &cfg->limits.max_batch_bytes));
  RETURN_IF_ERROR(Get(root, "connection_output_budget", origin, &cfg->connection_output_budget));
  RETURN_IF_ERROR(Get(root, "shard_commit_budget", origin, &cfg->shard_commit_budget));
  RETURN_IF_ERROR(Get(root, "wal_compression", origin, &cfg->wal_compression));
  RETURN_IF_ERROR(Get(root, "records_compression", origin, &cfg->records_compression));
  if (root.contains("min_free_mib")) {
    uint32_t mib = 0;
    RETURN_IF_ERROR(Get(root, "min_free_mib", origin, &mib));
    cfg->min_free_bytes = uint64_t(mib) << 20;
  }
  std::string durability;
  RETURN_IF_ERROR(Get(root, "durability", origin, &durability));
  if (!durability.empty()) {
    auto d = ParseDurability(durability);
    if (!d.ok()) return d.status().WithContext(origin);
    cfg->durability = d.value();
  }
  if (const toml::node* streams = root.get("stream")) {
    const toml::array* arr = streams->as_array();
    if (arr == nullptr)
      return base::InvalidArgument(Where(origin, *streams) + ": 'stream' must be an array of tables ([[stream]])");
    for (const toml::node& n : *arr) {
      if (!n.is_table()) return base::InvalidArgument(Where(origin, n) + ": [[stream]] entries must be tables");
      StreamConfig s;
      RETURN_IF_ERROR(LoadStream(*n.as_table(), origin, &s));
      s.origin = Where(origin, n);
      cfg->streams.push_back(std::move(s));
    }
  }
  return base::Status::Ok();
}

base::Status LoadConfigFile(const std::string& path, ServerConfig* cfg) {
  std::ifstream in(path);
  if (!in) return base::NotFound("cannot read config file " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  return LoadConfigText(buf.str(), path, cfg);
}

void ServerConfig::ApplyDefaults() {
  if (streams.empty()) {
    StreamConfig s;
    s.name = "default";
    s.append_delimiter = true;
    s.buffering.interval_s = 10;
    s.toml = "name = \"default\"\ndestination = \"directory\"\nappend_delimiter = true\n"
             "buffering = { size_mib = 5, interval_s = 10 }\n";
    streams.push_back(std::move(s));
  }
  for (StreamConfig& s : streams) ApplyStreamDefaults(data_dir, &s);
}

base::Status ServerConfig::Validate() const {
  // A setting read from the config file is named with its file and line.
  auto err = [&](const std::string& key, const std::string& msg) {
    auto it = origins.find(key);
    return base::InvalidArgument(it == origins.end() ? msg : it->second + ": " + msg);
  };
  if (data_dir.empty()) return err("data_dir", "data_dir must not be empty");
  if (wal_compression != "none" && wal_compression != "zstd")
    return err("wal_compression", "wal_compression must be none or zstd, got '" + wal_compression.substr(0, 40) + "'");
  if (records_compression != "none" && records_compression != "lz4" && records_compression != "zstd")
    return err("records_compression", "records_compression must be none, lz4 or zstd, got '" +
                                          records_compression.substr(0, 40) + "'");
  if (cluster.enabled()) {
    for (const std::string& e : cluster.endpoints) {
      std::string_view rest = e;
      if (rest.rfind("http://", 0) == 0) rest.remove_prefix(7);
      if (rest.empty() || rest.find_first_of(" \t\r\n") != std::string_view::npos || e.rfind("https://", 0) == 0)
        return err("cluster_endpoints", "cluster endpoints are http://host:port URLs of etcd's client port, got '" +
                                            e.substr(0, 100) + "'");
    }
    if (!cluster::IsValidNodeId(cluster.node_id))
      return err("node_id", "cluster mode needs node_id (--node-id): 1..64 characters of [A-Za-z0-9_.-], not starting "
                            "with '.'");
    if (!cluster.advertise.empty() && !cluster::IsValidAddress(cluster.advertise))
      return err("advertise", "advertise must be host:port, got '" + cluster.advertise.substr(0, 100) + "'");
    if (cluster.advertise.empty() && (bind == "0.0.0.0" || bind == "::" || bind.empty()))
      return err("advertise", "advertise (--advertise host:port) is required when the put port binds to a wildcard "
                              "address: the other nodes and clients must know where to reach this one");
    if (cluster.prefix.size() < 2 || cluster.prefix.front() != '/' || cluster.prefix.back() != '/' ||
        cluster.prefix.size() > 128)
      return err("cluster_prefix", "cluster_prefix must start and end with '/' (at most 128 characters)");
    if (cluster.lease_ttl_s < 2 || cluster.lease_ttl_s > 60)
      return err("cluster_lease_ttl_s", "cluster_lease_ttl_s must be 2..60, got " + std::to_string(cluster.lease_ttl_s));
    if (cluster.auto_adopt_s > 86400)
      return err("cluster_auto_adopt_s", "cluster_auto_adopt_s must be 0..86400 (0: adopt by hand), got " +
                                             std::to_string(cluster.auto_adopt_s));
    if (!cluster.drain_for.empty() && !cluster::IsValidNodeId(cluster.drain_for))
      return err("drain_for", "--drain-for must be a node id");
    if (cluster.timeout_ms < 100 || cluster.timeout_ms > 60000)
      return err("cluster_timeout_ms", "cluster_timeout_ms must be 100..60000, got " + std::to_string(cluster.timeout_ms));
  } else if (!cluster.drain_for.empty()) {
    return err("drain_for", "--drain-for needs cluster mode (--cluster)");
  } else if (!cluster.node_id.empty() && !cluster::IsValidNodeId(cluster.node_id)) {
    return err("node_id", "node_id must be 1..64 characters of [A-Za-z0-9_.-], not starting with '.'");
  }
  if (shards > 256) return err("shards", "shards must be 0..256 (0 = half the cores), got " + std::to_string(shards));
  if (base::Status st = limits.Validate(); !st.ok()) {
    for (const char* k : {"max_record_bytes", "max_batch_records", "max_batch_bytes"})
      if (st.message().find(k) != std::string::npos) return err(k, st.message());
    return st;
  }
  if (connection_output_budget < 64 * 1024)
    return err("connection_output_budget", "connection_output_budget must be at least 65536 bytes");
  if (shard_commit_budget < limits.MaxFrameBody())
    return err("shard_commit_budget", "shard_commit_budget must be at least one maximal frame (" +
                                          std::to_string(limits.MaxFrameBody()) + " bytes)");
  if (max_connections < 1 || max_connections > 1'000'000)
    return err("max_connections", "max_connections must be 1..1000000, got " + std::to_string(max_connections));
  if (max_client_memory_bytes < (16ull << 20) || max_client_memory_bytes > (1ull << 40) ||
      max_client_memory_bytes < 2ull * limits.MaxFrameBody())
    return err("max_client_memory_mib", "max_client_memory_mib must be 16..1048576 and hold two maximal frames (" +
                                            std::to_string((2ull * limits.MaxFrameBody() >> 20) + 1) + " MiB), got " +
                                            std::to_string(max_client_memory_bytes >> 20));
  if (read_timeout_s < 1 || read_timeout_s > 3600)
    return err("read_timeout_s", "read_timeout_s must be 1..3600, got " + std::to_string(read_timeout_s));
  if (write_timeout_s < 1 || write_timeout_s > 3600)
    return err("write_timeout_s", "write_timeout_s must be 1..3600, got " + std::to_string(write_timeout_s));
  if (shutdown_timeout_s > 3600)
    return err("shutdown_timeout_s", "shutdown_timeout_s must be 0..3600, got " + std::to_string(shutdown_timeout_s));
  if (log_level != "debug" && log_level != "info" && log_level != "warn" && log_level != "error")
    return err("log_level", "log_level must be one of debug, info, warn, error; got '" + log_level.substr(0, 64) + "'");
  if (log_format != "text" && log_format != "json")
    return err("log_format", "log_format must be text or json; got '" + log_format.substr(0, 64) + "'");
  if (log_rate_limit > 100000)
    return err("log_rate_limit", "log_rate_limit must be 0..100000 lines a second per call site, got " + std::to_string(log_rate_limit));
  bool loopback = admin_bind == "127.0.0.1" || admin_bind == "::1" || admin_bind.rfind("127.", 0) == 0;
  if (!loopback && admin_password.empty() && !admin_allow_remote_without_password)
    return err("admin_bind", "admin_bind " + admin_bind +
                                 " is not a loopback address: set admin_password (or, knowingly, "
                                 "admin_allow_remote_without_password)");
  const bool http_loopback = http_bind == "::1" || http_bind.rfind("127.", 0) == 0 || http_bind == "localhost";
  if (http_enabled && !http_loopback && access_keys.empty())
    return err("http_bind", "http_bind " + http_bind.substr(0, 64) +
                                " is not a loopback address: configure [[access_key]] entries, so that requests are "
                                "authenticated (SigV4), or bind to 127.0.0.1");
  for (const std::string& p : tls_ports)
    if (p != "put" && p != "admin" && p != "http")
      return err("tls_ports", "tls_ports entries must be put, admin or http, got '" + p.substr(0, 32) + "'");
  if (!tls_ports.empty() && (tls_cert_file.empty() || tls_key_file.empty()))
    return err("tls_ports", "tls_ports needs tls_cert_file and tls_key_file");
  std::set<std::string> key_ids;
  for (const AccessKey& k : access_keys) {
    auto key_err = [&](const std::string& m) {
      auto it = origins.find("access_key." + k.id);
      return base::InvalidArgument((it == origins.end() ? "" : it->second + ": ") + m);
    };
    bool id_ok = k.id.size() >= 16 && k.id.size() <= 128;
    for (char c : k.id) id_ok &= std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    if (!id_ok) return key_err("access_key id '" + k.id.substr(0, 64) + "' must be 16..128 characters of [A-Za-z0-9_-]");
    if (k.secret.empty() || k.secret.size() > 256) return key_err("access_key " + k.id + ": secret must be 1..256 characters");
    if (!key_ids.insert(k.id).second) return key_err("access_key " + k.id + " is declared twice");
    for (const std::string& op : k.operations)
      if (!AccessKey{.operations = {op}}.Allows(op) && op != "put" && op != "read" && op != "manage" && op != "*")
        return key_err("access_key " + k.id + ": unknown operation '" + op.substr(0, 64) +
                       "' (Firehose operation names, or put, read, manage, *)");
  }
  if (min_free_bytes < (16ull << 20) || min_free_bytes > (1ull << 40))
    return err("min_free_mib", "min_free_mib must be 16..1048576, got " + std::to_string(min_free_bytes >> 20));
  if (delivery_threads < 1 || delivery_threads > 64)
    return err("delivery_threads", "delivery_threads must be 1..64, got " + std::to_string(delivery_threads));
  if (delivery_memory_bytes < (16ull << 20) || delivery_memory_bytes > (1ull << 40))
    return err("delivery_memory_mib",
               "delivery_memory_mib must be 16..1048576, got " + std::to_string(delivery_memory_bytes >> 20));
  std::set<std::string> names;
  for (const StreamConfig& s : streams) {
    base::Status st = ValidateStream(s, enable_fault_injection);
    if (!st.ok()) return s.origin.empty() ? st : base::InvalidArgument(s.origin + ": " + st.message());
    if (!names.insert(s.name).second)
      return base::InvalidArgument((s.origin.empty() ? "" : s.origin + ": ") + "stream '" + s.name + "' is declared twice");
  }
  return base::Status::Ok();
}

bool AccessKey::MayUse(std::string_view stream) const {
  for (const std::string& p : streams) {
    if (p == "*" || p == stream) return true;
    if (!p.empty() && p.back() == '*' && stream.substr(0, p.size() - 1) == std::string_view(p).substr(0, p.size() - 1))
      return true;
  }
  return false;
}

bool AccessKey::Allows(std::string_view operation) const {
  static constexpr std::string_view kPut[] = {"PutRecord", "PutRecordBatch"};
  static constexpr std::string_view kRead[] = {"DescribeDeliveryStream", "ListDeliveryStreams", "ListTagsForDeliveryStream"};
  static constexpr std::string_view kManage[] = {"CreateDeliveryStream", "DeleteDeliveryStream", "UpdateDestination",
                                                 "TagDeliveryStream", "UntagDeliveryStream",
                                                 "StartDeliveryStreamEncryption", "StopDeliveryStreamEncryption"};
  auto in = [&](std::span<const std::string_view> group) {
    return std::find(group.begin(), group.end(), operation) != group.end();
  };
  if (!in(kPut) && !in(kRead) && !in(kManage)) return false;  // not a Firehose operation
  for (const std::string& o : operations)
    if (o == "*" || o == operation || (o == "put" && in(kPut)) || (o == "read" && in(kRead)) ||
        (o == "manage" && in(kManage)))
      return true;
  return false;
}

}  // namespace sluice::server
