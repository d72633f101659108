// The destination registry: the list of kinds (kinds.inc) and the generic handling of their
// settings tables.
#include "server/delivery/destinations/registry.h"

#include "base/check.h"
#include "server/delivery/object_key.h"

namespace sluice::server {

// Each kind's folder defines its entry; kinds.inc names them, one line each.
#define SLUICE_DESTINATION(kind) extern const DestinationKind kind;
#include "server/delivery/destinations/kinds.inc"
#undef SLUICE_DESTINATION

namespace {

constexpr const DestinationKind* kKinds[] = {
#define SLUICE_DESTINATION(kind) &kind,
#include "server/delivery/destinations/kinds.inc"
#undef SLUICE_DESTINATION
};

bool IsValidBucket(std::string_view b) {
  bool ok = b.size() >= 3 && b.size() <= 63;
  for (char c : b) ok &= (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  return ok;
}

bool IsValidExtension(std::string_view ext) {
  if (ext.size() > 128 || ext[0] != '.') return false;
  for (char c : ext.substr(1)) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || std::string_view("!-_.*'()").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool IsChoice(std::string_view choices, std::string_view v) {
  while (!choices.empty()) {
    size_t bar = choices.find('|');
    if (choices.substr(0, bar) == v) return true;
    if (bar == std::string_view::npos) break;
    choices.remove_prefix(bar + 1);
  }
  return false;
}

std::string Clip(std::string_view v, size_t n = 100) { return std::string(v.substr(0, n)); }

base::Status CheckString(std::string_view name, const Setting& s, const std::string& v) {
  switch (s.format) {
    case SettingFormat::kText:
      if (s.max > 0 && v.size() > static_cast<uint64_t>(s.max))
        return base::InvalidArgument(std::string(name) + " must be at most " + std::to_string(s.max) + " bytes");
      for (char c : v)
        if (c == '\r' || c == '\n' || c == '\0')
          return base::InvalidArgument(std::string(name) + " must not contain line breaks or NUL");
      return base::Status::Ok();
    case SettingFormat::kUrl:
      if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0)
        return base::InvalidArgument(std::string(name) + " must start with http:// or https://, got '" + Clip(v) + "'");
      if (s.max > 0 && v.size() > static_cast<uint64_t>(s.max))
        return base::InvalidArgument(std::string(name) + " must be at most " + std::to_string(s.max) + " characters");
      for (char c : v)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
          return base::InvalidArgument(std::string(name) + " must not contain spaces or control characters");
      return base::Status::Ok();
    case SettingFormat::kBucket:
      if (!IsValidBucket(v))
        return base::InvalidArgument(std::string(name) + " must be 3..63 characters of [a-z0-9.-], got '" + Clip(v, 80) + "'");
      return base::Status::Ok();
    case SettingFormat::kPrefix:
      return ValidatePrefix(v, false).WithContext(std::string(name));
    case SettingFormat::kExtension:
      if (!IsValidExtension(v))
        return base::InvalidArgument(std::string(name) + " must match ^$|\\.[0-9a-z!\\-_.*'()]+ (at most 128), got '" +
                                     Clip(v) + "'");
      return base::Status::Ok();
    case SettingFormat::kChoice:
      if (!IsChoice(s.choices, v)) {
        // "a|b|c" -> "a, b or c"
        std::string list(s.choices);
        size_t last = list.rfind('|');
        if (last != std::string::npos) list.replace(last, 1, " or ");
        for (size_t at = list.find('|'); at != std::string::npos; at = list.find('|')) list.replace(at, 1, ", ");
        return base::InvalidArgument(std::string(name) + " must be " + list + ", got '" + Clip(v, 64) + "'");
      }
      return base::Status::Ok();
  }
  return base::Status::Ok();
}

const SettingValues::Value* Lookup(const std::map<std::string, SettingValues::Value, std::less<>>& m,
                                   std::string_view key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

}  // namespace

SettingValues SettingValues::Defaults(std::span<const Setting> settings) {
  SettingValues out;
  for (const Setting& s : settings) {
    switch (s.type) {
      case SettingType::kString: out.Set(s.key, std::string(s.default_value)); break;
      case SettingType::kInteger: out.Set(s.key, static_cast<int64_t>(std::stoll(std::string(s.default_value)))); break;
      case SettingType::kBool: out.Set(s.key, s.default_value == "true"); break;
      case SettingType::kTable: out.Set(s.key, Table{}); break;
    }
  }
  return out;
}

const SettingValues::Value* SettingValues::Find(std::string_view key) const { return Lookup(values_, key); }

template <typename T>
static const T& As(const SettingValues& v, std::string_view key) {
  static const T kEmpty{};
  const SettingValues::Value* p = v.Find(key);
  const T* t = p ? std::get_if<T>(p) : nullptr;
  SLUICE_DCHECK(t != nullptr);  // a kind reads a key its table does not declare with that type
  return t ? *t : kEmpty;
}

const std::string& SettingValues::Str(std::string_view key) const { return As<std::string>(*this, key); }
int64_t SettingValues::Int(std::string_view key) const { return As<int64_t>(*this, key); }
bool SettingValues::Bool(std::string_view key) const { return As<bool>(*this, key); }
const SettingValues::Table& SettingValues::Tbl(std::string_view key) const { return As<Table>(*this, key); }

std::span<const DestinationKind* const> DestinationKinds() { return kKinds; }

const DestinationKind* FindDestinationKind(std::string_view name) {
  for (const DestinationKind* k : kKinds)
    if (k->name == name) return k;
  return nullptr;
}

std::string DestinationKindNames() {
  std::string out;
  for (const DestinationKind* k : kKinds) out += (out.empty() ? "" : ", ") + std::string(k->name);
  return out;
}

std::string BackupStoreNames() {
  std::string out = "directory";
  for (const DestinationKind* k : kKinds)
    if (k->make_backup != nullptr) out += ", " + std::string(k->name);
  return out;
}

base::Status CheckSettings(std::string_view section, std::span<const Setting> settings,
                           const SettingValues& values, bool as_destination) {
  for (const Setting& s : settings) {
    const std::string name = std::string(section) + "." + std::string(s.key);
    const SettingValues::Value* v = values.Find(s.key);
    if (v == nullptr) continue;
    if (const auto* i = std::get_if<int64_t>(v)) {
      if (*i < s.min || *i > s.max)
        return base::InvalidArgument(name + " must be " + std::to_string(s.min) + ".." + std::to_string(s.max) +
                                     ", got " + std::to_string(*i));
    } else if (const auto* str = std::get_if<std::string>(v)) {
      if (str->empty()) {
        if (s.required && as_destination) return base::InvalidArgument(name + " is required");
        continue;
      }
      RETURN_IF_ERROR(CheckString(name, s, *str));
    } else if (const auto* t = std::get_if<SettingValues::Table>(v)) {
      if (s.max > 0 && t->size() > static_cast<uint64_t>(s.max))
        return base::InvalidArgument(name + " may have at most " + std::to_string(s.max) + " entries");
      for (const auto& [k, val] : *t) {
        if (k.empty() || k.size() > 256 || val.size() > 1024)
          return base::InvalidArgument(name + ": names are 1..256 characters, values 0..1024");
        for (char c : k + val)
          if (c == '\r' || c == '\n' || c == '\0')
            return base::InvalidArgument(name + ": names and values must not contain line breaks or NUL");
      }
    }
  }
  return base::Status::Ok();
}

std::string ShowSetting(const Setting& s, const SettingValues& values) {
  const SettingValues::Value* v = values.Find(s.key);
  if (v == nullptr) return "";
  if (const auto* i = std::get_if<int64_t>(v)) return std::to_string(*i);
  if (const auto* b = std::get_if<bool>(v)) return *b ? "true" : "false";
  if (const auto* str = std::get_if<std::string>(v)) {
    if (str->empty()) return std::string(s.shown_when_empty);
    return s.shown == SettingShown::kSecret ? "(set)" : *str;
  }
  return "";  // tables are shown entry by entry (<key>.<name>)
}

std::string SettingRangeDoc(const Setting& s) {
  switch (s.type) {
    case SettingType::kInteger: return std::to_string(s.min) + ".." + std::to_string(s.max);
    case SettingType::kBool: return "bool";
    case SettingType::kTable:
      return "≤ " + std::to_string(s.max) + " entries; names 1..256, values 0..1024";
    case SettingType::kString: break;
  }
  const std::string len = s.max > 0 ? ", ≤ " + std::to_string(s.max) : "";
  switch (s.format) {
    case SettingFormat::kText: return s.max > 0 ? "≤ " + std::to_string(s.max) + " bytes" : "";
    case SettingFormat::kUrl: return "`http://` or `https://`" + len;
    case SettingFormat::kBucket: return "3..63 of `[a-z0-9.-]`";
    case SettingFormat::kPrefix: return "prefix expression, ≤ 512";
    case SettingFormat::kExtension: return "`^$\\|\\.[0-9a-z!\\-_.*'()]+`, ≤ 128";
    case SettingFormat::kChoice: {
      std::string out, c(s.choices);
      size_t from = 0;
      while (from <= c.size()) {
        size_t bar = c.find('|', from);
        out += (out.empty() ? "`" : ", `") + c.substr(from, bar - from) + "`";
        if (bar == std::string::npos) break;
        from = bar + 1;
      }
      return out;
    }
  }
  return "";
}

std::string SettingsMarkdown(const DestinationKind& kind) {
  auto row = [](std::string_view section, const Setting& s) {
    std::string def = !s.default_doc.empty() ? std::string(s.default_doc)
                      : s.required           ? "required"
                      : s.type == SettingType::kString && s.default_value.empty() ? "`\"\"`"
                      : s.type == SettingType::kTable                             ? "none"
                                                                                  : "`" + std::string(s.default_value) + "`";
    return "| `" + std::string(section) + "." + std::string(s.key) + "` | " + def + " | " + SettingRangeDoc(s) + " | " +
           (s.reloadable ? "yes" : "no") + " | " + (s.firehose.empty() ? "" : "`" + std::string(s.firehose) + "`") +
           " | " + std::string(s.doc) + " |\n";
  };
  std::string out = "`destination = \"" + std::string(kind.name) + "\"`: " + std::string(kind.summary) + " (Firehose: `" +
                    std::string(kind.firehose) + "`). `buffering.size_mib` 1.." + std::to_string(kind.max_buffer_size_mib) +
                    ", `retry_duration_s` 0.." + std::to_string(kind.max_retry_duration_s) + " (default " +
                    std::to_string(kind.default_retry_duration_s) + "); metrics `DeliveryTo" + std::string(kind.metric_name) +
                    ".*`" + (kind.make_backup ? "; also a backup store (`backup.store = \"" + std::string(kind.name) + "\"`)" : std::string()) +
                    ".\n\n| key | default | range | reloadable | Firehose | meaning |\n|---|---|---|---|---|---|\n";
  for (const Setting& s : kind.settings) out += row(kind.name, s);
  for (const Setting& s : kind.backup_settings) out += row("backup", s);
  return out;
}

}  // namespace sluice::server
