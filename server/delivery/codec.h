// Compression of delivered objects, with Firehose's containers and file extensions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::server {

enum class Compression { kNone, kGzip, kZstd, kSnappy };

// "none" | "gzip" | "zstd" | "snappy". Returns kInvalidArgument otherwise.
base::Result<Compression> ParseCompression(std::string_view name);
std::string_view CompressionName(Compression c);
// "" | ".gz" | ".zst" | ".snappy" (Firehose's extensions; zstd is ours).
std::string_view CompressionExtension(Compression c);
// The Content-Encoding a network destination sends with the object ("" for none).
std::string_view ContentEncoding(Compression c);

// Compresses `input` into one container:
//   gzip   - one gzip member (libdeflate, level 1: the throughput choice on small machines)
//   zstd   - one zstd frame with content size and checksum (level 3)
//   snappy - the xerial snappy-java stream Firehose writes: magic 0x82 "SNAPPY" 0x00,
//            version 1, compatible version 1 (int32 BE), then [int32 BE length][raw snappy
//            block] per 32 KiB of input
// Returns kInternal only if a library fails (out of memory).
base::Result<std::string> Compress(Compression c, std::string_view input);
// The inverse, for tests and tools. Returns kCorruption for a damaged container or one that
// would inflate past 1 GiB.
base::Result<std::string> Decompress(Compression c, std::string_view input);

}  // namespace sluice::server
