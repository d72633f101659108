// EtcdClient: etcd's v3 JSON gateway over libcurl; every answer checked before it is used.
#include "server/cluster/etcd_client.h"

#include <curl/curl.h>
#include <simdjson.h>

#include <charconv>

#include "server/encoding/base64.h"
#include "server/encoding/json_escape.h"

namespace sluice::server::cluster {
namespace {

constexpr size_t kMaxResponseBytes = 64u << 20;  // a range of the whole cluster prefix
constexpr size_t kMaxWatchLineBytes = 16u << 20;

base::Status Bad(std::string_view what) {
  return base::Status(base::Code::kCorruption, "etcd answered something unexpected: " + std::string(what));
}

// etcd's gateway writes int64 as JSON strings and leaves out fields that are zero.
bool Int64Field(simdjson::dom::object obj, std::string_view name, int64_t* out) {
  simdjson::dom::element e;
  if (obj.at_key(name).get(e) != simdjson::SUCCESS) {
    *out = 0;
    return true;
  }
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && p == s.data() + s.size();
  }
  return e.get_int64().get(*out) == simdjson::SUCCESS;
}

bool BytesField(simdjson::dom::object obj, std::string_view name, std::string* out) {
  out->clear();
  simdjson::dom::element e;
  if (obj.at_key(name).get(e) != simdjson::SUCCESS) return true;  // absent: empty
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return false;
  return Base64DecodeAppend(s, out);
}

bool DecodeKv(simdjson::dom::element e, KeyValue* kv) {
  simdjson::dom::object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return false;
  return BytesField(o, "key", &kv->key) && !kv->key.empty() && BytesField(o, "value", &kv->value) &&
         Int64Field(o, "create_revision", &kv->create_revision) && Int64Field(o, "mod_revision", &kv->mod_revision) &&
         Int64Field(o, "version", &kv->version) && Int64Field(o, "lease", &kv->lease) && kv->mod_revision >= 0;
}

bool HeaderRevision(simdjson::dom::object o, int64_t* revision) {
  simdjson::dom::object header;
  if (o["header"].get_object().get(header) != simdjson::SUCCESS) return false;
  return Int64Field(header, "revision", revision) && *revision >= 0;
}

std::string B64(std::string_view s) { return Base64Encode(s); }

}  // namespace

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char c = static_cast<unsigned char>(end.back());
    if (c < 0xff) {
      end.back() = static_cast<char>(c + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key ("\0" is etcd's "to the end")
}

base::Result<RangeResult> DecodeRange(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object o;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS || doc.get_object().get(o) != simdjson::SUCCESS)
    return Bad("a range answer that is not a JSON object");
  RangeResult r;
  if (!HeaderRevision(o, &r.revision)) return Bad("a range answer without a header revision");
  simdjson::dom::element kvs;
  if (o.at_key("kvs").get(kvs) == simdjson::SUCCESS) {
    simdjson::dom::array arr;
    if (kvs.get_array().get(arr) != simdjson::SUCCESS) return Bad("kvs is not an array");
    for (simdjson::dom::element e : arr) {
      KeyValue kv;
      if (!DecodeKv(e, &kv)) return Bad("a key-value that is not {key, value, revisions}");
      r.kvs.push_back(std::move(kv));
    }
  }
  return r;
}

base::Result<TxnResult> DecodeTxn(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object o;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS || doc.get_object().get(o) != simdjson::SUCCESS)
    return Bad("a txn answer that is not a JSON object");
  TxnResult r;
  if (!HeaderRevision(o, &r.revision)) return Bad("a txn answer without a header revision");
  simdjson::dom::element s;
  if (o.at_key("succeeded").get(s) == simdjson::SUCCESS && s.get_bool().get(r.succeeded) != simdjson::SUCCESS)
    return Bad("succeeded is not a boolean");
  return r;
}

base::Result<std::vector<WatchEvent>> DecodeWatchLine(std::string_view json, int64_t* header_revision) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object top, o;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS || doc.get_object().get(top) != simdjson::SUCCESS)
    return Bad("a watch message that is not a JSON object");
  if (top.at_key("error").error() == simdjson::SUCCESS) return base::Unavailable("etcd ended the watch with an error");
  if (top["result"].get_object().get(o) != simdjson::SUCCESS) return Bad("a watch message without result");
  if (!HeaderRevision(o, header_revision)) return Bad("a watch message without a header revision");
  bool flag = false;
  simdjson::dom::element e;
  if (o.at_key("canceled").get(e) == simdjson::SUCCESS && e.get_bool().get(flag) == simdjson::SUCCESS && flag)
    return base::Unavailable("etcd cancelled the watch (compacted or overloaded)");
  int64_t compact = 0;
  if (!Int64Field(o, "compact_revision", &compact)) return Bad("compact_revision is not a number");
  if (compact > 0) return base::Unavailable("the watch's start revision was compacted");
  std::vector<WatchEvent> events;
  if (o.at_key("events").get(e) == simdjson::SUCCESS) {
    simdjson::dom::array arr;
    if (e.get_array().get(arr) != simdjson::SUCCESS) return Bad("events is not an array");
    for (simdjson::dom::element ev : arr) {
      simdjson::dom::object eo;
      if (ev.get_object().get(eo) != simdjson::SUCCESS) return Bad("an event that is not an object");
      WatchEvent w;
      std::string_view type;
      simdjson::dom::element t;
      if (eo.at_key("type").get(t) == simdjson::SUCCESS) {
        if (t.get_string().get(type) != simdjson::SUCCESS || (type != "PUT" && type != "DELETE"))
          return Bad("an event type that is neither PUT nor DELETE");
        w.deleted = type == "DELETE";
      }
      if (eo.at_key("kv").get(t) != simdjson::SUCCESS || !DecodeKv(t, &w.kv)) return Bad("an event without a valid kv");
      events.push_back(std::move(w));
    }
  }
  return events;
}

EtcdClient::EtcdClient(std::vector<std::string> endpoints, uint32_t timeout_ms)
    : endpoints_(std::move(endpoints)),
      timeout_ms_(timeout_ms),
      http_([timeout_ms] {
        HttpClientOptions o;
        o.connect_timeout_ms = timeout_ms;
        o.request_timeout_ms = timeout_ms;
        o.max_response_bytes = kMaxResponseBytes;
        return o;
      }()) {
  for (std::string& e : endpoints_)
    if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0) e = "http://" + e;
}

std::string EtcdClient::Endpoint(size_t i) const { return endpoints_[(preferred_.load() + i) % endpoints_.size()]; }

base::Result<std::string> EtcdClient::Call(std::string_view path, const std::string& body) {
  std::string last;
  for (size_t i = 0; i < endpoints_.size(); i++) {
    HttpRequest req;
    req.url = Endpoint(i) + std::string(path);
    req.headers = {{"Content-Type", "application/json"}};
    req.body = body;
    HttpResponse resp = http_.Send(req);
    if (resp.status == 200) {
      if (i != 0) preferred_.store((preferred_.load() + i) % endpoints_.size());
      return std::move(resp.body);
    }
    if (resp.status != 0) {
      // etcd answered: an error of the request itself (another endpoint would say the same).
      std::string msg = resp.body.substr(0, 300);
      return base::Status(resp.status >= 500 ? base::Code::kUnavailable : base::Code::kInvalidArgument,
                          "etcd " + std::string(path) + ": HTTP " + std::to_string(resp.status) + ": " + msg);
    }
    last = Endpoint(i) + ": " + resp.error;
  }
  return base::Unavailable("etcd is unreachable (" + last + ")");
}

base::Result<int64_t> EtcdClient::Grant(int64_t ttl_s) {
  ASSIGN_OR_RETURN(std::string body, Call("/v3/lease/grant", "{\"TTL\":" + std::to_string(ttl_s) + "}"));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object o;
  int64_t id = 0, ttl = 0;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS || doc.get_object().get(o) != simdjson::SUCCESS ||
      !Int64Field(o, "ID", &id) || !Int64Field(o, "TTL", &ttl) || id == 0)
    return Bad("a lease grant without ID");
  if (ttl <= 0) return base::Unavailable("etcd granted no lease");
  return id;
}

base::Result<int64_t> EtcdClient::KeepAlive(int64_t lease) {
  ASSIGN_OR_RETURN(std::string body, Call("/v3/lease/keepalive", "{\"ID\":\"" + std::to_string(lease) + "\"}"));
  // One message: {"result":{"header":..,"ID":"..","TTL":".."}}; TTL absent = the lease is gone.
  size_t nl = body.find('\n');
  if (nl != std::string::npos) body.resize(nl);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object o;
  int64_t ttl = 0;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS || doc["result"].get_object().get(o) != simdjson::SUCCESS ||
      !Int64Field(o, "TTL", &ttl))
    return Bad("a keepalive answer without result");
  return ttl < 0 ? 0 : ttl;
}

base::Status EtcdClient::Revoke(int64_t lease) {
  return Call("/v3/lease/revoke", "{\"ID\":\"" + std::to_string(lease) + "\"}").status();
}

base::Result<RangeResult> EtcdClient::Get(std::string_view key) {
  ASSIGN_OR_RETURN(std::string body, Call("/v3/kv/range", "{\"key\":\"" + B64(key) + "\"}"));
  return DecodeRange(body);
}

base::Result<RangeResult> EtcdClient::GetPrefix(std::string_view prefix) {
  ASSIGN_OR_RETURN(std::string body, Call("/v3/kv/range", "{\"key\":\"" + B64(prefix) + "\",\"range_end\":\"" +
                                                              B64(PrefixEnd(prefix)) + "\"}"));
  return DecodeRange(body);
}

base::Result<TxnResult> EtcdClient::Commit(const Txn& txn) {
  std::string j = "{\"compare\":[";
  for (size_t i = 0; i < txn.compare.size(); i++) {
    const Txn::Compare& c = txn.compare[i];
    const bool create = c.target == Txn::Compare::kCreateRevision;
    j += (i ? "," : "") + std::string("{\"key\":\"") + B64(c.key) + "\",\"target\":\"" + (create ? "CREATE" : "MOD") +
         "\",\"result\":\"EQUAL\",\"" + (create ? "create_revision" : "mod_revision") + "\":\"" +
         std::to_string(c.revision) + "\"}";
  }
  j += "],\"success\":[";
  bool first = true;
  auto sep = [&] { j += first ? "" : ","; first = false; };
  for (const Txn::Put& p : txn.puts) {
    sep();
    j += "{\"requestPut\":{\"key\":\"" + B64(p.key) + "\",\"value\":\"" + B64(p.value) + "\"";
    if (p.lease != 0) j += ",\"lease\":\"" + std::to_string(p.lease) + "\"";
    j += "}}";
  }
  for (const std::string& k : txn.deletes) {
    sep();
    j += "{\"requestDeleteRange\":{\"key\":\"" + B64(k) + "\"}}";
  }
  for (const std::string& k : txn.delete_prefixes) {
    sep();
    j += "{\"requestDeleteRange\":{\"key\":\"" + B64(k) + "\",\"range_end\":\"" + B64(PrefixEnd(k)) + "\"}}";
  }
  j += "]}";
  ASSIGN_OR_RETURN(std::string body, Call("/v3/kv/txn", j));
  return DecodeTxn(body);
}

namespace {
struct WatchSink {
  std::string pending;
  const std::function<void(const WatchEvent&, int64_t)>* on_event;
  const std::function<bool()>* abort;
  base::Status error;
  bool created = false;
  bool aborted = false;
};

size_t OnWatchBytes(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<WatchSink*>(user);
  const size_t bytes = size * n;
  sink->pending.append(data, bytes);
  size_t start = 0;
  for (size_t nl; (nl = sink->pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(sink->pending.data() + start, nl - start);
    if (line.empty() || line == "\r") continue;
    int64_t revision = 0;
    auto events = DecodeWatchLine(line, &revision);
    if (!events.ok()) {
      sink->error = events.status();
      return 0;  // aborts the transfer
    }
    sink->created = true;
    for (const WatchEvent& ev : events.value()) (*sink->on_event)(ev, revision);
  }
  sink->pending.erase(0, start);
  if (sink->pending.size() > kMaxWatchLineBytes) {
    sink->error = Bad("a watch message over 16 MiB");
    return 0;
  }
  return bytes;
}

int OnWatchProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* sink = static_cast<WatchSink*>(user);
  if ((*sink->abort)()) sink->aborted = true;
  return sink->aborted ? 1 : 0;
}
}  // namespace

base::Status EtcdClient::Watch(std::string_view prefix, int64_t start_revision,
                               const std::function<void(const WatchEvent&, int64_t)>& on_event,
                               const std::function<bool()>& abort) {
  const std::string body = "{\"create_request\":{\"key\":\"" + B64(prefix) + "\",\"range_end\":\"" +
                           B64(PrefixEnd(prefix)) + "\",\"start_revision\":\"" + std::to_string(start_revision) +
                           "\"}}";
  const std::string url = Endpoint(0) + "/v3/watch";
  CURL* h = curl_easy_init();
  if (h == nullptr) return base::Internal("cannot create a curl handle");
  WatchSink sink{.pending = {}, .on_event = &on_event, .abort = &abort, .error = {}, .created = false, .aborted = false};
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_ms_));
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 2L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnWatchBytes);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnWatchProgress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &sink);
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  if (sink.aborted) return base::Status::Ok();
  if (!sink.error.ok()) return sink.error;
  if (rc != CURLE_OK) {
    preferred_.store((preferred_.load() + 1) % endpoints_.size());  // try the next endpoint next time
    return base::Unavailable("etcd watch: " + std::string(curl_easy_strerror(rc)));
  }
  if (status != 200) return base::Unavailable("etcd watch: HTTP " + std::to_string(status));
  return base::Unavailable("etcd closed the watch");
}

}  // namespace sluice::server::cluster
