// SigV4 signing steps (AWS's "Create a signed AWS API request").
#include "protocol/sigv4.h"

#include <algorithm>
#include <ctime>

#include "protocol/sha256.h"

namespace sluice::proto {
namespace {

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

}  // namespace

std::optional<std::string> CanonicalHeaderValue(const SignedRequest& r, std::string_view name) {
  std::optional<std::string> out;
  for (const auto& [k, v] : *r.headers) {
    if (k != name) continue;
    std::string one;
    bool space = false;
    for (char c : Trim(v)) {
      if (c == ' ' || c == '\t') {
        space = true;
        continue;
      }
      if (space && !one.empty()) one.push_back(' ');
      space = false;
      one.push_back(c);
    }
    out = out ? *out + "," + one : one;
  }
  return out;
}

std::string AmzDate(int64_t ms) {
  time_t t = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[20];
  strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string StringToSign(const SignedRequest& r, std::string_view amz_date, std::string_view scope,
                         std::string_view signed_headers, std::string_view payload_hash) {
  std::string canonical;
  canonical.reserve(512);
  canonical.append(r.method).push_back('\n');
  canonical.append(r.path).push_back('\n');
  canonical.push_back('\n');  // no query string: the API is POST /
  std::string_view names = signed_headers;
  while (!names.empty()) {
    size_t semi = names.find(';');
    std::string_view name = names.substr(0, semi);
    names = semi == std::string_view::npos ? std::string_view() : names.substr(semi + 1);
    canonical.append(name).push_back(':');
    canonical.append(CanonicalHeaderValue(r, name).value_or("")).push_back('\n');
  }
  canonical.push_back('\n');
  canonical.append(signed_headers).push_back('\n');
  canonical.append(payload_hash);
  return std::string(kSigV4Algorithm) + "\n" + std::string(amz_date) + "\n" + std::string(scope) + "\n" + Sha256Hex(canonical);
}

std::string SigV4Signature(std::string_view secret, std::string_view date, std::string_view region,
                           std::string_view service, std::string_view to_sign) {
  std::string k = HmacSha256("AWS4" + std::string(secret), date);
  k = HmacSha256(k, region);
  k = HmacSha256(k, service);
  k = HmacSha256(k, "aws4_request");
  return HexLower(HmacSha256(k, to_sign));
}

std::string SignFirehoseRequest(std::string_view key_id, std::string_view secret, std::string_view region,
                                const SignedRequest& r) {
  std::vector<std::string> names;
  for (const auto& [k, v] : *r.headers)
    if (std::find(names.begin(), names.end(), k) == names.end()) names.push_back(k);
  std::sort(names.begin(), names.end());
  std::string signed_headers;
  for (const std::string& n : names) signed_headers += (signed_headers.empty() ? "" : ";") + n;
  std::string amz_date = CanonicalHeaderValue(r, "x-amz-date").value_or("");
  std::string date = amz_date.substr(0, 8);
  std::string scope = date + "/" + std::string(region) + "/firehose/aws4_request";
  std::string sig =
      SigV4Signature(secret, date, region, "firehose", StringToSign(r, amz_date, scope, signed_headers, Sha256Hex(r.body)));
  return std::string(kSigV4Algorithm) + " Credential=" + std::string(key_id) + "/" + scope +
         ", SignedHeaders=" + signed_headers + ", Signature=" + sig;
}

}  // namespace sluice::proto
