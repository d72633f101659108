// The http destination kind: Firehose's HTTP endpoint delivery protocol 1.0.
#include "server/delivery/destinations/http/http_endpoint_destination.h"
#include "server/delivery/destinations/registry.h"

namespace sluice::server {
namespace {

constexpr Setting kSettings[] = {
    {.key = "url", .type = SettingType::kString, .max = 1000, .format = SettingFormat::kUrl, .required = true,
     .firehose = "EndpointConfiguration.Url", .doc = "POSTed to exactly as written (path and query kept)"},
    {.key = "name", .type = SettingType::kString, .max = 256, .firehose = "EndpointConfiguration.Name",
     .doc = "display name"},
    {.key = "access_key", .type = SettingType::kString, .max = 4096, .shown = SettingShown::kSecret,
     .firehose = "EndpointConfiguration.AccessKey",
     .default_doc = "none", .doc = "`X-Amz-Firehose-Access-Key`, verbatim; shown as `(set)`"},
    {.key = "content_encoding", .type = SettingType::kString, .default_value = "none", .format = SettingFormat::kChoice,
     .choices = "none|gzip", .firehose = "RequestConfiguration.ContentEncoding",
     .doc = "request body compression (`Content-Encoding: gzip`)"},
    {.key = "common_attributes", .type = SettingType::kTable, .max = 50,
     .firehose = "RequestConfiguration.CommonAttributes",
     .doc = "`X-Amz-Firehose-Common-Attributes`; admin: `http.common_attributes.<name> value` (`\"\"` removes)"},
    {.key = "request_timeout_s", .type = SettingType::kInteger, .default_value = "180", .min = 1, .max = 600,
     .doc = "whole request (Firehose gives endpoints 3 minutes)"},
    {.key = "ca_file", .type = SettingType::kString, .max = 4096, .default_doc = "system",
     .doc = "CA bundle for a private CA; certificates are always verified"},
};

std::unique_ptr<Destination> Make(const DestinationContext& ctx) {
  const SettingValues& v = ctx.settings;
  HttpEndpointOptions o;
  o.url = v.Str("url");
  o.access_key = v.Str("access_key");
  o.common_attributes = v.Tbl("common_attributes");
  o.gzip = v.Str("content_encoding") == "gzip";
  o.source_arn = "arn:sluice:firehose:local:0:deliverystream/" + std::string(ctx.stream);
  o.http.request_timeout_ms = static_cast<uint32_t>(v.Int("request_timeout_s")) * 1000;
  o.http.ca_file = v.Str("ca_file");
  return std::make_unique<HttpEndpointDestination>(std::move(o));
}

}  // namespace

extern const DestinationKind kHttpEndpointDestination{
    .name = "http",
    .metric_name = "HttpEndpoint",
    .firehose = "HttpEndpointDestinationConfiguration",
    .summary = "Firehose's HTTP endpoint delivery protocol 1.0: records POSTed as JSON, base64-encoded",
    .settings = kSettings,
    .max_buffer_size_mib = 64,
    .max_retry_duration_s = 7200,
    .default_retry_duration_s = 300,
    .make = Make,
};

}  // namespace sluice::server
