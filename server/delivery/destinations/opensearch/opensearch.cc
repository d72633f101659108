// The opensearch destination kind: the `_bulk` API of OpenSearch and Elasticsearch, as Firehose's
// AmazonopensearchserviceDestinationConfiguration (metrics DeliveryToAmazonOpenSearchService.*).
#include "server/delivery/destinations/opensearch/opensearch_destination.h"
#include "server/delivery/destinations/registry.h"

namespace sluice::server {
namespace {

constexpr Setting kSettings[] = {
    {.key = "endpoint", .type = SettingType::kString, .max = 1000, .format = SettingFormat::kUrl, .required = true,
     .firehose = "ClusterEndpoint", .doc = "the cluster (`https://search.internal:9200`); requests go to `<endpoint>/_bulk`"},
    {.key = "index", .type = SettingType::kString, .max = 80, .required = true, .firehose = "IndexName",
     .doc = "index name (lower case; the rotation suffix is appended)"},
    {.key = "index_rotation", .type = SettingType::kString, .default_value = "OneDay", .format = SettingFormat::kChoice,
     .choices = "NoRotation|OneHour|OneDay|OneWeek|OneMonth", .firehose = "IndexRotationPeriod",
     .doc = "appends the record's UTC arrival time: `-yyyy-MM-dd-HH`, `-yyyy-MM-dd`, `-yyyy-wWW` (US weeks), `-yyyy-MM`"},
    {.key = "type_name", .type = SettingType::kString, .max = 100, .firehose = "TypeName",
     .doc = "`_type` for Elasticsearch 6.x; leave empty for 7.x and OpenSearch"},
    {.key = "document_id", .type = SettingType::kString, .default_value = "FIREHOSE_DEFAULT", .format = SettingFormat::kChoice,
     .choices = "FIREHOSE_DEFAULT|NO_DOCUMENT_ID", .firehose = "DocumentIdOptions.DefaultDocumentIdFormat",
     .doc = "`FIREHOSE_DEFAULT`: `<segment id>.<n>`, the same on every retry and after a restart (a re-index replaces); "
            "`NO_DOCUMENT_ID`: the server picks (a retry can duplicate)"},
    {.key = "username", .type = SettingType::kString, .max = 512, .doc = "HTTP Basic authentication user (none when empty)"},
    {.key = "password", .type = SettingType::kString, .max = 512, .shown = SettingShown::kSecret,
     .doc = "HTTP Basic authentication password; shown as `(set)`"},
    {.key = "request_timeout_s", .type = SettingType::kInteger, .default_value = "60", .min = 1, .max = 600,
     .doc = "one bulk request"},
    {.key = "max_request_mib", .type = SettingType::kInteger, .default_value = "10", .min = 1, .max = 100,
     .doc = "a segment larger than this goes in several bulk requests"},
    {.key = "ca_file", .type = SettingType::kString, .max = 4096, .default_doc = "system",
     .doc = "CA bundle for a private CA; certificates are always verified"},
};

base::Status Validate(const SettingValues& v) {
  const std::string& index = v.Str("index");
  for (char c : index)
    if ((c >= 'A' && c <= 'Z') || c == ' ' || c == '"' || c == '*' || c == '\\' || c == '/' || c == '<' || c == '>' ||
        c == '|' || c == '?' || c == ',' || c == '#' || c == ':')
      return base::InvalidArgument("opensearch.index must be lower case without spaces or any of \" * \\ / < > | ? , # :");
  if (!index.empty() && (index[0] == '_' || index[0] == '-' || index[0] == '+'))
    return base::InvalidArgument("opensearch.index must not begin with _, - or +");
  if (!v.Str("password").empty() && v.Str("username").empty())
    return base::InvalidArgument("opensearch.password needs opensearch.username");
  return base::Status::Ok();
}

std::unique_ptr<Destination> Make(const DestinationContext& ctx) {
  const SettingValues& v = ctx.settings;
  OpenSearchOptions o;
  o.endpoint = v.Str("endpoint");
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  o.index = v.Str("index");
  const std::string& r = v.Str("index_rotation");
  o.rotation = r == "NoRotation" ? IndexRotation::kNoRotation
               : r == "OneHour"  ? IndexRotation::kOneHour
               : r == "OneWeek"  ? IndexRotation::kOneWeek
               : r == "OneMonth" ? IndexRotation::kOneMonth
                                 : IndexRotation::kOneDay;
  o.type_name = v.Str("type_name");
  o.document_ids = v.Str("document_id") == "FIREHOSE_DEFAULT";
  o.username = v.Str("username");
  o.password = v.Str("password");
  o.max_request_bytes = static_cast<size_t>(v.Int("max_request_mib")) << 20;
  o.http.request_timeout_ms = static_cast<uint32_t>(v.Int("request_timeout_s")) * 1000;
  o.http.ca_file = v.Str("ca_file");
  o.http.max_response_bytes = 64u << 20;  // one item per document
  return std::make_unique<OpenSearchDestination>(std::move(o));
}

}  // namespace

extern const DestinationKind kOpenSearchDestination{
    .name = "opensearch",
    .metric_name = "AmazonOpenSearchService",
    .firehose = "AmazonopensearchserviceDestinationConfiguration",
    .summary = "documents indexed through the `_bulk` API of OpenSearch or Elasticsearch, one per record",
    .settings = kSettings,
    .max_buffer_size_mib = 100,
    .max_retry_duration_s = 7200,
    .default_retry_duration_s = 300,
    .validate = Validate,
    .make = Make,
};

}  // namespace sluice::server
