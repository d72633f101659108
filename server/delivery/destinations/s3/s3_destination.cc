// S3Destination: PUT or multipart upload, with libcurl 7.88's SigV4 (x-amz-content-sha256 set by us, in-memory bodies).
#include "server/delivery/destinations/s3/s3_destination.h"
#include "protocol/sha256.h"

#include <openssl/sha.h>

#include "server/delivery/object_key.h"

namespace sluice::server {
namespace {

std::string Describe(const HttpResponse& r, std::string_view what) {
  if (r.status == 0) return "S3." + std::string(r.timed_out ? "RequestTimeout" : "ConnectionFailed") + ": " +
                            std::string(what) + ": " + r.error;
  std::string code = XmlValue(r.body, "Code"), message = XmlValue(r.body, "Message");
  std::string out = "S3." + (code.empty() ? "HttpStatus" + std::to_string(r.status) : code) + ": " + std::string(what) +
                    " answered " + std::to_string(r.status);
  if (!message.empty()) out += ": " + message.substr(0, 512);
  return out;
}

}  // namespace

std::string S3EscapeKey(std::string_view key) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(key.size());
  for (unsigned char c : key) {
    bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                c == '_' || c == '~' || c == '/';
    if (keep) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string XmlValue(std::string_view xml, std::string_view tag) {
  std::string open, close;
  open.append("<").append(tag).append(">");
  close.append("</").append(tag).append(">");
  size_t a = xml.find(open);
  if (a == std::string_view::npos) return "";
  a += open.size();
  size_t b = xml.find(close, a);
  if (b == std::string_view::npos) return "";
  return std::string(xml.substr(a, b - a));
}

S3Destination::S3Destination(S3Options options)
    : options_(std::move(options)), prefix_(EffectivePrefix(options_.prefix)),
      sigv4_("aws:amz:" + options_.region + ":s3"), client_(options_.http) {}

std::string S3Destination::ObjectUrl(std::string_view key) const {
  std::string endpoint = options_.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (options_.path_style) return endpoint + "/" + options_.bucket + "/" + S3EscapeKey(key);
  size_t scheme = endpoint.find("://");
  size_t host = scheme == std::string::npos ? 0 : scheme + 3;
  return endpoint.substr(0, host) + options_.bucket + "." + endpoint.substr(host) + "/" + S3EscapeKey(key);
}

HttpResponse S3Destination::Request(const std::string& method, const std::string& url, std::string_view body,
                                    std::vector<std::pair<std::string, std::string>> headers) {
  HttpRequest req;
  req.method = method;
  req.url = url;
  req.body = body;
  headers.emplace_back("x-amz-content-sha256", proto::Sha256Hex(body));
  if (!options_.session_token.empty()) headers.emplace_back("x-amz-security-token", options_.session_token);
  req.headers = std::move(headers);
  req.sigv4 = sigv4_;
  req.sigv4_userpwd = options_.access_key_id + ":" + options_.secret_access_key;
  return client_.Send(req);
}

DeliveryResult S3Destination::PutObject(const std::string& url, const DeliveryObject& o) {
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/octet-stream"}};
  if (!o.content_encoding.empty()) headers.emplace_back("Content-Encoding", std::string(o.content_encoding));
  HttpResponse r = Request("PUT", url, o.body, std::move(headers));
  if (r.status == 200) return DeliveryResult::Ok();
  return DeliveryResult::Retry(Describe(r, "PUT"));
}

DeliveryResult S3Destination::Multipart(const std::string& url, const DeliveryObject& o) {
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/octet-stream"}};
  if (!o.content_encoding.empty()) headers.emplace_back("Content-Encoding", std::string(o.content_encoding));
  // Query strings sorted by name and always with '=': curl 7.88 signs them as written.
  HttpResponse start = Request("POST", url + "?uploads=", "", std::move(headers));
  std::string upload_id = XmlValue(start.body, "UploadId");
  if (start.status != 200 || upload_id.empty()) return DeliveryResult::Retry(Describe(start, "CreateMultipartUpload"));
  const std::string id_param = "uploadId=" + S3EscapeKey(upload_id);
  std::string complete = "<CompleteMultipartUpload>";
  DeliveryResult failed = DeliveryResult::Ok();
  size_t part = 1;
  for (size_t off = 0; off < o.body.size(); off += options_.part_size_bytes, part++) {
    std::string_view chunk = o.body.substr(off, options_.part_size_bytes);
    HttpResponse r = Request("PUT", url + "?partNumber=" + std::to_string(part) + "&" + id_param, chunk,
                             {{"Content-Type", "application/octet-stream"}});
    std::string etag(r.Header("etag"));
    if (r.status != 200 || etag.empty()) {
      failed = DeliveryResult::Retry(Describe(r, "UploadPart " + std::to_string(part)));
      break;
    }
    complete += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>" + etag + "</ETag></Part>";
  }
  if (failed.outcome == Outcome::kOk) {
    complete += "</CompleteMultipartUpload>";
    HttpResponse r = Request("POST", url + "?" + id_param, complete, {{"Content-Type", "application/xml"}});
    // S3 may answer 200 and still report an error in the body.
    if (r.status == 200 && XmlValue(r.body, "Code").empty()) return DeliveryResult::Ok();
    failed = DeliveryResult::Retry(Describe(r, "CompleteMultipartUpload"));
  }
  Request("DELETE", url + "?" + id_param, "", {});  // best effort: no orphaned parts
  return failed;
}

base::Status S3Destination::Upload(const std::string& key, std::string_view body) {
  DeliveryObject o;
  o.body = body;
  DeliveryResult r = o.body.size() > options_.multipart_threshold_bytes ? Multipart(ObjectUrl(key), o)
                                                                        : PutObject(ObjectUrl(key), o);
  if (r.outcome == Outcome::kOk) return base::Status::Ok();
  return base::IOError(r.message);
}

DeliveryResult S3Destination::Deliver(const DeliveryObject& o) {
  PrefixContext ctx{o.oldest_arrival_ms, o.segment_id, ""};
  std::string key =
      (o.partitioned ? std::string(o.partition_prefix) : EvaluatePrefix(prefix_, ctx)) + ObjectName(o.stream, o.stream_version, o.oldest_arrival_ms, o.segment_id, o.extension);
  if (key.size() > 1024) return DeliveryResult::Fail("S3.KeyTooLong: the object key is " + std::to_string(key.size()) + " bytes (S3 allows 1024)");
  std::string url = ObjectUrl(key);
  if (o.body.size() > options_.multipart_threshold_bytes) return Multipart(url, o);
  return PutObject(url, o);
}

}  // namespace sluice::server
