// The splunk destination kind: Splunk's HTTP Event Collector with indexer acknowledgement, as
// Firehose's SplunkDestinationConfiguration (metrics DeliveryToSplunk.*).
#include <random>

#include "server/delivery/destinations/registry.h"
#include "server/delivery/destinations/splunk/splunk_destination.h"

namespace sluice::server {
namespace {

constexpr Setting kSettings[] = {
    {.key = "endpoint", .type = SettingType::kString, .max = 1000, .format = SettingFormat::kUrl, .required = true,
     .firehose = "HECEndpoint", .doc = "the HEC (`https://splunk.internal:8088`); `/services/collector/...` is appended"},
    {.key = "endpoint_type", .type = SettingType::kString, .default_value = "Raw", .format = SettingFormat::kChoice,
     .choices = "Raw|Event", .firehose = "HECEndpointType",
     .doc = "`Raw`: records one per line to `/services/collector/raw`; `Event`: to `/services/collector/event`, "
            "a record that is a JSON object with `event` as it is, any other as `{\"time\", \"event\": \"<record>\"}`"},
    {.key = "token", .type = SettingType::kString, .max = 256, .required = true, .shown = SettingShown::kSecret,
     .firehose = "HECToken", .doc = "the HEC token (`Authorization: Splunk <token>`); shown as `(set)`"},
    {.key = "ack_timeout_s", .type = SettingType::kInteger, .default_value = "180", .min = 1, .max = 600,
     .firehose = "HECAcknowledgmentTimeoutInSeconds",
     .doc = "how long to wait for the indexer acknowledgement before sending again (Firehose allows 180..600)"},
    {.key = "channel", .type = SettingType::kString, .max = 64, .default_doc = "a new GUID per start",
     .doc = "`X-Splunk-Request-Channel`"},
    {.key = "request_timeout_s", .type = SettingType::kInteger, .default_value = "60", .min = 1, .max = 600,
     .doc = "one request"},
    {.key = "max_request_kib", .type = SettingType::kInteger, .default_value = "1024", .min = 1, .max = 819200,
     .doc = "a segment larger than this goes in several requests (HEC's `max_content_length` must allow it)"},
    {.key = "ca_file", .type = SettingType::kString, .max = 4096, .default_doc = "system",
     .doc = "CA bundle for a private CA; certificates are always verified"},
};

std::string NewGuid() {
  std::random_device rd;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string g = "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx";
  for (char& c : g)
    if (c == 'x') c = "0123456789abcdef"[hex(rd)];
  return g;
}

base::Status Validate(const SettingValues& v) {
  for (char c : v.Str("token"))
    if (c < 0x21 || c > 0x7e) return base::InvalidArgument("splunk.token must be printable ASCII without spaces");
  for (char c : v.Str("channel"))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-'))
      return base::InvalidArgument("splunk.channel must be a GUID (hex digits and dashes)");
  return base::Status::Ok();
}

std::unique_ptr<Destination> Make(const DestinationContext& ctx) {
  const SettingValues& v = ctx.settings;
  SplunkOptions o;
  o.endpoint = v.Str("endpoint");
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  o.event_endpoint = v.Str("endpoint_type") == "Event";
  o.token = v.Str("token");
  o.channel = v.Str("channel").empty() ? NewGuid() : v.Str("channel");
  o.ack_timeout_ms = static_cast<uint32_t>(v.Int("ack_timeout_s")) * 1000;
  o.max_request_bytes = static_cast<size_t>(v.Int("max_request_kib")) << 10;
  o.http.request_timeout_ms = static_cast<uint32_t>(v.Int("request_timeout_s")) * 1000;
  o.http.ca_file = v.Str("ca_file");
  return std::make_unique<SplunkDestination>(std::move(o));
}

}  // namespace

extern const DestinationKind kSplunkDestination{
    .name = "splunk",
    .metric_name = "Splunk",
    .firehose = "SplunkDestinationConfiguration",
    .summary = "events sent to Splunk's HTTP Event Collector, delivered once the indexer acknowledges them",
    .settings = kSettings,
    .max_buffer_size_mib = 5,
    .max_retry_duration_s = 7200,
    .default_retry_duration_s = 300,
    .validate = Validate,
    .make = Make,
};

}  // namespace sluice::server
