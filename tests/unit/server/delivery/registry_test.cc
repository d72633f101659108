// The destination registry: every kind's table is consistent, and the generic code (parsing,
// ranges, formats, DESCRIBE rendering, reloadability) follows the tables.
#include <catch2/catch.hpp>

#include <set>

#include "server/config.h"
#include "server/delivery/destinations/registry.h"

using namespace sluice::server;

namespace {
ServerConfig Server() {
  ServerConfig s;
  s.data_dir = "/tmp/d";
  return s;
}
std::string ErrorOf(const std::string& toml) {
  auto r = ParseStreamConfig(toml, "t", Server());
  return r.ok() ? "" : r.status().message();
}
}  // namespace

TEST_CASE("Registry: kinds have unique names and complete, consistent tables", "[server][registry]") {
  std::set<std::string_view> names, metrics;
  REQUIRE(DestinationKinds().size() >= 3);
  for (const DestinationKind* kind : DestinationKinds()) {
    INFO(kind->name);
    CHECK(names.insert(kind->name).second);
    CHECK(metrics.insert(kind->metric_name).second);
    CHECK(FindDestinationKind(kind->name) == kind);
    CHECK(kind->make != nullptr);
    CHECK(!kind->summary.empty());
    CHECK(kind->max_buffer_size_mib >= 1);
    CHECK(kind->default_retry_duration_s <= kind->max_retry_duration_s);
    std::set<std::string_view> keys;
    for (const Setting& s : kind->settings) {
      INFO(s.key);
      CHECK(keys.insert(s.key).second);
      CHECK(!s.doc.empty());
      if (s.type == SettingType::kInteger) {
        CHECK(s.min <= s.max);
        int64_t def = std::stoll(std::string(s.default_value));
        CHECK(def >= s.min);
        CHECK(def <= s.max);
      }
    }
    // The defaults pass the kind's own checks (only `required` keys are missing).
    SettingValues defaults = SettingValues::Defaults(kind->settings);
    CHECK(CheckSettings(kind->name, kind->settings, defaults, false).ok());
  }
  CHECK(FindDestinationKind("nope") == nullptr);
  CHECK(DestinationKindNames() == "directory, s3, http, postgres, opensearch, splunk");
  CHECK(BackupStoreNames() == "directory, s3");
}

TEST_CASE("Registry: a stream's kind section is parsed, typed and range-checked by the table", "[server][registry]") {
  auto ok = ParseStreamConfig("name = \"a\"\ndestination = \"s3\"\n[s3]\nbucket = \"logs\"\npart_size_mib = 16\n"
                              "path_style = false\n", "t", Server());
  REQUIRE(ok.ok());
  CHECK(ok->settings().Int("part_size_mib") == 16);
  CHECK(ok->settings().Bool("path_style") == false);
  CHECK(ok->settings().Str("region") == "us-east-1");  // default
  CHECK(ok->settings().Str("endpoint") == "https://s3.us-east-1.amazonaws.com");  // computed default
  CHECK(ok->kind()->metric_name == "S3");

  CHECK(ErrorOf("name = \"a\"\ndestination = \"kafka\"\n") ==
        "stream 'a': destination must be one of: directory, s3, http, postgres, opensearch, splunk; got 'kafka'");
  CHECK(ErrorOf("name = \"a\"\ndestination = \"s3\"\n") == "stream 'a': s3.bucket is required");
  CHECK(ErrorOf("name = \"a\"\ndestination = \"s3\"\n[s3]\nbucket = \"logs\"\npart_size_mib = 1\n") ==
        "stream 'a': s3.part_size_mib must be 5..5120, got 1");
  CHECK(ErrorOf("name = \"a\"\ndestination = \"s3\"\n[s3]\nbucket = \"logs\"\npart_size_mib = \"x\"\n") ==
        "t:5: s3.part_size_mib must be an integer");
  CHECK(ErrorOf("name = \"a\"\n[s3]\ncolour = 1\n").find("unknown key 'colour' in [stream.s3]") != std::string::npos);
  CHECK(ErrorOf("name = \"a\"\ndestination = \"http\"\n[http]\nurl = \"ftp://x\"\n") ==
        "stream 'a': http.url must start with http:// or https://, got 'ftp://x'");
  CHECK(ErrorOf("name = \"a\"\ndestination = \"http\"\n[http]\nurl = \"http://x\"\ncontent_encoding = \"br\"\n") ==
        "stream 'a': http.content_encoding must be none or gzip, got 'br'");
  CHECK(ErrorOf("name = \"a\"\ndestination = \"http\"\nbuffering = { size_mib = 100 }\n[http]\nurl = \"http://x\"\n") ==
        "stream 'a': buffering.size_mib must be 1..64 for http, got 100");
  // A section of a kind that is not the destination is type-checked only.
  CHECK(ErrorOf("name = \"a\"\n[s3]\npart_size_mib = 1\n").empty());
  // A remote backup store checks its kind's section and its [stream.backup] keys.
  CHECK(ErrorOf("name = \"a\"\n[backup]\nstore = \"s3\"\n") ==
        "stream 'a': backup.store = s3 needs backup.bucket (or s3.bucket): 3..63 characters of [a-z0-9.-]");
  CHECK(ErrorOf("name = \"a\"\n[backup]\nstore = \"http\"\n") ==
        "stream 'a': backup.store must be one of: directory, s3; got 'http'");
  CHECK(ErrorOf("name = \"a\"\n[backup]\nstore = \"s3\"\nbucket = \"B!\"\n") ==
        "stream 'a': backup.bucket must be 3..63 characters of [a-z0-9.-], got 'B!'");
  CHECK(ErrorOf("name = \"a\"\n[backup]\nstore = \"s3\"\nbucket = \"bk\"\n").find("3..63") != std::string::npos);
  CHECK(ErrorOf("name = \"a\"\n[backup]\nstore = \"s3\"\nbucket = \"bkt\"\n").empty());
}

TEST_CASE("Registry: STREAM CREATE keys come from the tables", "[server][registry]") {
  auto text = ApplyStreamSettings("", "a", {{"destination", "http"}, {"http.url", "http://h/x"},
                                            {"http.request_timeout_s", "30"}, {"http.common_attributes.team", "data"}});
  REQUIRE(text.ok());
  auto cfg = ParseStreamConfig(text.value(), "", Server());
  REQUIRE(cfg.ok());
  CHECK(cfg->settings().Int("request_timeout_s") == 30);
  CHECK(cfg->settings().Tbl("common_attributes").at("team") == "data");
  CHECK(cfg->retry_duration_s == 300);  // the kind's default
  auto bad = ApplyStreamSettings("", "a", {{"http.request_timeout_s", "soon"}});
  CHECK(bad.status().message() == "value 'soon' for key 'http.request_timeout_s' must be a non-negative integer");
  auto unknown = ApplyStreamSettings("", "a", {{"s3.colour", "red"}});
  CHECK(unknown.status().message().find("s3.part_size_mib") != std::string::npos);  // the list names the table's keys
}

TEST_CASE("Registry: DESCRIBE shows secrets masked and empty credentials as their source", "[server][registry]") {
  const DestinationKind* s3 = FindDestinationKind("s3");
  REQUIRE(s3 != nullptr);
  SettingValues v = SettingValues::Defaults(s3->settings);
  v.Set("secret_access_key", std::string("hunter2"));
  for (const Setting& s : s3->settings) {
    if (s.key == "secret_access_key") CHECK(ShowSetting(s, v) == "(set)");
    if (s.key == "session_token") CHECK(ShowSetting(s, v).empty());
    if (s.key == "access_key_id") CHECK(ShowSetting(s, v) == "(environment)");
    if (s.key == "part_size_mib") CHECK(ShowSetting(s, v) == "8");
    if (s.key == "path_style") CHECK(ShowSetting(s, v) == "true");
  }
  std::string md = SettingsMarkdown(*s3);
  CHECK(md.find("| `s3.part_size_mib` | `8` | 5..5120 | yes |") != std::string::npos);
  CHECK(md.find("| `backup.bucket` |") != std::string::npos);
}

TEST_CASE("Registry: a setting declared not reloadable cannot change by update", "[server][registry]") {
  static constexpr Setting kSettings[] = {
      {.key = "fixed", .type = SettingType::kString, .reloadable = false, .doc = "d"},
      {.key = "free", .type = SettingType::kString, .doc = "d"},
  };
  static const DestinationKind kFake{.name = "fake", .summary = "s", .settings = kSettings};
  const DestinationKind* kinds[] = {&kFake};
  StreamConfig a;
  a.name = "a";
  a.destination = "fake";
  a.kinds["fake"] = SettingValues::Defaults(kSettings);
  StreamConfig b = a;
  b.kinds["fake"].Set("free", std::string("x"));
  CHECK(CheckReloadable(a, b, kinds).ok());
  b.kinds["fake"].Set("fixed", std::string("y"));
  CHECK(CheckReloadable(a, b, kinds).message() ==
        "stream 'a': fake.fixed cannot change while the stream exists (delete and create it again)");
  CHECK(CheckReloadable(a, b).ok());  // the registered kinds: fake is not among them
}
