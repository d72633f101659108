// SigV4 header verification (AWS's "Authenticating Requests: Using the Authorization Header").
#include "server/http/sigv4.h"

#include <algorithm>
#include <ctime>

#include "base/constant_time.h"
#include "protocol/sha256.h"
#include "protocol/sigv4.h"

namespace sluice::server::http {
namespace {

using proto::CanonicalHeaderValue;
constexpr std::string_view kAlgorithm = proto::kSigV4Algorithm;

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

ApiError Err(std::string type, std::string message) { return {400, std::move(type), std::move(message)}; }

// "20261130T135450Z" -> epoch ms; nullopt when malformed.
std::optional<int64_t> ParseAmzDate(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  for (size_t i = 0; i < 15; i++)
    if (i != 8 && (s[i] < '0' || s[i] > '9')) return std::nullopt;
  auto num = [&](size_t at, size_t n) { return std::stoi(std::string(s.substr(at, n))); };
  struct tm tm {};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return std::nullopt;
  return int64_t(timegm(&tm)) * 1000;
}

struct Authorization {
  std::string_view key_id, date, region, service, terminator;
  std::string_view signed_headers;
  std::string_view signature;
};

// Parses "AWS4-HMAC-SHA256 Credential=K/D/R/S/aws4_request, SignedHeaders=a;b, Signature=hex".
std::optional<ApiError> ParseAuthorization(std::string_view v, Authorization* a) {
  v = Trim(v);
  if (v.substr(0, kAlgorithm.size()) != kAlgorithm || v.size() == kAlgorithm.size() || v[kAlgorithm.size()] != ' ')
    return Err("IncompleteSignatureException", "Authorization header requires the AWS4-HMAC-SHA256 algorithm");
  v.remove_prefix(kAlgorithm.size() + 1);
  std::string_view credential;
  while (!v.empty()) {
    size_t comma = v.find(',');
    std::string_view part = Trim(v.substr(0, comma));
    v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = part.substr(0, eq), value = part.substr(eq + 1);
    if (name == "Credential") credential = value;
    else if (name == "SignedHeaders") a->signed_headers = value;
    else if (name == "Signature") a->signature = value;
  }
  if (credential.empty() || a->signed_headers.empty() || a->signature.empty())
    return Err("IncompleteSignatureException",
               "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters");
  std::string_view parts[5];
  for (int i = 0; i < 5; i++) {
    size_t slash = credential.find('/');
    if ((slash == std::string_view::npos) != (i == 4))
      return Err("IncompleteSignatureException", "Credential must have the form <key>/<date>/<region>/<service>/aws4_request");
    parts[i] = credential.substr(0, slash);
    if (slash != std::string_view::npos) credential.remove_prefix(slash + 1);
  }
  a->key_id = parts[0];
  a->date = parts[1];
  a->region = parts[2];
  a->service = parts[3];
  a->terminator = parts[4];
  if (a->terminator != "aws4_request" || a->region.empty() || a->date.size() != 8)
    return Err("IncompleteSignatureException", "Credential must have the form <key>/<date>/<region>/<service>/aws4_request");
  return std::nullopt;
}

}  // namespace

const AccessKey* VerifySigV4(const SignedRequest& r, const std::vector<AccessKey>& keys, int64_t now_ms,
                             ApiError* error) {
  std::optional<std::string> auth = CanonicalHeaderValue(r, "authorization");
  if (!auth) {
    *error = Err("MissingAuthenticationTokenException", "Missing Authentication Token");
    return nullptr;
  }
  Authorization a;
  if (auto e = ParseAuthorization(*auth, &a)) {
    *error = *e;
    return nullptr;
  }
  const AccessKey* key = nullptr;
  for (const AccessKey& k : keys)
    if (base::ConstantTimeEquals(k.id, a.key_id)) key = &k;
  if (key == nullptr) {
    *error = Err("UnrecognizedClientException", "The security token included in the request is invalid.");
    return nullptr;
  }
  if (a.service != "firehose") {
    *error = Err("InvalidSignatureException", "Credential should be scoped to correct service: 'firehose'. ");
    return nullptr;
  }
  std::optional<std::string> amz_date = CanonicalHeaderValue(r, "x-amz-date");
  std::optional<int64_t> when = amz_date ? ParseAmzDate(*amz_date) : std::nullopt;
  if (!when) {
    *error = Err("IncompleteSignatureException", "Authorization requires an X-Amz-Date header (YYYYMMDDTHHMMSSZ)");
    return nullptr;
  }
  if (amz_date->substr(0, 8) != a.date) {
    *error = Err("InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
                                                  std::string(a.date) + "' != '" + amz_date->substr(0, 8) + "'");
    return nullptr;
  }
  if (*when < now_ms - kMaxClockSkewMs) {
    *error = Err("InvalidSignatureException", "Signature expired: " + *amz_date + " is now earlier than " +
                                                  proto::AmzDate(now_ms - kMaxClockSkewMs) + " (" + proto::AmzDate(now_ms) + " - 5 min.)");
    return nullptr;
  }
  if (*when > now_ms + kMaxClockSkewMs) {
    *error = Err("InvalidSignatureException", "Signature not yet current: " + *amz_date + " is still later than " +
                                                  proto::AmzDate(now_ms + kMaxClockSkewMs) + " (" + proto::AmzDate(now_ms) + " + 5 min.)");
    return nullptr;
  }
  // host and x-amz-date must be among the signed headers (else a captured signature could be
  // moved to another host or time).
  bool host = false, date = false;
  std::string_view names = a.signed_headers;
  std::string_view previous;
  while (!names.empty()) {
    size_t semi = names.find(';');
    std::string_view name = names.substr(0, semi);
    names = semi == std::string_view::npos ? std::string_view() : names.substr(semi + 1);
    if (name.empty() || name <= previous) {
      *error = Err("IncompleteSignatureException", "SignedHeaders must be lowercase names in sorted order, separated by ';'");
      return nullptr;
    }
    previous = name;
    host |= name == "host";
    date |= name == "x-amz-date";
  }
  if (!host || !date) {
    *error = Err("InvalidSignatureException", "SignedHeaders must include host and x-amz-date");
    return nullptr;
  }
  std::string payload = proto::Sha256Hex(r.body);
  if (std::optional<std::string> claimed = CanonicalHeaderValue(r, "x-amz-content-sha256"); claimed && *claimed != payload) {
    *error = Err("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.");
    return nullptr;
  }
  const std::string scope = std::string(a.date) + "/" + std::string(a.region) + "/firehose/aws4_request";
  std::string expected = proto::SigV4Signature(key->secret, a.date, a.region, "firehose",
                                               proto::StringToSign(r, *amz_date, scope, a.signed_headers, payload));
  if (!base::ConstantTimeEquals(expected, a.signature)) {
    *error = Err("InvalidSignatureException",
                 "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
                 "Access Key and signing method. Consult the service documentation for details.");
    return nullptr;
  }
  return key;
}

bool Authorized(const AccessKey& key, std::string_view operation, std::string_view stream, ApiError* error) {
  if (key.Allows(operation) && (stream.empty() || key.MayUse(stream))) return true;
  *error = {400, "AccessDeniedException",
            "User: " + key.id + " is not authorized to perform: firehose:" + std::string(operation) +
                (stream.empty() ? std::string() : " on resource: " + StreamArn(stream))};
  return false;
}

}  // namespace sluice::server::http
