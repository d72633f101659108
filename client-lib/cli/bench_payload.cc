// Benchmark payloads: realistic JSON events from a fixed seed, or the old filler.
#include "client-lib/cli/bench_payload.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace sluice::cli {
namespace {

// splitmix64: a fixed, fast sequence per (seed, id, field).
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

constexpr const char* kServices[] = {"checkout", "search", "catalog", "auth", "payments", "recommendations"};
constexpr const char* kMethods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE"};
constexpr const char* kPaths[] = {"/api/v1/orders/", "/api/v1/users/", "/api/v1/items/", "/api/v2/cart/",
                                  "/static/img/", "/search?q=shoes&page="};
constexpr int kStatuses[] = {200, 200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 500, 503};
constexpr const char* kAgents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "okhttp/4.12.0",
    "python-requests/2.31.0",
    "curl/8.4.0",
    "Go-http-client/2.0"};
constexpr const char* kWords[] = {"request", "completed", "user", "cache", "miss", "retry", "upstream", "timeout",
                                  "order", "payment", "accepted", "declined", "inventory", "reserved", "session",
                                  "token", "refreshed", "query", "returned", "rows", "slow", "connection", "pool",
                                  "exhausted", "warehouse", "shipment", "created", "price", "updated", "latency"};
constexpr const char* kLevels[] = {"INFO", "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"};

template <size_t N>
const char* Pick(const char* const (&list)[N], uint64_t r) {
  return list[r % N];
}

}  // namespace

bool ParsePayload(std::string_view name, Payload* out) {
  if (name == "json") *out = Payload::kJson;
  else if (name == "filler") *out = Payload::kFiller;
  else return false;
  return true;
}

const char* PayloadName(Payload p) { return p == Payload::kJson ? "json" : "filler"; }

void FillPayload(Payload p, char* dst, size_t size, uint64_t id, uint64_t seed) {
  if (p == Payload::kFiller) {
    char head[32];
    int n = std::snprintf(head, sizeof(head), "r%" PRIu64 ";", id);
    size_t h = std::min(static_cast<size_t>(n), size);
    std::memcpy(dst, head, h);
    for (size_t i = h; i < size; i++) dst[i] = static_cast<char>('a' + (id + i) % 26);
    return;
  }
  const uint64_t base = Mix(seed * 0x100000001b3ull ^ id);
  auto r = [&](uint64_t field) { return Mix(base + field); };
  // Fields in the order a log shipper writes them; each is added only while it fits, then the
  // message text fills the record to exactly `size` bytes.
  const int64_t ms = 1796060000000 + static_cast<int64_t>(id) * 3 + static_cast<int64_t>(r(1) % 3);
  const int64_t secs = ms / 1000;
  const int h = static_cast<int>(secs / 3600 % 24), m = static_cast<int>(secs / 60 % 60), s = static_cast<int>(secs % 60);
  char fields[12][200];
  int nf = 0;
  std::snprintf(fields[nf++], 200, "\"ts\":\"2026-11-30T%02d:%02d:%02d.%03dZ\"", h, m, s, static_cast<int>(ms % 1000));
  std::snprintf(fields[nf++], 200, "\"id\":%" PRIu64, id);
  std::snprintf(fields[nf++], 200, "\"status\":%d", kStatuses[r(2) % (sizeof(kStatuses) / sizeof(int))]);
  std::snprintf(fields[nf++], 200, "\"method\":\"%s\"", Pick(kMethods, r(3)));
  std::snprintf(fields[nf++], 200, "\"path\":\"%s%" PRIu64 "\"", Pick(kPaths, r(4)), r(5) % 100000);
  std::snprintf(fields[nf++], 200, "\"latency_ms\":%.1f", static_cast<double>(r(6) % 25000) / 10.0);
  std::snprintf(fields[nf++], 200, "\"bytes\":%" PRIu64, r(7) % 200000);
  std::snprintf(fields[nf++], 200, "\"service\":\"%s\",\"host\":\"web-%02d\"", Pick(kServices, r(8)),
                static_cast<int>(r(9) % 48));
  std::snprintf(fields[nf++], 200, "\"user\":\"u_%06" PRIu64 "\",\"session\":\"%016" PRIx64 "\"", r(10) % 1000000, r(11));
  std::snprintf(fields[nf++], 200, "\"ip\":\"%d.%d.%d.%d\"", static_cast<int>(r(12) % 223 + 1),
                static_cast<int>(r(13) % 256), static_cast<int>(r(14) % 256), static_cast<int>(r(15) % 254 + 1));
  std::snprintf(fields[nf++], 200, "\"ua\":\"%s\"", Pick(kAgents, r(16)));
  std::snprintf(fields[nf++], 200, "\"level\":\"%s\",\"trace\":\"%016" PRIx64 "%016" PRIx64 "\"", Pick(kLevels, r(17)),
                r(18), r(19));
  std::string out = "{";
  for (int i = 0; i < nf; i++) {
    size_t add = std::strlen(fields[i]) + (out.size() > 1 ? 1 : 0);
    if (out.size() + add + 1 > size) break;
    if (out.size() > 1) out += ',';
    out += fields[i];
  }
  // The message: words until the record is full (,"msg":"..." needs 9 bytes and the closing }).
  const size_t fixed = out.size() + (out.size() > 1 ? 1 : 0) + 9;
  if (size >= fixed + 1) {
    if (out.size() > 1) out += ',';
    out += "\"msg\":\"";
    const size_t text = size - out.size() - 2;  // the closing quote and brace
    std::string words;
    for (uint64_t w = 0; words.size() < text; w++) {
      if (!words.empty()) words += ' ';
      words += Pick(kWords, r(100 + w));
    }
    words.resize(text);
    if (!words.empty() && words.back() == ' ') words.back() = '.';
    out += words;
    out += "\"}";
  } else {
    while (out.size() + 1 < size) out += ' ';  // JSON whitespace
    if (size > 0) out += '}';
  }
  if (size == 1) out = "0";  // the smallest JSON value
  std::memcpy(dst, out.data(), size);
}

}  // namespace sluice::cli
