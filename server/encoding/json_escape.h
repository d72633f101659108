// JsonEscape: a string's contents as a JSON string literal body (without the quotes).
#pragma once

#include <string>
#include <string_view>

namespace sluice::server {

// Escapes '"', '\\', and every control character (\n \r \t by name, the rest as \u00XX); other
// bytes pass through as they are, so valid UTF-8 stays valid UTF-8.
std::string JsonEscape(std::string_view s);

}  // namespace sluice::server
