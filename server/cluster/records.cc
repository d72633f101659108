// JSON encoding of the cluster's etcd values, and strict decoders for them.
#include "server/cluster/records.h"

#include <simdjson.h>

#include <cctype>
#include <charconv>

#include "server/encoding/json_escape.h"
#include "server/stream_config.h"

namespace sluice::server::cluster {
namespace {

// Builds one flat JSON object.
class Writer {
 public:
  Writer& Str(std::string_view k, std::string_view v) {
    Key(k);
    out_ += '"';
    out_ += JsonEscape(v);
    out_ += '"';
    return *this;
  }
  Writer& Int(std::string_view k, int64_t v) {
    Key(k);
    out_ += std::to_string(v);
    return *this;
  }
  Writer& Bool(std::string_view k, bool v) {
    Key(k);
    out_ += v ? "true" : "false";
    return *this;
  }
  std::string Done() { return out_ + "}"; }

 private:
  void Key(std::string_view k) {
    out_ += out_.size() > 1 ? ",\"" : "\"";
    out_ += k;
    out_ += "\":";
  }
  std::string out_ = "{";
};

// Reads one flat JSON object; the first missing or mistyped field makes ok() false, naming it.
class Reader {
 public:
  explicit Reader(std::string_view json, size_t max_bytes) {
    if (json.size() > max_bytes) {
      error_ = "larger than " + std::to_string(max_bytes) + " bytes";
      return;
    }
    simdjson::dom::element doc;
    if (parser_.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS || doc.get_object().get(obj_) != simdjson::SUCCESS)
      error_ = "not a JSON object";
  }
  std::string Str(std::string_view k, size_t max_len, bool required = true) {
    if (!error_.empty()) return {};
    std::string_view v;
    auto e = obj_.at_key(k);
    if (e.error() == simdjson::NO_SUCH_FIELD && !required) return {};
    if (e.get_string().get(v) != simdjson::SUCCESS) return Fail(k, "a string");
    if (v.size() > max_len) return Fail(k, "at most " + std::to_string(max_len) + " bytes");
    return std::string(v);
  }
  int64_t Int(std::string_view k, int64_t lo, int64_t hi) {
    if (!error_.empty()) return 0;
    int64_t v = 0;
    if (obj_.at_key(k).get_int64().get(v) != simdjson::SUCCESS || v < lo || v > hi) {
      Fail(k, "an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
      return 0;
    }
    return v;
  }
  uint64_t Count(std::string_view k) { return static_cast<uint64_t>(Int(k, 0, INT64_MAX)); }
  bool Bool(std::string_view k) {
    if (!error_.empty()) return false;
    bool v = false;
    if (obj_.at_key(k).get_bool().get(v) != simdjson::SUCCESS) Fail(k, "true or false");
    return v;
  }
  void Check(bool ok, std::string_view k, std::string_view what) {
    if (ok || !error_.empty()) return;
    Fail(k, what);
  }
  base::Status status(std::string_view what) const {
    if (error_.empty()) return base::Status::Ok();
    return base::Status(base::Code::kCorruption, std::string(what) + " in etcd is not valid: " + error_);
  }

 private:
  std::string Fail(std::string_view k, std::string_view want) {
    if (error_.empty()) error_ = "\"" + std::string(k) + "\" must be " + std::string(want);
    return {};
  }
  simdjson::dom::parser parser_;
  simdjson::dom::object obj_;
  std::string error_;
};

constexpr size_t kMaxRecordBytes = 64u << 10;
constexpr int64_t kMaxMs = 253402300799999;  // 9999-12-31

}  // namespace

bool IsValidNodeId(std::string_view id) {
  if (id.empty() || id.size() > kMaxNodeIdBytes || id[0] == '.') return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

bool IsValidAddress(std::string_view a) {
  size_t colon = a.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 253) return false;
  std::string_view host = a.substr(0, colon), port = a.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  for (char c : host)
    if (c <= ' ' || c > '~' || c == '/') return false;
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  return ec == std::errc() && end == port.data() + port.size() && p >= 1 && p <= 65535 && port.size() <= 5;
}

std::string Encode(const MemberRecord& r) {
  return Writer()
      .Str("node", r.node).Str("put", r.put).Str("api", r.api).Str("admin", r.admin).Str("state", r.state)
      .Int("started_ms", r.started_ms).Int("updated_ms", r.updated_ms)
      .Int("connections", static_cast<int64_t>(r.connections))
      .Int("incoming_records", static_cast<int64_t>(r.incoming_records))
      .Int("backlog_bytes", static_cast<int64_t>(r.backlog_bytes))
      .Done();
}

std::string Encode(const NodeRecord& r) {
  return Writer().Str("node", r.node).Str("data_dir", r.data_dir).Int("joined_ms", r.joined_ms).Done();
}

std::string Encode(const StreamRecord& r) {
  return Writer()
      .Str("name", r.name).Int("version", r.version).Int("created_ms", r.created_ms).Int("updated_ms", r.updated_ms)
      .Bool("paused", r.paused).Bool("deleting", r.deleting).Bool("force_delete", r.force_delete)
      .Str("config", r.config)
      .Done();
}

std::string Encode(const OwnerRecord& r) {
  return Writer().Str("node", r.node).Str("holder", r.holder).Int("since_ms", r.since_ms).Done();
}

base::Result<MemberRecord> DecodeMember(std::string_view json) {
  Reader in(json, kMaxRecordBytes);
  MemberRecord r;
  r.node = in.Str("node", kMaxNodeIdBytes);
  in.Check(IsValidNodeId(r.node), "node", "a node id");
  r.put = in.Str("put", 260);
  in.Check(IsValidAddress(r.put), "put", "host:port");
  r.api = in.Str("api", 260);
  in.Check(r.api.empty() || IsValidAddress(r.api), "api", "host:port or empty");
  r.admin = in.Str("admin", 260);
  in.Check(IsValidAddress(r.admin), "admin", "host:port");
  r.state = in.Str("state", 16);
  in.Check(r.state == "active" || r.state == "draining", "state", "active or draining");
  r.started_ms = in.Int("started_ms", 0, kMaxMs);
  r.updated_ms = in.Int("updated_ms", 0, kMaxMs);
  r.connections = in.Count("connections");
  r.incoming_records = in.Count("incoming_records");
  r.backlog_bytes = in.Count("backlog_bytes");
  RETURN_IF_ERROR(in.status("a member record"));
  return r;
}

base::Result<NodeRecord> DecodeNode(std::string_view json) {
  Reader in(json, kMaxRecordBytes);
  NodeRecord r;
  r.node = in.Str("node", kMaxNodeIdBytes);
  in.Check(IsValidNodeId(r.node), "node", "a node id");
  r.data_dir = in.Str("data_dir", 4096);
  in.Check(!r.data_dir.empty() && r.data_dir[0] == '/', "data_dir", "an absolute path");
  r.joined_ms = in.Int("joined_ms", 0, kMaxMs);
  RETURN_IF_ERROR(in.status("a node record"));
  return r;
}

base::Result<StreamRecord> DecodeStream(std::string_view json) {
  Reader in(json, kMaxStreamConfigBytes + kMaxRecordBytes);
  StreamRecord r;
  r.name = in.Str("name", 64);
  in.Check(IsValidStreamName(r.name), "name", "a stream name");
  r.version = static_cast<uint32_t>(in.Int("version", 1, UINT32_MAX));
  r.created_ms = in.Int("created_ms", 0, kMaxMs);
  r.updated_ms = in.Int("updated_ms", 0, kMaxMs);
  r.paused = in.Bool("paused");
  r.deleting = in.Bool("deleting");
  r.force_delete = in.Bool("force_delete");
  r.config = in.Str("config", kMaxStreamConfigBytes);
  RETURN_IF_ERROR(in.status("a stream record"));
  return r;
}

base::Result<OwnerRecord> DecodeOwner(std::string_view json) {
  Reader in(json, kMaxRecordBytes);
  OwnerRecord r;
  r.node = in.Str("node", kMaxNodeIdBytes);
  in.Check(IsValidNodeId(r.node), "node", "a node id");
  r.holder = in.Str("holder", kMaxNodeIdBytes);
  in.Check(IsValidNodeId(r.holder), "holder", "a node id");
  r.since_ms = in.Int("since_ms", 0, kMaxMs);
  RETURN_IF_ERROR(in.status("an owner record"));
  return r;
}

}  // namespace sluice::server::cluster
