// Benchmark payloads: what `sluice bench` puts. "json" (the default) is realistic log and event
// data: one JSON object a record with a timestamp, ids, an HTTP request line, a status, sizes,
// latencies, a user agent and message text, from a fixed seed, every record different and exactly
// the requested size. "filler" is the old repeated-letters payload (compresses unrealistically
// well). Every benchmark figure names the payload it used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::cli {

enum class Payload { kJson, kFiller };
bool ParsePayload(std::string_view name, Payload* out);
const char* PayloadName(Payload p);

// Writes exactly `size` bytes of record `id` of the given payload into dst; never a newline, so a
// newline-delimited destination gives the records back exactly. `seed` picks the sequence.
void FillPayload(Payload p, char* dst, size_t size, uint64_t id, uint64_t seed);

}  // namespace sluice::cli
