// SigV4 verification of Firehose API requests (AWS Signature Version 4, header form, signing
// name "firehose"), and the access keys that may sign them. No I/O; unit tested on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/sigv4.h"
#include "server/config.h"
#include "server/http/firehose_api.h"

namespace sluice::server::http {

using proto::SignedRequest;

// How far a request's x-amz-date may be from the server's clock (AWS's window).
inline constexpr int64_t kMaxClockSkewMs = 5 * 60 * 1000;

// Verifies the Authorization header of `r` against `keys` at `now_ms`: the key exists, the
// credential scope is <date>/<region>/firehose/aws4_request with the date of x-amz-date,
// x-amz-date is within ±5 minutes, `host` and `x-amz-date` are signed, x-amz-content-sha256 (if
// sent) is the body's SHA-256, and the signature matches (compared in constant time). Returns
// the key, or the error AWS answers (MissingAuthenticationTokenException,
// UnrecognizedClientException, InvalidSignatureException, IncompleteSignatureException).
const AccessKey* VerifySigV4(const SignedRequest& r, const std::vector<AccessKey>& keys, int64_t now_ms,
                             ApiError* error);

// Whether `key` may call `operation` ("PutRecordBatch") on `stream` ("" for operations on no
// stream: ListDeliveryStreams). On false, `error` is AWS's AccessDeniedException.
bool Authorized(const AccessKey& key, std::string_view operation, std::string_view stream, ApiError* error);

}  // namespace sluice::server::http
