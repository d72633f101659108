// S3Destination: objects in an S3-compatible store, signed by libcurl's SigV4 (CURLOPT_AWS_SIGV4), path-style or virtual-host keys.
#pragma once

#include <string>

#include "server/delivery/destination.h"
#include "server/net/http_client.h"

namespace sluice::server {

struct S3Options {
  std::string endpoint;  // "https://s3.us-east-1.amazonaws.com" or "http://127.0.0.1:4568"
  std::string region = "us-east-1";
  std::string bucket;
  std::string prefix;    // validated prefix expression (EffectivePrefix applies)
  bool path_style = true;  // <endpoint>/<bucket>/<key>; false: <bucket>.<endpoint host>/<key>
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  uint64_t multipart_threshold_bytes = 8u << 20;
  uint64_t part_size_bytes = 8u << 20;
  HttpClientOptions http;
};

// Key: <evaluated prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<segment id><ext>, from the
// oldest record's arrival time, so a redelivered segment overwrites the same object. Bodies up to
// the threshold are one PUT; larger ones a multipart upload (aborted on failure). Every request
// carries x-amz-content-sha256 = the body's SHA-256 (libcurl 7.88 would sign sha256("") or omit
// it), query strings are written sorted with '=' (curl signs them as written), Expect is left
// to curl (a removed Expect header would still be signed). Any failure is kRetry: Firehose keeps
// retrying S3 for the retry duration, and most S3 errors (throttling, credentials, a missing
// bucket) are fixed outside Sluice.
// Thread: thread-safe.
class S3Destination final : public Destination, public ObjectStore {
 public:
  explicit S3Destination(S3Options options);
  DeliveryResult Deliver(const DeliveryObject& object) override;
  std::string_view kind() const override { return "S3"; }
  std::string_view error_output_type() const override { return "s3-failed"; }

  // Writes `body` under `key` (PUT, or multipart above the threshold). kIOError says why.
  base::Status Upload(const std::string& key, std::string_view body) override;
  std::string Location() const override { return "s3://" + options_.bucket + "/"; }
  // "<endpoint>/<bucket>/<escaped key>" (path style) for `key`.
  std::string ObjectUrl(std::string_view key) const;

 private:
  HttpResponse Request(const std::string& method, const std::string& url, std::string_view body,
                       std::vector<std::pair<std::string, std::string>> headers);
  DeliveryResult PutObject(const std::string& url, const DeliveryObject& o);
  DeliveryResult Multipart(const std::string& url, const DeliveryObject& o);

  const S3Options options_;
  const std::string prefix_;
  const std::string sigv4_;
  HttpClient client_;
};

// AWS's URI encoding of an object key: every byte but A-Za-z0-9-._~ and '/' as %XX.
std::string S3EscapeKey(std::string_view key);
// The text of the first <tag>...</tag> in an S3 XML answer ("" when absent).
std::string XmlValue(std::string_view xml, std::string_view tag);

}  // namespace sluice::server
