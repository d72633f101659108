// The s3 destination kind: an S3-compatible object store, SigV4-signed; also a backup store
// (backup.store = s3).
#include <cstdlib>

#include "server/delivery/destinations/registry.h"
#include "server/delivery/destinations/s3/s3_destination.h"

namespace sluice::server {
namespace {

constexpr Setting kSettings[] = {
    {.key = "endpoint", .type = SettingType::kString, .max = 1000, .format = SettingFormat::kUrl,
     .default_doc = "`https://s3.<region>.amazonaws.com`", .doc = "the service (`http://127.0.0.1:4568` for a local S3-compatible server)"},
    {.key = "region", .type = SettingType::kString, .default_value = "us-east-1", .max = 64,
     .doc = "SigV4 signing region (1..64 characters, no `:` or spaces)"},
    {.key = "bucket", .type = SettingType::kString, .format = SettingFormat::kBucket, .required = true,
     .firehose = "BucketARN", .firehose_prefix = "arn:aws:s3:::", .doc = "the bucket"},
    {.key = "prefix", .type = SettingType::kString, .format = SettingFormat::kPrefix, .firehose = "Prefix",
     .doc = "key prefix, as `directory.prefix`; keys are `<prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<segment id><ext>` "
            "(Firehose's layout, with the segment id where Firehose has a UUID, so a redelivery overwrites the same key)"},
    {.key = "file_extension", .type = SettingType::kString, .format = SettingFormat::kExtension,
     .firehose = "FileExtension", .doc = "replaces the compression's extension"},
    {.key = "path_style", .type = SettingType::kBool, .default_value = "true",
     .doc = "`<endpoint>/<bucket>/<key>`; `false`: `<bucket>.<endpoint host>/<key>`"},
    {.key = "access_key_id", .type = SettingType::kString, .max = 256, .shown_when_empty = "(environment)",
     .default_doc = "`AWS_ACCESS_KEY_ID`", .doc = "credentials: when empty, all three come from sluiced's environment"},
    {.key = "secret_access_key", .type = SettingType::kString, .max = 256, .shown = SettingShown::kSecret,
     .default_doc = "`AWS_SECRET_ACCESS_KEY`", .doc = "shown as `(set)`"},
    {.key = "session_token", .type = SettingType::kString, .max = 4096, .shown = SettingShown::kSecret,
     .default_doc = "`AWS_SESSION_TOKEN`", .doc = "sent as `x-amz-security-token`; shown as `(set)`"},
    {.key = "multipart_threshold_mib", .type = SettingType::kInteger, .default_value = "8", .min = 5, .max = 5120,
     .doc = "objects larger than this are uploaded in parts (aborted on failure)"},
    {.key = "part_size_mib", .type = SettingType::kInteger, .default_value = "8", .min = 5, .max = 5120,
     .doc = "part size of multipart uploads"},
    {.key = "request_timeout_s", .type = SettingType::kInteger, .default_value = "120", .min = 1, .max = 3600,
     .doc = "per request"},
    {.key = "ca_file", .type = SettingType::kString, .max = 4096, .default_doc = "system",
     .doc = "CA bundle for a private CA; certificates are always verified"},
};

constexpr Setting kBackupSettings[] = {
    {.key = "bucket", .type = SettingType::kString, .format = SettingFormat::kBucket, .default_doc = "`s3.bucket`",
     .doc = "bucket of an s3 backup store"},
};

void ApplyDefaults(const std::string&, std::string_view, SettingValues* v) {
  if (v->Str("endpoint").empty()) v->Set("endpoint", "https://s3." + v->Str("region") + ".amazonaws.com");
}

base::Status Validate(const SettingValues& v) {
  const std::string& region = v.Str("region");
  if (region.empty() || region.find(':') != std::string::npos)
    return base::InvalidArgument("s3.region must be 1..64 characters without ':'");
  for (char c : region)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return base::InvalidArgument("s3.region must not contain spaces or control characters");
  return base::Status::Ok();
}

base::Status ValidateBackup(const SettingValues& v, const SettingValues& backup) {
  RETURN_IF_ERROR(Validate(v));
  if (backup.Str("bucket").empty() && v.Str("bucket").empty())
    return base::InvalidArgument("backup.store = s3 needs backup.bucket (or s3.bucket): 3..63 characters of [a-z0-9.-]");
  return base::Status::Ok();
}

S3Options OptionsFrom(const SettingValues& v) {
  auto env = [](const char* name) { const char* e = std::getenv(name); return std::string(e ? e : ""); };
  S3Options o;
  o.endpoint = v.Str("endpoint");
  o.region = v.Str("region");
  o.bucket = v.Str("bucket");
  o.prefix = v.Str("prefix");
  o.path_style = v.Bool("path_style");
  const bool from_config = !v.Str("access_key_id").empty();
  o.access_key_id = from_config ? v.Str("access_key_id") : env("AWS_ACCESS_KEY_ID");
  o.secret_access_key = from_config ? v.Str("secret_access_key") : env("AWS_SECRET_ACCESS_KEY");
  o.session_token = from_config ? v.Str("session_token") : env("AWS_SESSION_TOKEN");
  o.multipart_threshold_bytes = uint64_t(v.Int("multipart_threshold_mib")) << 20;
  o.part_size_bytes = uint64_t(v.Int("part_size_mib")) << 20;
  o.http.request_timeout_ms = static_cast<uint32_t>(v.Int("request_timeout_s")) * 1000;
  o.http.ca_file = v.Str("ca_file");
  o.http.max_response_bytes = 1u << 20;
  return o;
}

std::unique_ptr<Destination> Make(const DestinationContext& ctx) {
  return std::make_unique<S3Destination>(OptionsFrom(ctx.settings));
}

std::shared_ptr<ObjectStore> MakeBackup(const DestinationContext& ctx) {
  S3Options o = OptionsFrom(ctx.settings);
  if (ctx.backup != nullptr && !ctx.backup->Str("bucket").empty()) o.bucket = ctx.backup->Str("bucket");
  return std::make_shared<S3Destination>(std::move(o));
}

}  // namespace

extern const DestinationKind kS3Destination{
    .name = "s3",
    .metric_name = "S3",
    .firehose = "ExtendedS3DestinationConfiguration",
    .summary = "objects in an S3-compatible store, SigV4-signed, keyed as Firehose keys them",
    .settings = kSettings,
    .object_store = true,
    .apply_defaults = ApplyDefaults,
    .validate = Validate,
    .make = Make,
    .make_backup = MakeBackup,
    .backup_settings = kBackupSettings,
    .validate_backup = ValidateBackup,
};

}  // namespace sluice::server
