// WireError: the error numbers that cross the network, generated from error_codes.def.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/status.h"

namespace sluice::proto {

enum class WireError : uint16_t {
#define SLUICE_WIRE_ERROR(num, name, retryable, msg) name = num,
#include "protocol/error_codes.def"
#undef SLUICE_WIRE_ERROR
};

// "kUnknownStream" -> "UnknownStream"; "Unknown(<n>)" numbers this build does not know.
std::string_view WireErrorName(WireError e);
// The one-line meaning from error_codes.def.
std::string_view WireErrorMeaning(WireError e);
// True when a client may resend the same record later and expect success.
bool IsRetryable(WireError e);
// Maps an internal Status onto the closest wire code (kOk for ok).
WireError ToWireError(const base::Status& status);
// Maps a received number onto a Status, for the client library.
base::Status FromWire(uint16_t code, std::string_view message);

}  // namespace sluice::proto
