// Standard base64 (RFC 4648 §4, padded), as the Lambda contract and Firehose parameters use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice::server {

void Base64Append(std::string_view bytes, std::string* out);
std::string Base64Encode(std::string_view bytes);
// Strict: only the standard alphabet, length a multiple of 4, '=' only as final padding.
// nullopt for anything else.
std::optional<std::string> Base64Decode(std::string_view text);
// The same, appending the decoded bytes to `out`; false (and `out` unchanged) for bad input.
bool Base64DecodeAppend(std::string_view text, std::string* out);

}  // namespace sluice::server
