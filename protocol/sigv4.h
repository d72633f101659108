// AWS Signature Version 4 (header form) for the Firehose API: the canonical request, string to
// sign and signature, shared by the server's verifier (server/http/sigv4.h) and the clients that
// sign (`sluice bench --api firehose`). OpenSSL libcrypto; no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::proto {

// A request as far as signing goes.
struct SignedRequest {
  std::string_view method;  // "POST"
  std::string_view path;    // "/" (the canonical URI; the API has no query string)
  // Every header, names lowercased, in arrival order (a repeated header appears repeatedly).
  const std::vector<std::pair<std::string, std::string>>* headers = nullptr;
  std::string_view body;
};

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";

// All values of header `name` (lowercase) trimmed, inner runs of blanks collapsed to one space,
// joined by ','; nullopt when absent.
std::optional<std::string> CanonicalHeaderValue(const SignedRequest& r, std::string_view name);
// "AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex sha256 of the canonical request>".
std::string StringToSign(const SignedRequest& r, std::string_view amz_date, std::string_view scope,
                         std::string_view signed_headers, std::string_view payload_hash);
// Hex HMAC chain: secret -> date -> region -> service -> aws4_request -> string to sign.
std::string SigV4Signature(std::string_view secret, std::string_view date, std::string_view region,
                           std::string_view service, std::string_view string_to_sign);
// The Authorization header value for `r`, signing every header it has (lowercased names, which
// must include host and x-amz-date "YYYYMMDDTHHMMSSZ"), service "firehose".
std::string SignFirehoseRequest(std::string_view key_id, std::string_view secret, std::string_view region,
                                const SignedRequest& r);
// "YYYYMMDDTHHMMSSZ" of a Unix time in milliseconds.
std::string AmzDate(int64_t unix_ms);

}  // namespace sluice::proto
