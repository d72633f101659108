// The Firehose API's JSON bodies: PutRecord/PutRecordBatch input, Describe/List output, errors.
#include "server/http/firehose_api.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "server/delivery/codec.h"
#include "server/delivery/destinations/registry.h"
#include "server/encoding/base64.h"
#include "server/encoding/json_escape.h"

namespace sluice::server::http {
namespace {

constexpr std::string_view kTargetPrefix = "Firehose_20150804.";

// One parser per shard thread: its buffers grow to the largest body once and are reused.
simdjson::dom::parser& Parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

ApiError Serialization(std::string message) { return {400, "SerializationException", std::move(message)}; }
ApiError InvalidArgument(std::string message) { return {400, "InvalidArgumentException", std::move(message)}; }

std::string Clip(std::string_view v, size_t n = 64) {
  return v.size() <= n ? std::string(v) : std::string(v.substr(0, n)) + "...";
}

// Firehose's DeliveryStreamName: 1..64 of [a-zA-Z0-9_.-].
std::optional<ApiError> CheckStreamName(std::string_view name, std::string_view member) {
  if (name.empty() || name.size() > 64)
    return Validation(Clip(name), member, "Member must have length less than or equal to 64 and at least 1");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return Validation(Clip(name), member, "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
  }
  return std::nullopt;
}

// The parsed body's root object, or the SerializationException the SDKs expect for bad JSON.
std::optional<ApiError> ParseObject(const std::string& body, simdjson::dom::object* root) {
  simdjson::dom::parser& parser = Parser();
  const bool padded = body.capacity() - body.size() >= simdjson::SIMDJSON_PADDING;
  simdjson::dom::element doc;
  // An empty body is an empty input (the SDKs send "{}" for operations without members).
  std::string_view text = body.empty() ? std::string_view("{}") : std::string_view(body);
  auto err = parser.parse(text.data(), text.size(), !padded || body.empty()).get(doc);
  if (err) return Serialization(std::string("the request body is not valid JSON: ") + simdjson::error_message(err));
  if (doc.get_object().get(*root) != simdjson::SUCCESS) return Serialization("the request body must be a JSON object");
  return std::nullopt;
}

// A required string member.
std::optional<ApiError> GetString(simdjson::dom::object obj, std::string_view key, std::string_view* out,
                                  bool required = true) {
  simdjson::dom::element e;
  if (obj[key].get(e) != simdjson::SUCCESS) {
    if (!required) return std::nullopt;
    return Validation("null", key, "Member must not be null");
  }
  if (e.get_string().get(*out) != simdjson::SUCCESS)
    return Serialization("member " + std::string(key) + " must be a string");
  return std::nullopt;
}

// The optional "Limit" member: 1..`max`, `fallback` when absent.
std::optional<ApiError> GetLimit(simdjson::dom::object root, int64_t fallback, int64_t max, int64_t* limit) {
  *limit = fallback;
  simdjson::dom::element e;
  if (root["Limit"].get(e) != simdjson::SUCCESS) return std::nullopt;
  if (e.get_int64().get(*limit) != simdjson::SUCCESS || *limit < 1 || *limit > max)
    return Validation(Clip(simdjson::to_string(e)), "limit", "Member must have value between 1 and " + std::to_string(max));
  return std::nullopt;
}

// The body's object and its DeliveryStreamName, checked by Firehose's name rule. `copy` holds
// the text the parsed object points into.
std::optional<ApiError> ParseNamed(std::string_view body, std::string* copy, simdjson::dom::object* root,
                                   std::string_view* name) {
  copy->assign(body);
  if (auto e = ParseObject(*copy, root)) return e;
  if (auto e = GetString(*root, "DeliveryStreamName", name)) return e;
  return CheckStreamName(*name, "deliveryStreamName");
}

std::optional<ApiError> DecodeRecord(simdjson::dom::element rec, size_t index, bool batch, PutInput* out,
                                     size_t* total) {
  const std::string member = batch ? "records." + std::to_string(index + 1) + ".member.data" : "record.data";
  simdjson::dom::object obj;
  if (rec.get_object().get(obj) != simdjson::SUCCESS)
    return Serialization(std::string(batch ? "each of Records" : "Record") + " must be an object with Data");
  std::string_view b64;
  simdjson::dom::element data;
  if (obj["Data"].get(data) != simdjson::SUCCESS) return Validation("null", member, "Member must not be null");
  if (data.get_string().get(b64) != simdjson::SUCCESS) return Serialization(member + " must be a base64 string");
  // The decoded size is known before decoding: refuse what is too large without decoding it.
  size_t decoded = b64.size() / 4 * 3 - (b64.size() >= 1 && b64.back() == '=') - (b64.size() >= 2 && b64[b64.size() - 2] == '=');
  if (b64.size() % 4 == 0 && decoded > kMaxRecordBytes)
    return Validation("<" + std::to_string(decoded) + " bytes>", member,
                      "Member must have length less than or equal to " + std::to_string(kMaxRecordBytes));
  if (!Base64DecodeAppend(b64, &out->data))
    return Serialization(member + " is not valid base64 (standard alphabet, padded)");
  *total += decoded;
  out->ends.push_back(static_cast<uint32_t>(out->data.size()));
  return std::nullopt;
}

void AppendQuoted(std::string* out, std::string_view s) {
  out->push_back('"');
  *out += JsonEscape(s);
  out->push_back('"');
}

std::string Seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms / 1000), static_cast<long long>(ms % 1000));
  return buf;
}

// A JSON object built from dotted member names ("EndpointConfiguration.Url"), members in order
// of first appearance.
struct JsonObject {
  std::vector<std::pair<std::string, std::string>> members;  // name, rendered value
  // Nested objects: names and objects side by side (a pair of an incomplete type is not allowed).
  std::vector<std::string> child_names;
  std::vector<JsonObject> children;
  void Set(std::string_view dotted, std::string value) {
    size_t dot = dotted.find('.');
    if (dot == std::string_view::npos) {
      members.emplace_back(std::string(dotted), std::move(value));
      return;
    }
    std::string head(dotted.substr(0, dot));
    for (size_t i = 0; i < child_names.size(); i++)
      if (child_names[i] == head) return children[i].Set(dotted.substr(dot + 1), std::move(value));
    child_names.push_back(head);
    children.emplace_back();
    children.back().Set(dotted.substr(dot + 1), std::move(value));
  }
  void Render(std::string* out) const {
    out->push_back('{');
    bool first = true;
    for (const auto& [name, value] : members) {
      if (!first) out->push_back(',');
      first = false;
      AppendQuoted(out, name);
      *out += ":" + value;
    }
    for (size_t i = 0; i < children.size(); i++) {
      if (!first) out->push_back(',');
      first = false;
      AppendQuoted(out, child_names[i]);
      out->push_back(':');
      children[i].Render(out);
    }
    out->push_back('}');
  }
};

std::string Quoted(std::string_view s) {
  std::string out;
  AppendQuoted(&out, s);
  return out;
}

// Firehose's CompressionFormat names.
std::string_view CompressionFormat(Compression c) {
  switch (c) {
    case Compression::kNone: return "UNCOMPRESSED";
    case Compression::kGzip: return "GZIP";
    case Compression::kSnappy: return "Snappy";
    case Compression::kZstd: return "ZSTD";  // a Sluice extension: Firehose has no zstd
  }
  return "UNCOMPRESSED";
}

// The destination's description in Firehose's shape: its Firehose-named settings (secrets
// never), and the common ones.
std::string DestinationDescription(const StreamConfig& c) {
  const DestinationKind* kind = c.kind();
  JsonObject d;
  if (kind != nullptr) {
    for (const Setting& st : kind->settings) {
      if (st.firehose.empty() || st.shown == SettingShown::kSecret) continue;
      const SettingValues::Value* v = c.settings().Find(st.key);
      if (v == nullptr) continue;
      if (const auto* s = std::get_if<std::string>(v)) {
        if (!s->empty()) d.Set(st.firehose, Quoted(std::string(st.firehose_prefix) + *s));
      } else if (const auto* i = std::get_if<int64_t>(v)) {
        d.Set(st.firehose, std::to_string(*i));
      } else if (const auto* b = std::get_if<bool>(v)) {
        d.Set(st.firehose, *b ? "true" : "false");
      } else if (const auto* t = std::get_if<SettingValues::Table>(v)) {
        std::string list = "[";
        for (const auto& [name, value] : *t)
          list += (list.size() > 1 ? "," : "") + std::string("{\"AttributeName\":") + Quoted(name) +
                  ",\"AttributeValue\":" + Quoted(value) + "}";
        d.Set(st.firehose, list + "]");
      }
    }
  }
  d.Set("BufferingHints.SizeInMBs", std::to_string(c.buffering.size_mib));
  d.Set("BufferingHints.IntervalInSeconds", std::to_string(c.buffering.interval_s));
  d.Set("CompressionFormat", Quoted(CompressionFormat(c.compression)));
  d.Set("RetryOptions.DurationInSeconds", std::to_string(c.retry_duration_s));
  if (!c.backup.error_output_prefix.empty()) d.Set("ErrorOutputPrefix", Quoted(c.backup.error_output_prefix));
  if (c.conversion.on()) {
    const ConversionConfig& v = c.conversion;
    const std::string dfc = "DataFormatConversionConfiguration.";
    d.Set(dfc + "Enabled", "true");
    d.Set(dfc + "SchemaConfiguration.Columns", Quoted(v.schema ? v.schema->ToString() : v.columns));  // no Glue: ours
    if (v.input_format == "hive") {
      std::string formats = "[";
      for (const std::string& f : v.converter.timestamp_formats) formats += (formats.size() > 1 ? "," : "") + Quoted(f);
      d.Set(dfc + "InputFormatConfiguration.Deserializer.HiveJsonSerDe.TimestampFormats", formats + "]");
    } else {
      const std::string openx = dfc + "InputFormatConfiguration.Deserializer.OpenXJsonSerDe.";
      d.Set(openx + "ConvertDotsInJsonKeysToUnderscores", v.convert_dots_in_json_keys_to_underscores ? "true" : "false");
      d.Set(openx + "CaseInsensitive", v.case_insensitive ? "true" : "false");
      JsonObject mappings;
      for (const auto& [column, key] : v.column_to_json_key_mappings) mappings.Set(column, Quoted(key));
      std::string rendered;
      mappings.Render(&rendered);
      d.Set(openx + "ColumnToJsonKeyMappings", rendered);
    }
    const std::string parquet = dfc + "OutputFormatConfiguration.Serializer.ParquetSerDe.";
    std::string compression = v.compression;
    for (char& ch : compression) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    d.Set(parquet + "Compression", Quoted(compression));
    d.Set(parquet + "BlockSizeBytes", std::to_string(v.block_size_bytes));
    d.Set(parquet + "PageSizeBytes", std::to_string(v.page_size_bytes));
    d.Set(parquet + "EnableDictionaryCompression", v.enable_dictionary_compression ? "true" : "false");
    d.Set(parquet + "WriterVersion", v.writer_version == "v2" ? "\"V2\"" : "\"V1\"");
  }
  std::string out;
  d.Render(&out);
  return out;
}

// "ExtendedS3DestinationConfiguration" -> "ExtendedS3DestinationDescription".
std::string DescriptionName(std::string_view configuration) {
  std::string name(configuration);
  size_t at = name.rfind("Configuration");
  if (at != std::string::npos) name.replace(at, std::string_view("Configuration").size(), "Description");
  return name;
}

// The member at a dotted path ("EndpointConfiguration.Url") of `obj`.
bool Member(simdjson::dom::object obj, std::string_view dotted, simdjson::dom::element* out) {
  for (;;) {
    size_t dot = dotted.find('.');
    simdjson::dom::element e;
    if (obj[dotted.substr(0, dot)].get(e) != simdjson::SUCCESS) return false;
    if (dot == std::string_view::npos) {
      *out = e;
      return true;
    }
    if (e.get_object().get(obj) != simdjson::SUCCESS) return false;
    dotted.remove_prefix(dot + 1);
  }
}

// DataFormatConversionConfiguration -> conversion.* keys. There is no Glue Data Catalog: the
// schema is SchemaConfiguration.Columns (a Hive column list, a Sluice member), or the stream's
// conversion.columns set on the admin port. ORC output is not supported.
std::optional<ApiError> ConversionFrom(simdjson::dom::element e, ControlInput* out) {
  auto add = [&](std::string key, std::string value) { out->settings.emplace_back(std::move(key), std::move(value)); };
  simdjson::dom::object dfc;
  if (e.get_object().get(dfc) != simdjson::SUCCESS) return Serialization("DataFormatConversionConfiguration must be an object");
  simdjson::dom::element m;
  auto boolean = [&](simdjson::dom::object o, std::string_view path, const std::string& key) -> std::optional<ApiError> {
    simdjson::dom::element b;
    if (!Member(o, path, &b)) return std::nullopt;
    bool v = false;
    if (b.get_bool().get(v) != simdjson::SUCCESS) return Serialization(std::string(path) + " must be a boolean");
    add(key, v ? "true" : "false");
    return std::nullopt;
  };
  auto integer = [&](simdjson::dom::object o, std::string_view path, const std::string& key) -> std::optional<ApiError> {
    simdjson::dom::element b;
    if (!Member(o, path, &b)) return std::nullopt;
    int64_t v = 0;
    if (b.get_int64().get(v) != simdjson::SUCCESS || v < 0) return Serialization(std::string(path) + " must be a non-negative integer");
    add(key, std::to_string(v));
    return std::nullopt;
  };
  if (auto err = boolean(dfc, "Enabled", "conversion.enabled")) return err;
  std::string_view text;
  if (Member(dfc, "SchemaConfiguration.Columns", &m)) {
    if (m.get_string().get(text) != simdjson::SUCCESS) return Serialization("SchemaConfiguration.Columns must be a string");
    add("conversion.columns", std::string(text));
  } else if (Member(dfc, "SchemaConfiguration.TableName", &m)) {
    return InvalidArgument("Sluice has no Glue Data Catalog: give the schema as SchemaConfiguration.Columns, a Hive column "
                           "list (\"id bigint, tags array<string>\"), or set conversion.columns on the admin port");
  }
  simdjson::dom::object openx, hive;
  if (Member(dfc, "InputFormatConfiguration.Deserializer.OpenXJsonSerDe", &m)) {
    if (m.get_object().get(openx) != simdjson::SUCCESS) return Serialization("OpenXJsonSerDe must be an object");
    add("conversion.input_format", "openx");
    add("conversion.timestamp_formats", "");
    if (auto err = boolean(openx, "ConvertDotsInJsonKeysToUnderscores", "conversion.convert_dots_in_json_keys_to_underscores")) return err;
    if (auto err = boolean(openx, "CaseInsensitive", "conversion.case_insensitive")) return err;
    simdjson::dom::object maps;
    if (Member(openx, "ColumnToJsonKeyMappings", &m)) {
      if (m.get_object().get(maps) != simdjson::SUCCESS) return Serialization("ColumnToJsonKeyMappings must be an object");
      for (auto [column, key] : maps) {
        std::string_view k;
        if (key.get_string().get(k) != simdjson::SUCCESS || column.empty() || column.size() > 128 || column.find('.') != std::string_view::npos)
          return Serialization("ColumnToJsonKeyMappings maps column names to JSON key strings");
        add("conversion.column_to_json_key_mappings." + std::string(column), std::string(k));
      }
    }
  } else if (Member(dfc, "InputFormatConfiguration.Deserializer.HiveJsonSerDe", &m)) {
    if (m.get_object().get(hive) != simdjson::SUCCESS) return Serialization("HiveJsonSerDe must be an object");
    add("conversion.input_format", "hive");
    std::string formats;
    simdjson::dom::array list;
    if (hive["TimestampFormats"].get_array().get(list) == simdjson::SUCCESS) {
      for (simdjson::dom::element f : list) {
        if (f.get_string().get(text) != simdjson::SUCCESS || text.empty() || text.find('|') != std::string_view::npos)
          return Serialization("each of HiveJsonSerDe.TimestampFormats must be a non-empty string without '|'");
        formats += (formats.empty() ? "" : "|") + std::string(text);
      }
    }
    add("conversion.timestamp_formats", formats);
  }
  if (Member(dfc, "OutputFormatConfiguration.Serializer.OrcSerDe", &m))
    return InvalidArgument("ORC output is not supported: use OutputFormatConfiguration.Serializer.ParquetSerDe");
  simdjson::dom::object pq;
  if (Member(dfc, "OutputFormatConfiguration.Serializer.ParquetSerDe", &m)) {
    if (m.get_object().get(pq) != simdjson::SUCCESS) return Serialization("ParquetSerDe must be an object");
    if (pq["Compression"].get_string().get(text) == simdjson::SUCCESS) {
      std::string c(text);
      for (char& ch : c) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      add("conversion.compression", c);
    }
    if (auto err = integer(pq, "BlockSizeBytes", "conversion.block_size_bytes")) return err;
    if (auto err = integer(pq, "PageSizeBytes", "conversion.page_size_bytes")) return err;
    if (auto err = boolean(pq, "EnableDictionaryCompression", "conversion.enable_dictionary_compression")) return err;
    if (pq["WriterVersion"].get_string().get(text) == simdjson::SUCCESS) {
      if (text != "V1" && text != "V2") return InvalidArgument("ParquetSerDe.WriterVersion must be V1 or V2");
      add("conversion.writer_version", text == "V1" ? "v1" : "v2");
    }
  }
  return std::nullopt;
}

// A kind's Firehose-named settings, and the common ones, from its configuration object.
std::optional<ApiError> SettingsFrom(const DestinationKind& kind, simdjson::dom::object conf, ControlInput* out) {
  auto add = [&](std::string key, std::string value) { out->settings.emplace_back(std::move(key), std::move(value)); };
  for (const Setting& st : kind.settings) {
    if (st.firehose.empty()) continue;
    simdjson::dom::element e;
    if (!Member(conf, st.firehose, &e)) continue;
    const std::string key = std::string(kind.name) + "." + std::string(st.key);
    std::string_view text;
    int64_t number = 0;
    bool flag = false;
    switch (st.type) {
      case SettingType::kString:
        if (e.get_string().get(text) != simdjson::SUCCESS) return Serialization(std::string(st.firehose) + " must be a string");
        if (!st.firehose_prefix.empty()) {
          if (text.substr(0, st.firehose_prefix.size()) != st.firehose_prefix)
            return InvalidArgument(std::string(st.firehose) + " must start with " + std::string(st.firehose_prefix) +
                                   ", got '" + Clip(text, 100) + "'");
          text.remove_prefix(st.firehose_prefix.size());
        }
        add(key, std::string(text));
        break;
      case SettingType::kInteger:
        if (e.get_int64().get(number) != simdjson::SUCCESS) return Serialization(std::string(st.firehose) + " must be an integer");
        add(key, std::to_string(number));
        break;
      case SettingType::kBool:
        if (e.get_bool().get(flag) != simdjson::SUCCESS) return Serialization(std::string(st.firehose) + " must be a boolean");
        add(key, flag ? "true" : "false");
        break;
      case SettingType::kTable: {
        // Firehose's attribute lists: [{"AttributeName": n, "AttributeValue": v}, ...].
        simdjson::dom::array list;
        if (e.get_array().get(list) != simdjson::SUCCESS) return Serialization(std::string(st.firehose) + " must be a list");
        for (simdjson::dom::element item : list) {
          std::string_view name, value;
          if (item["AttributeName"].get_string().get(name) != simdjson::SUCCESS ||
              item["AttributeValue"].get_string().get(value) != simdjson::SUCCESS || name.empty())
            return Serialization(std::string(st.firehose) + " entries need AttributeName and AttributeValue strings");
          add(key + "." + std::string(name), std::string(value));
        }
        break;
      }
    }
  }
  simdjson::dom::element e;
  int64_t number = 0;
  std::string_view text;
  if (Member(conf, "BufferingHints.SizeInMBs", &e)) {
    if (e.get_int64().get(number) != simdjson::SUCCESS) return Serialization("BufferingHints.SizeInMBs must be an integer");
    add("buffering.size_mib", std::to_string(number));
  }
  if (Member(conf, "BufferingHints.IntervalInSeconds", &e)) {
    if (e.get_int64().get(number) != simdjson::SUCCESS) return Serialization("BufferingHints.IntervalInSeconds must be an integer");
    add("buffering.interval_s", std::to_string(number));
  }
  if (Member(conf, "RetryOptions.DurationInSeconds", &e)) {
    if (e.get_int64().get(number) != simdjson::SUCCESS) return Serialization("RetryOptions.DurationInSeconds must be an integer");
    add("retry_duration_s", std::to_string(number));
  }
  if (Member(conf, "CompressionFormat", &e)) {
    if (e.get_string().get(text) != simdjson::SUCCESS) return Serialization("CompressionFormat must be a string");
    static const std::pair<std::string_view, std::string_view> kFormats[] = {
        {"UNCOMPRESSED", "none"}, {"GZIP", "gzip"}, {"Snappy", "snappy"}, {"ZSTD", "zstd"}};
    auto it = std::find_if(std::begin(kFormats), std::end(kFormats), [&](const auto& f) { return f.first == text; });
    if (it == std::end(kFormats))
      return InvalidArgument("CompressionFormat '" + Clip(text) + "' is not supported: UNCOMPRESSED, GZIP, Snappy or ZSTD");
    add("compression", std::string(it->second));
  }
  if (Member(conf, "ErrorOutputPrefix", &e)) {
    if (e.get_string().get(text) != simdjson::SUCCESS) return Serialization("ErrorOutputPrefix must be a string");
    add("backup.error_output_prefix", std::string(text));
  }
  if (Member(conf, "S3BackupMode", &e)) {
    if (e.get_string().get(text) != simdjson::SUCCESS) return Serialization("S3BackupMode must be a string");
    if (text == "Enabled" || text == "AllData") add("backup.mode", "all");
    else if (text == "Disabled" || text == "FailedDataOnly") add("backup.mode", "failed-only");
    else return InvalidArgument("S3BackupMode '" + Clip(text) + "' must be Enabled, Disabled, AllData or FailedDataOnly");
  }
  if (Member(conf, "DataFormatConversionConfiguration", &e)) {
    if (auto err = ConversionFrom(e, out)) return err;
  }
  if (Member(conf, "ProcessingConfiguration", &e)) {
    simdjson::dom::object pc;
    if (e.get_object().get(pc) != simdjson::SUCCESS) return Serialization("ProcessingConfiguration must be an object");
    bool enabled = true;
    simdjson::dom::element en;
    if (pc["Enabled"].get(en) == simdjson::SUCCESS && en.get_bool().get(enabled) != simdjson::SUCCESS)
      return Serialization("ProcessingConfiguration.Enabled must be a boolean");
    simdjson::dom::array procs;
    if (enabled && pc["Processors"].get_array().get(procs) == simdjson::SUCCESS) {
      for (simdjson::dom::element p : procs) {
        std::string_view type;
        if (p["Type"].get_string().get(type) != simdjson::SUCCESS || type.empty())
          return Serialization("each of ProcessingConfiguration.Processors needs a Type");
        add("processors." + std::string(type), "on");
        simdjson::dom::array params;
        if (p["Parameters"].get_array().get(params) != simdjson::SUCCESS) continue;
        for (simdjson::dom::element param : params) {
          std::string_view name, value;
          if (param["ParameterName"].get_string().get(name) != simdjson::SUCCESS ||
              param["ParameterValue"].get_string().get(value) != simdjson::SUCCESS || name.empty())
            return Serialization("processor parameters need ParameterName and ParameterValue strings");
          add("processors." + std::string(type) + "." + std::string(name), std::string(value));
        }
      }
    }
  }
  return std::nullopt;
}

// The one registered kind whose "<Kind>Destination<suffix>" member is in `root`.
std::optional<ApiError> FindDestination(simdjson::dom::object root, std::string_view suffix, const DestinationKind** kind,
                                        simdjson::dom::object* conf) {
  *kind = nullptr;
  std::string names;
  for (const DestinationKind* k : DestinationKinds()) {
    std::string member(k->firehose);
    member.replace(member.rfind("Configuration"), std::string_view("Configuration").size(), suffix);
    names += (names.empty() ? "" : ", ") + member;
    simdjson::dom::element e;
    if (root[member].get(e) != simdjson::SUCCESS) continue;
    if (*kind != nullptr) return InvalidArgument("a delivery stream has exactly one destination configuration");
    if (e.get_object().get(*conf) != simdjson::SUCCESS) return Serialization(member + " must be an object");
    *kind = k;
  }
  if (*kind == nullptr) return InvalidArgument("the request needs one destination: " + names);
  return std::nullopt;
}

}  // namespace

namespace {
// Tags: [{"Key": k, "Value": v}] (1..50 when required; keys 1..128 not aws:, values 0..256).
std::optional<ApiError> ParseTags(simdjson::dom::object root, bool required, ControlInput* out) {
  simdjson::dom::element e;
  if (root["Tags"].get(e) != simdjson::SUCCESS) {
    if (required) return Validation("null", "tags", "Member must not be null");
    return std::nullopt;
  }
  simdjson::dom::array list;
  if (e.get_array().get(list) != simdjson::SUCCESS) return Serialization("Tags must be a list");
  if (list.size() < 1 || list.size() > 50)
    return Validation("<" + std::to_string(list.size()) + " tags>", "tags",
                      "Member must have length less than or equal to 50 and at least 1");
  for (simdjson::dom::element tag : list) {
    std::string_view key, value;
    if (tag["Key"].get_string().get(key) != simdjson::SUCCESS) return Serialization("each tag needs a Key string");
    simdjson::dom::element v;
    if (tag["Value"].get(v) == simdjson::SUCCESS && v.get_string().get(value) != simdjson::SUCCESS)
      return Serialization("a tag's Value must be a string");
    if (key.empty() || key.size() > 128)
      return Validation(Clip(key), "tags.member.key", "Member must have length less than or equal to 128 and at least 1");
    if (key.substr(0, 4) == "aws:") return InvalidArgument("tag keys must not start with aws:");
    if (value.size() > 256)
      return Validation(Clip(value), "tags.member.value", "Member must have length less than or equal to 256");
    out->tags[std::string(key)] = std::string(value);
  }
  return std::nullopt;
}
}  // namespace

std::optional<ApiError> ParseTagInput(std::string_view body, ControlInput* out) {
  std::string copy;
  simdjson::dom::object root;
  std::string_view name;
  if (auto e = ParseNamed(body, &copy, &root, &name)) return e;
  out->stream.assign(name);
  return ParseTags(root, true, out);
}

std::optional<ApiError> ParseUntagInput(std::string_view body, ControlInput* out) {
  std::string copy;
  simdjson::dom::object root;
  std::string_view name;
  if (auto e = ParseNamed(body, &copy, &root, &name)) return e;
  out->stream.assign(name);
  simdjson::dom::element e;
  simdjson::dom::array keys;
  if (root["TagKeys"].get(e) != simdjson::SUCCESS) return Validation("null", "tagKeys", "Member must not be null");
  if (e.get_array().get(keys) != simdjson::SUCCESS) return Serialization("TagKeys must be a list of strings");
  if (keys.size() < 1 || keys.size() > 50)
    return Validation("<" + std::to_string(keys.size()) + " keys>", "tagKeys",
                      "Member must have length less than or equal to 50 and at least 1");
  for (simdjson::dom::element k : keys) {
    std::string_view key;
    if (k.get_string().get(key) != simdjson::SUCCESS) return Serialization("TagKeys must be a list of strings");
    out->tag_keys.emplace_back(key);  // unknown keys are ignored, as Firehose does
  }
  return std::nullopt;
}

std::optional<ApiError> ListTagsForDeliveryStream(std::string_view body, const StreamSet& streams, std::string* out) {
  std::string copy(body);
  simdjson::dom::object root;
  if (auto e = ParseObject(copy, &root)) return e;
  std::string_view name, after;
  if (auto e = GetString(root, "DeliveryStreamName", &name)) return e;
  if (auto e = CheckStreamName(name, "deliveryStreamName")) return e;
  if (auto e = GetString(root, "ExclusiveStartTagKey", &after, false)) return e;
  int64_t limit = 0;
  if (auto e = GetLimit(root, 50, 50, &limit)) return e;
  const StreamInfo* s = streams.Find(name);
  if (s == nullptr)
    return ApiError{400, "ResourceNotFoundException", "Firehose " + std::string(name) + " under account 0 not found."};
  std::string r = "{\"Tags\":[";
  int64_t n = 0;
  bool more = false;
  for (const auto& [k, v] : s->cfg->tags) {  // std::map: keys in order
    if (!after.empty() && k <= after) continue;
    if (n == limit) {
      more = true;
      break;
    }
    r += std::string(n++ ? "," : "") + "{\"Key\":" + Quoted(k) + ",\"Value\":" + Quoted(v) + "}";
  }
  r += std::string("],\"HasMoreTags\":") + (more ? "true" : "false") + "}";
  *out = std::move(r);
  return std::nullopt;
}

std::optional<ApiError> ParseCreateInput(std::string_view body, ControlInput* out) {
  std::string copy(body);
  simdjson::dom::object root;
  if (auto e = ParseObject(copy, &root)) return e;
  std::string_view name, type;
  if (auto e = GetString(root, "DeliveryStreamName", &name)) return e;
  if (auto e = CheckStreamName(name, "deliveryStreamName")) return e;
  if (auto e = GetString(root, "DeliveryStreamType", &type, false)) return e;
  if (!type.empty() && type != "DirectPut")
    return InvalidArgument("DeliveryStreamType " + Clip(type) + " is not supported: Sluice streams are DirectPut");
  if (auto e = ParseTags(root, false, out)) return e;
  const DestinationKind* kind = nullptr;
  simdjson::dom::object conf;
  if (auto e = FindDestination(root, "Configuration", &kind, &conf)) return e;
  out->stream.assign(name);
  out->settings.clear();
  out->settings.emplace_back("destination", std::string(kind->name));
  return SettingsFrom(*kind, conf, out);
}

std::optional<ApiError> ParseUpdateInput(std::string_view body, ControlInput* out) {
  std::string copy(body);
  simdjson::dom::object root;
  if (auto e = ParseObject(copy, &root)) return e;
  std::string_view name, version, destination_id;
  if (auto e = GetString(root, "DeliveryStreamName", &name)) return e;
  if (auto e = CheckStreamName(name, "deliveryStreamName")) return e;
  if (auto e = GetString(root, "CurrentDeliveryStreamVersionId", &version)) return e;
  if (auto e = GetString(root, "DestinationId", &destination_id)) return e;
  if (destination_id != "destinationId-000000000001")
    return InvalidArgument("DestinationId " + Clip(destination_id) + " not found: a Sluice stream's is destinationId-000000000001");
  uint64_t v = 0;
  for (char c : version) {
    if (c < '0' || c > '9' || v > 0xffffffffull / 10) return Validation(Clip(version), "currentDeliveryStreamVersionId",
                                                                       "Member must satisfy regular expression pattern: [0-9]+");
    v = v * 10 + uint64_t(c - '0');
  }
  if (version.empty() || v == 0 || v > 0xffffffffull)
    return Validation(Clip(version), "currentDeliveryStreamVersionId", "Member must satisfy regular expression pattern: [0-9]+");
  const DestinationKind* kind = nullptr;
  simdjson::dom::object conf;
  if (auto e = FindDestination(root, "Update", &kind, &conf)) return e;
  out->stream.assign(name);
  out->expected_version = static_cast<uint32_t>(v);
  out->settings.clear();
  out->settings.emplace_back("destination", std::string(kind->name));
  return SettingsFrom(*kind, conf, out);
}

std::optional<ApiError> ParseDeleteInput(std::string_view body, ControlInput* out) {
  std::string copy;
  simdjson::dom::object root;
  std::string_view name;
  if (auto e = ParseNamed(body, &copy, &root, &name)) return e;
  out->stream.assign(name);
  simdjson::dom::element force;
  if (root["AllowForceDelete"].get(force) == simdjson::SUCCESS && force.get_bool().get(out->force) != simdjson::SUCCESS)
    return Serialization("AllowForceDelete must be a boolean");
  return std::nullopt;
}

Operation ParseOperation(std::string_view target) {
  if (target.substr(0, kTargetPrefix.size()) != kTargetPrefix) return Operation::kUnknown;
  std::string_view op = target.substr(kTargetPrefix.size());
  if (op == "PutRecord") return Operation::kPutRecord;
  if (op == "PutRecordBatch") return Operation::kPutRecordBatch;
  if (op == "DescribeDeliveryStream") return Operation::kDescribeDeliveryStream;
  if (op == "ListDeliveryStreams") return Operation::kListDeliveryStreams;
  if (op == "CreateDeliveryStream") return Operation::kCreateDeliveryStream;
  if (op == "DeleteDeliveryStream") return Operation::kDeleteDeliveryStream;
  if (op == "UpdateDestination") return Operation::kUpdateDestination;
  if (op == "TagDeliveryStream") return Operation::kTagDeliveryStream;
  if (op == "UntagDeliveryStream") return Operation::kUntagDeliveryStream;
  if (op == "ListTagsForDeliveryStream") return Operation::kListTagsForDeliveryStream;
  for (std::string_view known : {"StartDeliveryStreamEncryption", "StopDeliveryStreamEncryption"})
    if (op == known) return Operation::kNotServed;
  return Operation::kUnknown;
}

std::string_view OperationName(std::string_view target) {
  return target.substr(0, kTargetPrefix.size()) == kTargetPrefix ? target.substr(kTargetPrefix.size()) : target;
}

std::string ErrorBody(const ApiError& e) {
  std::string out = "{\"__type\":";
  AppendQuoted(&out, e.type);
  out += ",\"message\":";
  AppendQuoted(&out, e.message);
  out += "}";
  return out;
}

ApiError Validation(std::string_view value, std::string_view member, std::string_view constraint) {
  return {400, "ValidationException",
          "1 validation error detected: Value '" + std::string(value) + "' at '" + std::string(member) +
              "' failed to satisfy constraint: " + std::string(constraint)};
}

std::string StreamArn(std::string_view name) {
  return "arn:sluice:firehose:local:0:deliverystream/" + std::string(name);
}

std::optional<ApiError> ParsePutInput(const std::string& body, bool batch, PutInput* out) {
  simdjson::dom::object root;
  if (auto e = ParseObject(body, &root)) return e;
  std::string_view name;
  if (auto e = GetString(root, "DeliveryStreamName", &name)) return e;
  if (auto e = CheckStreamName(name, "deliveryStreamName")) return e;
  out->stream.assign(name);
  out->data.clear();
  out->ends.clear();
  size_t total = 0;
  if (!batch) {
    simdjson::dom::element rec;
    if (root["Record"].get(rec) != simdjson::SUCCESS) return Validation("null", "record", "Member must not be null");
    return DecodeRecord(rec, 0, false, out, &total);
  }
  simdjson::dom::array records;
  simdjson::dom::element e;
  if (root["Records"].get(e) != simdjson::SUCCESS) return Validation("null", "records", "Member must not be null");
  if (e.get_array().get(records) != simdjson::SUCCESS) return Serialization("Records must be a list");
  const size_t n = records.size();
  if (n < 1 || n > kMaxRecordsPerBatch)
    return Validation("<" + std::to_string(n) + " records>", "records",
                      "Member must have length less than or equal to 500 and at least 1");
  out->ends.reserve(n);
  size_t i = 0;
  for (simdjson::dom::element rec : records) {
    if (auto err = DecodeRecord(rec, i++, true, out, &total)) return err;
    if (total > kMaxBatchBytes)
      return InvalidArgument("the records of one PutRecordBatch call total more than 4 MiB (4194304 bytes) decoded");
  }
  return std::nullopt;
}

std::optional<ApiError> DescribeDeliveryStream(std::string_view body, const StreamSet& streams, std::string* out) {
  std::string copy;
  simdjson::dom::object root;
  std::string_view name;
  if (auto e = ParseNamed(body, &copy, &root, &name)) return e;
  int64_t limit = 0;
  if (auto e = GetLimit(root, 10000, 10000, &limit)) return e;
  const StreamInfo* s = streams.Find(name);
  if (s == nullptr)
    return ApiError{400, "ResourceNotFoundException", "Firehose " + std::string(name) + " under account 0 not found."};
  const StreamConfig& c = *s->cfg;
  std::string d = "{\"DeliveryStreamDescription\":{\"DeliveryStreamName\":";
  AppendQuoted(&d, s->name);
  d += ",\"DeliveryStreamARN\":";
  AppendQuoted(&d, StreamArn(s->name));
  d += ",\"DeliveryStreamStatus\":";
  d += s->accepts_puts() ? "\"ACTIVE\"" : "\"DELETING\"";
  d += ",\"DeliveryStreamEncryptionConfiguration\":{\"Status\":\"DISABLED\"}";
  d += ",\"DeliveryStreamType\":\"DirectPut\",\"VersionId\":\"" + std::to_string(s->version) + "\"";
  d += ",\"CreateTimestamp\":" + Seconds(s->created_ms) + ",\"LastUpdateTimestamp\":" + Seconds(s->updated_ms);
  d += ",\"Destinations\":[{\"DestinationId\":\"destinationId-000000000001\",";
  AppendQuoted(&d, DescriptionName(c.kind() ? c.kind()->firehose : "ExtendedS3DestinationConfiguration"));
  d += ":" + DestinationDescription(c) + "}],\"HasMoreDestinations\":false}}";
  *out = std::move(d);
  return std::nullopt;
}

std::string StreamNameOf(std::string_view body) {
  std::string copy(body);
  simdjson::dom::object root;
  if (ParseObject(copy, &root)) return "";
  std::string_view name;
  if (root["DeliveryStreamName"].get_string().get(name) != simdjson::SUCCESS) return "";
  return std::string(name);
}

std::optional<ApiError> ListDeliveryStreams(std::string_view body, const StreamSet& streams, std::string* out,
                                            const std::function<bool(std::string_view)>& visible) {
  std::string copy(body);
  simdjson::dom::object root;
  if (auto e = ParseObject(copy, &root)) return e;
  int64_t limit = 0;
  if (auto e = GetLimit(root, 10, 10000, &limit)) return e;
  std::string_view after, type;
  if (auto e = GetString(root, "ExclusiveStartDeliveryStreamName", &after, false)) return e;
  if (auto e = GetString(root, "DeliveryStreamType", &type, false)) return e;
  if (!type.empty() && type != "DirectPut" && type != "KinesisStreamAsSource" && type != "MSKAsSource" &&
      type != "DatabaseAsSource")
    return Validation(Clip(type), "deliveryStreamType",
                      "Member must satisfy enum value set: [DirectPut, KinesisStreamAsSource, MSKAsSource, DatabaseAsSource]");
  std::vector<std::string> names;
  // Every Sluice stream is DirectPut: another type filters them all out.
  if (type.empty() || type == "DirectPut")
    streams.ForEach([&](const StreamInfo& s) {
      if ((after.empty() || s.name > after) && (!visible || visible(s.name))) names.push_back(s.name);
    });
  std::sort(names.begin(), names.end());
  const bool more = names.size() > static_cast<size_t>(limit);
  if (more) names.resize(static_cast<size_t>(limit));
  std::string r = "{\"DeliveryStreamNames\":[";
  for (size_t i = 0; i < names.size(); i++) {
    if (i) r.push_back(',');
    AppendQuoted(&r, names[i]);
  }
  r += std::string("],\"HasMoreDeliveryStreams\":") + (more ? "true" : "false") + "}";
  *out = std::move(r);
  return std::nullopt;
}

}  // namespace sluice::server::http
