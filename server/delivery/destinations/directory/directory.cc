// The directory destination kind: objects under a local directory, laid out like Firehose's S3
// keys (the embedded default).
#include "server/delivery/destinations/directory/directory_destination.h"
#include "server/delivery/destinations/registry.h"

namespace sluice::server {
namespace {

constexpr Setting kSettings[] = {
    {.key = "path", .type = SettingType::kString, .max = 4096,
     .default_doc = "`<data_dir>/delivered/<name>`", .doc = "root of delivered objects"},
    {.key = "prefix", .type = SettingType::kString, .format = SettingFormat::kPrefix, .firehose = "Prefix",
     .doc = "prefix of object keys; `\"\"` means `!{timestamp:yyyy/MM/dd/HH/}`, and a prefix without a timestamp "
            "expression gets it appended (plain concatenation, as Firehose)"},
    {.key = "file_extension", .type = SettingType::kString, .format = SettingFormat::kExtension,
     .firehose = "FileExtension", .doc = "replaces the compression's extension"},
};

void ApplyDefaults(const std::string& data_dir, std::string_view stream, SettingValues* v) {
  if (v->Str("path").empty()) v->Set("path", data_dir + "/delivered/" + std::string(stream));
}

std::unique_ptr<Destination> Make(const DestinationContext& ctx) {
  return std::make_unique<DirectoryDestination>(ctx.settings.Str("path"), ctx.settings.Str("prefix"));
}

}  // namespace

extern const DestinationKind kDirectoryDestination{
    .name = "directory",
    .metric_name = "Directory",
    // A Sluice extension of the Firehose API (CreateDeliveryStream takes
    // DirectoryDestinationConfiguration); the path is not settable there, only the layout.
    .firehose = "DirectoryDestinationConfiguration",
    .summary = "objects in a local directory, named and laid out as Firehose names S3 objects (the embedded default)",
    .settings = kSettings,
    .object_store = true,
    .apply_defaults = ApplyDefaults,
    .make = Make,
};

}  // namespace sluice::server
