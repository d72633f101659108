// Compression codecs: libdeflate (gzip), libzstd, libsnappy.
#include "server/delivery/codec.h"

#include <libdeflate.h>
#include <snappy.h>
#include <zstd.h>

#include <cstring>
#include <memory>

namespace sluice::server {
namespace {

constexpr size_t kSnappyBlock = 32 * 1024;
// Decompression is for tools and tests; it refuses to inflate anything past this.
constexpr size_t kMaxDecompressed = size_t(1) << 30;
constexpr unsigned char kSnappyMagic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

void PutBE32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; i--) out->push_back(static_cast<char>(v >> (8 * i)));
}
uint32_t GetBE32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(u[0]) << 24 | uint32_t(u[1]) << 16 | uint32_t(u[2]) << 8 | u[3];
}

}  // namespace

base::Result<Compression> ParseCompression(std::string_view name) {
  if (name == "none") return Compression::kNone;
  if (name == "gzip") return Compression::kGzip;
  if (name == "zstd") return Compression::kZstd;
  if (name == "snappy") return Compression::kSnappy;
  return base::InvalidArgument("compression must be one of none, gzip, zstd, snappy; got '" +
                               std::string(name) + "'");
}

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kGzip: return "gzip";
    case Compression::kZstd: return "zstd";
    case Compression::kSnappy: return "snappy";
  }
  return "none";
}

std::string_view CompressionExtension(Compression c) {
  switch (c) {
    case Compression::kNone: return "";
    case Compression::kGzip: return ".gz";
    case Compression::kZstd: return ".zst";
    case Compression::kSnappy: return ".snappy";
  }
  return "";
}

std::string_view ContentEncoding(Compression c) {
  switch (c) {
    case Compression::kNone: return "";
    case Compression::kGzip: return "gzip";
    case Compression::kZstd: return "zstd";
    case Compression::kSnappy: return "snappy-java";
  }
  return "";
}

base::Result<std::string> Compress(Compression c, std::string_view in) {
  std::string out;
  switch (c) {
    case Compression::kNone:
      return std::string(in);
    case Compression::kGzip: {
      std::unique_ptr<libdeflate_compressor, void (*)(libdeflate_compressor*)> comp(
          libdeflate_alloc_compressor(1), libdeflate_free_compressor);
      if (!comp) return base::Internal("libdeflate: cannot allocate a compressor");
      size_t bound = libdeflate_gzip_compress_bound(comp.get(), in.size());
      // make_unique_for_overwrite leaves the bytes uninitialised: the bound is a little more than
      // the whole segment but the output a fraction of it, and pages never written are never
      // made resident (a std::string resized to the bound would zero all of it and keep that
      // capacity). The result is copied into a string of its exact size.
      auto buf = std::make_unique_for_overwrite<char[]>(bound);
      size_t n = libdeflate_gzip_compress(comp.get(), in.data(), in.size(), buf.get(), bound);
      if (n == 0) return base::Internal("libdeflate: gzip compression failed");
      return std::string(buf.get(), n);
    }
    case Compression::kZstd: {
      std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
      if (!cctx) return base::Internal("zstd: cannot allocate a context");
      ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 3);
      ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
      size_t bound = ZSTD_compressBound(in.size());
      auto buf = std::make_unique_for_overwrite<char[]>(bound);  // as for gzip
      size_t n = ZSTD_compress2(cctx.get(), buf.get(), bound, in.data(), in.size());
      if (ZSTD_isError(n)) return base::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
      return std::string(buf.get(), n);
    }
    case Compression::kSnappy: {
      out.append(reinterpret_cast<const char*>(kSnappyMagic), sizeof(kSnappyMagic));
      PutBE32(&out, 1);
      PutBE32(&out, 1);
      std::string block;
      for (size_t off = 0; off < in.size(); off += kSnappyBlock) {
        size_t len = std::min(kSnappyBlock, in.size() - off);
        block.clear();
        snappy::Compress(in.data() + off, len, &block);
        PutBE32(&out, static_cast<uint32_t>(block.size()));
        out += block;
      }
      return out;
    }
  }
  return base::Internal("unknown compression");
}

base::Result<std::string> Decompress(Compression c, std::string_view in) {
  std::string out;
  switch (c) {
    case Compression::kNone:
      return std::string(in);
    case Compression::kGzip: {
      std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> d(
          libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
      if (!d) return base::Internal("libdeflate: cannot allocate a decompressor");
      // ISIZE (the last 4 bytes) is only a hint from untrusted bytes: start from it when it is
      // plausible, and grow on demand up to kMaxDecompressed.
      if (in.size() < 18) return base::Corruption("gzip stream too short");
      const auto* t = reinterpret_cast<const unsigned char*>(in.data() + in.size() - 4);
      size_t hint = t[0] | t[1] << 8 | t[2] << 16 | size_t(t[3]) << 24;
      size_t cap = std::min<size_t>(kMaxDecompressed, std::max<size_t>(hint, 1024));
      if (hint > in.size() * 1032 + 1024) cap = std::min<size_t>(kMaxDecompressed, in.size() * 4 + 1024);
      for (;;) {
        out.resize(cap);
        size_t actual = 0;
        auto rc = libdeflate_gzip_decompress(d.get(), in.data(), in.size(), out.data(), out.size(), &actual);
        if (rc == LIBDEFLATE_SUCCESS) {
          out.resize(actual);
          return out;
        }
        if (rc != LIBDEFLATE_INSUFFICIENT_SPACE || cap >= kMaxDecompressed)
          return base::Corruption("gzip stream is damaged");
        cap = std::min<size_t>(kMaxDecompressed, cap * 2);
      }
    }
    case Compression::kZstd: {
      unsigned long long size = ZSTD_getFrameContentSize(in.data(), in.size());
      if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > kMaxDecompressed)
        return base::Corruption("zstd frame is damaged or has no content size");
      out.resize(size);
      size_t n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
      if (ZSTD_isError(n)) return base::Corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
      out.resize(n);
      return out;
    }
    case Compression::kSnappy: {
      if (in.size() < 16 || std::memcmp(in.data(), kSnappyMagic, 8) != 0)
        return base::Corruption("not a snappy-java stream");
      size_t off = 16;
      std::string block;
      while (off < in.size()) {
        if (in.size() - off < 4) return base::Corruption("snappy-java stream truncated");
        uint32_t len = GetBE32(in.data() + off);
        off += 4;
        if (in.size() - off < len) return base::Corruption("snappy-java block truncated");
        size_t block_size = 0;
        if (!snappy::GetUncompressedLength(in.data() + off, len, &block_size) ||
            out.size() + block_size > kMaxDecompressed)
          return base::Corruption("snappy block is damaged or too large");
        block.clear();
        if (!snappy::Uncompress(in.data() + off, len, &block)) return base::Corruption("snappy block is damaged");
        out += block;
        off += len;
      }
      return out;
    }
  }
  return base::Internal("unknown compression");
}

}  // namespace sluice::server
