// JqExtractor: libjq 1.6 states, record parsing and key validation.
#include "server/processing/jq_extractor.h"

#include <simdjson.h>

#include <algorithm>

extern "C" {
#include <jq.h>
}

namespace sluice::server {

struct JqExtractor::State {
  jq_state* jq = nullptr;
  std::string errors;  // messages jq reported through the error callback
  ~State() {
    if (jq) jq_teardown(&jq);
  }
};

namespace {

constexpr size_t kMaxDepth = 256;  // jq 1.6's MAX_PARSING_DEPTH

void CollectError(void* data, jv msg) {
  auto* s = static_cast<JqExtractor::State*>(data);
  jv formatted = jq_format_error(msg);  // takes msg
  if (jv_get_kind(formatted) == JV_KIND_STRING) {
    if (!s->errors.empty()) s->errors += "; ";
    s->errors += std::string(jv_string_value(formatted)).substr(0, 512);
  }
  jv_free(formatted);
}

// jv message -> string, freeing it.
std::string TakeMessage(jv msg) {
  std::string out;
  if (jv_get_kind(msg) == JV_KIND_STRING) {
    out = jv_string_value(msg);
  } else if (jv_is_valid(msg)) {
    jv dumped = jv_dump_string(jv_copy(msg), 0);
    out = jv_string_value(dumped);
    jv_free(dumped);
  }
  jv_free(msg);
  return out.substr(0, 512);
}

base::Status Compile(JqExtractor::State* s, const std::string& query) {
  s->jq = jq_init();
  if (s->jq == nullptr) return base::Internal("jq: cannot allocate a state");
  jq_set_error_cb(s->jq, CollectError, s);
  if (!jq_compile(s->jq, query.c_str()))
    return base::InvalidArgument("MetadataExtractionQuery does not compile (jq 1.6): " +
                                 (s->errors.empty() ? std::string("syntax error") : s->errors));
  return base::Status::Ok();
}

}  // namespace

base::Status CheckJqQuery(std::string_view query) {
  JqExtractor::State s;
  return Compile(&s, std::string(query));
}

JqExtractor::JqExtractor(std::string query) : query_(std::move(query)) {}
JqExtractor::~JqExtractor() = default;

std::unique_ptr<JqExtractor::State> JqExtractor::Acquire(base::Status* error) {
  {
    base::MutexLock lock(mu_);
    if (!idle_.empty()) {
      auto s = std::move(idle_.back());
      idle_.pop_back();
      return s;
    }
  }
  auto s = std::make_unique<State>();
  *error = Compile(s.get(), query_);
  return error->ok() ? std::move(s) : nullptr;
}

void JqExtractor::Release(std::unique_ptr<State> s) {
  base::MutexLock lock(mu_);
  idle_.push_back(std::move(s));
}

base::Result<PartitionKeys> JqExtractor::Extract(std::string_view json) {
  if (json.size() > (1u << 30)) return base::InvalidArgument("record too large for jq");
  {
    // Validated first with simdjson at jq's own depth limit: jq 1.6 leaks the message of every
    // parse error (fixed in 1.7), which would grow without bound on a stream of bad records.
    thread_local simdjson::dom::parser parser;
    if (parser.max_depth() != kMaxDepth && parser.allocate(std::max<size_t>(json.size(), 4096), kMaxDepth) != simdjson::SUCCESS)
      return base::Internal("simdjson: cannot allocate a parser");
    simdjson::dom::element ignored;
    simdjson::error_code err = parser.parse(json.data(), json.size()).get(ignored);
    if (err == simdjson::DEPTH_ERROR) return base::InvalidArgument("not JSON: nested deeper than jq's depth limit of 256");
    if (err != simdjson::SUCCESS) return base::InvalidArgument(std::string("not JSON: ") + simdjson::error_message(err));
  }
  jv input = jv_parse_sized(json.data(), static_cast<int>(json.size()));
  if (!jv_is_valid(input)) return base::InvalidArgument("not JSON: " + TakeMessage(jv_invalid_get_msg(input)));
  base::Status st;
  std::unique_ptr<State> s = Acquire(&st);
  if (!s) {
    jv_free(input);
    return st;
  }
  s->errors.clear();
  jq_start(s->jq, input, 0);  // takes input
  jv out = jq_next(s->jq);
  base::Result<PartitionKeys> result = base::InvalidArgument("no output");
  if (!jv_is_valid(out)) {
    if (jv_invalid_has_msg(jv_copy(out))) result = base::InvalidArgument("jq error: " + TakeMessage(jv_invalid_get_msg(out)));
    else jv_free(out);
  } else if (jv_get_kind(out) != JV_KIND_OBJECT) {
    result = base::InvalidArgument("query output is not an object");
    jv_free(out);
  } else {
    PartitionKeys keys;
    std::string why;
    jv_object_foreach(out, k, v) {
      std::string name = jv_string_value(k);
      jv_kind kind = jv_get_kind(v);
      if (why.empty()) {
        if (kind == JV_KIND_STRING) {
          keys[name] = jv_string_value(v);
        } else if (kind == JV_KIND_NUMBER || kind == JV_KIND_TRUE || kind == JV_KIND_FALSE) {
          jv dumped = jv_dump_string(jv_copy(v), 0);
          keys[name] = jv_string_value(dumped);
          jv_free(dumped);
        } else {
          why = "partition key '" + name.substr(0, 128) + "' is " +
                (kind == JV_KIND_NULL ? "null (missing in the record)" : "not a string, number or boolean");
        }
        if (why.empty() && keys[name].size() > kMaxPartitionKeyValueBytes)
          why = "partition key '" + name.substr(0, 128) + "' is longer than 512 bytes";
      }
      jv_free(k);
      jv_free(v);
    }
    jv_free(out);
    if (why.empty() && keys.size() > kMaxPartitionKeys) why = "the query returned more than 50 partition keys";
    if (why.empty()) result = std::move(keys);
    else result = base::InvalidArgument(why);
  }
  Release(std::move(s));
  return result;
}

}  // namespace sluice::server
