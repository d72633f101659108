// HttpEndpointDestination: request building, response validation.
#include "server/delivery/destinations/http/http_endpoint_destination.h"

#include <openssl/evp.h>
#include <simdjson.h>

#include "base/clock.h"
#include "server/delivery/codec.h"
#include "server/encoding/json_escape.h"

namespace sluice::server {
namespace {

constexpr size_t kMaxErrorMessage = 8192;

std::string AttributesJson(const std::map<std::string, std::string>& attrs) {
  std::string out = "{\"commonAttributes\":{";
  bool first = true;
  for (const auto& [k, v] : attrs) {
    out += (first ? "\"" : ",\"") + JsonEscape(k) + "\":\"" + JsonEscape(v) + "\"";
    first = false;
  }
  return out + "}}";
}

std::string Shorten(std::string_view s, size_t n) { return std::string(s.substr(0, n)); }

}  // namespace

std::string EncodeHttpEndpointBody(std::string_view request_id, int64_t timestamp_ms,
                                   std::span<const std::string_view> records) {
  size_t size = 64 + request_id.size();
  for (std::string_view r : records) size += 12 + 4 * ((r.size() + 2) / 3);
  std::string out;
  out.reserve(size);
  out.append("{\"requestId\":\"").append(JsonEscape(request_id)).append("\",\"timestamp\":");
  out.append(std::to_string(timestamp_ms)).append(",\"records\":[");
  for (size_t i = 0; i < records.size(); i++) {
    out.append(i ? ",{\"data\":\"" : "{\"data\":\"");
    size_t at = out.size();
    out.resize(at + 4 * ((records[i].size() + 2) / 3));
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + at),
                            reinterpret_cast<const unsigned char*>(records[i].data()), static_cast<int>(records[i].size()));
    out.resize(at + static_cast<size_t>(n));
    out.append("\"}");
  }
  out.append("]}");
  return out;
}

DeliveryResult ClassifyHttpEndpointResponse(const HttpResponse& r, std::string_view request_id) {
  if (r.status == 0)
    return DeliveryResult::Retry(std::string(r.timed_out   ? "HttpEndpoint.RequestTimeout: "
                                             : r.too_large ? "HttpEndpoint.ResponseTooLarge: "
                                                           : "HttpEndpoint.ConnectionFailed: ") +
                                 r.error);
  // The body, when it is the JSON the protocol asks for: requestId, timestamp, errorMessage.
  std::string echoed, error_message;
  bool well_formed = false;
  {
    // The DOM parser validates the whole document (trailing bytes included) before we look.
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    if (!r.body.empty() && parser.parse(r.body.data(), r.body.size()).get_object().get(obj) == simdjson::SUCCESS) {
      well_formed = true;
      std::string_view value;
      auto id = obj["requestId"];
      if (id.error() == simdjson::SUCCESS) {
        if (id.get_string().get(value) == simdjson::SUCCESS) echoed = value;
        else well_formed = false;
      }
      if (obj["errorMessage"].get_string().get(value) == simdjson::SUCCESS) error_message = Shorten(value, kMaxErrorMessage);
    }
  }
  std::string detail = error_message.empty() ? "" : ": " + error_message;
  if (r.status == 200) {
    if (!well_formed) return DeliveryResult::Retry("HttpEndpoint.InvalidResponseFromDestination: status 200 with a body that is not the protocol's JSON");
    if (echoed != request_id)
      return DeliveryResult::Retry("HttpEndpoint.InvalidResponseFromDestination: the response's requestId '" +
                                   Shorten(echoed, 128) + "' is not the request's '" + std::string(request_id) + "'");
    return DeliveryResult::Ok();
  }
  std::string what = "HttpEndpoint.DestinationException: status " + std::to_string(r.status) + detail;
  if (r.status == 413) return DeliveryResult::Fail("HttpEndpoint.PayloadTooLarge: status 413" + detail);
  return DeliveryResult::Retry(what);
}

HttpEndpointDestination::HttpEndpointDestination(HttpEndpointOptions options)
    : options_(std::move(options)), common_attributes_json_(AttributesJson(options_.common_attributes)),
      client_(options_.http) {}

DeliveryResult HttpEndpointDestination::Post(const std::string& request_id, std::span<const std::string_view> records) {
  std::string body = EncodeHttpEndpointBody(request_id, base::Clock::Real()->NowUnixMillis(), records);
  HttpRequest req;
  req.method = "POST";
  req.url = options_.url;
  req.headers = {{"X-Amz-Firehose-Protocol-Version", "1.0"},
                 {"X-Amz-Firehose-Request-Id", request_id},
                 {"X-Amz-Firehose-Common-Attributes", common_attributes_json_},
                 {"Content-Type", "application/json"}};
  if (!options_.access_key.empty()) req.headers.emplace_back("X-Amz-Firehose-Access-Key", options_.access_key);
  if (!options_.source_arn.empty()) req.headers.emplace_back("X-Amz-Firehose-Source-Arn", options_.source_arn);
  std::string compressed;
  if (options_.gzip) {
    auto gz = Compress(Compression::kGzip, body);
    if (!gz.ok()) return DeliveryResult::Retry(gz.status().ToString());
    compressed = std::move(gz).value();
    req.headers.emplace_back("Content-Encoding", "gzip");
    req.body = compressed;
  } else {
    req.body = body;
  }
  return ClassifyHttpEndpointResponse(client_.Send(req), request_id);
}

DeliveryResult HttpEndpointDestination::Deliver(const DeliveryObject& o) {
  const size_t per = options_.max_records_per_request;
  const size_t parts = (o.records.size() + per - 1) / per;
  for (size_t part = 0; part < parts; part++) {
    std::string id(o.segment_id);
    if (parts > 1) id.append("-").append(std::to_string(part));
    DeliveryResult r = Post(id, o.records.subspan(part * per, std::min(per, o.records.size() - part * per)));
    if (r.outcome != Outcome::kOk) {
      if (parts > 1) {
        std::string where = "part ";
        where.append(std::to_string(part + 1)).append(" of ").append(std::to_string(parts)).append(": ");
        r.message.insert(0, where);
      }
      return r;  // parts already delivered are sent again with the same request ids on retry
    }
  }
  return DeliveryResult::Ok();
}

}  // namespace sluice::server
