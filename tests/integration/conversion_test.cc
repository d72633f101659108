// Integration: record format conversion end to end. Realistic JSON log events (a dozen columns,
// nested ones included) put into a stream with [stream.conversion], some malformed: DuckDB and
// hyparquet read the delivered Parquet objects and return every good record exactly; the
// malformed ones are in the error output as format-conversion-failed with Firehose's error
// record fields; the objects are smaller than the same records gzip'd as JSON lines.
#include <catch2/catch.hpp>

#include <libdeflate.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "tests/support/clients.h"
#include "tests/support/delivered.h"
#include "tests/support/parquet_check.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
namespace fs = std::filesystem;

namespace {

constexpr const char* kColumns =
    "event_id bigint, ts timestamp, level string, service string, host string, latency_ms double, "
    "status smallint, bytes bigint, price decimal(12,2), user struct<id:string,country:string,premium:boolean>, "
    "tags array<string>, attrs map<string,string>, day date";

// A log event with a fixed seed: the JSON put, and the row parquet_check.mjs expects.
struct Event {
  std::string json, expected;
};

Event MakeEvent(std::mt19937_64& rng, int64_t id) {
  static const char* kLevels[] = {"INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"};
  static const char* kServices[] = {"checkout", "search", "auth", "catalog", "payments", "gateway"};
  static const char* kCountries[] = {"DE", "US", "FR", "JP", "BR", "IN", "GB"};
  static const char* kTags[] = {"mobile", "web", "beta", "canary", "eu", "retry"};
  static const char* kAgents[] = {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
                                  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile/15E148",
                                  "curl/8.4.0", "okhttp/4.12.0"};
  const int64_t us = 1796036400000000 + id * 1731 + static_cast<int64_t>(rng() % 1000);
  const std::string level = kLevels[rng() % 6], service = kServices[rng() % 6];
  const std::string host = "ip-10-0-" + std::to_string(rng() % 4) + "-" + std::to_string(rng() % 250) + ".internal";
  const double latency = static_cast<double>(rng() % 500000) / 100.0 + 0.25;
  const int status = static_cast<int>(std::array<int, 5>{200, 200, 201, 404, 503}[rng() % 5]);
  const int64_t bytes = static_cast<int64_t>(rng() % 5'000'000);
  const std::string price = std::to_string(rng() % 100000) + "." + std::to_string(10 + rng() % 90);
  const std::string user = "u" + std::to_string(rng() % 5000), country = kCountries[rng() % 7];
  const bool premium = rng() % 4 == 0;
  std::string tags_in = "[", tags_out;
  for (uint64_t i = 0, n = rng() % 3; i < n; i++) tags_in += (i ? ",\"" : "\"") + std::string(kTags[rng() % 6]) + "\"";
  tags_in += "]";
  const std::string agent = kAgents[rng() % 4];
  const std::string attrs = "{\"user_agent\":\"" + agent + "\",\"region\":\"eu-central-1\"" +
                            (rng() % 3 == 0 ? ",\"trace\":\"" + std::to_string(rng()) + "\"" : std::string()) + "}";
  const std::string day = test::IsoDate(static_cast<int32_t>(us / 86'400'000'000));
  char lat[32];
  std::snprintf(lat, sizeof lat, "%.2f", latency);
  // Keys as producers write them (OpenX matches them case-insensitively); a missing tags key
  // now and then is a null.
  Event e;
  e.json = "{\"eventId\":" + std::to_string(id) + ",\"ts\":\"" + test::IsoMicros(us) + "\",\"level\":\"" + level +
           "\",\"service\":\"" + service + "\",\"host\":\"" + host + "\",\"latency_ms\":" + lat +
           ",\"status\":" + std::to_string(status) + ",\"bytes\":" + std::to_string(bytes) + ",\"price\":\"" + price +
           "\",\"user\":{\"id\":\"" + user + "\",\"country\":\"" + country + "\",\"premium\":" +
           (premium ? "true" : "false") + "}" + (id % 10 == 0 ? "" : ",\"tags\":" + tags_in) + ",\"attrs\":" + attrs +
           ",\"day\":\"" + day + "\"}";
  e.expected = "{\"event_id\":\"" + std::to_string(id) + "\",\"ts\":\"" + std::to_string(us) + "\",\"level\":\"" + level +
               "\",\"service\":\"" + service + "\",\"host\":\"" + host + "\",\"latency_ms\":" + lat +
               ",\"status\":" + std::to_string(status) + ",\"bytes\":\"" + std::to_string(bytes) + "\",\"price\":\"" +
               price + "\",\"user\":{\"id\":\"" + user + "\",\"country\":\"" + country + "\",\"premium\":" +
               (premium ? "true" : "false") + "},\"tags\":" + (id % 10 == 0 ? "null" : tags_in) + ",\"attrs\":" + attrs +
               ",\"day\":\"" + day + "\"}";
  return e;
}

size_t Gzip(const std::string& s) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(6);
  std::string out(libdeflate_gzip_compress_bound(c, s.size()), '\0');
  size_t n = libdeflate_gzip_compress(c, s.data(), s.size(), out.data(), out.size());
  libdeflate_free_compressor(c);
  return n;
}

}  // namespace

TEST_CASE("conversion: realistic JSON events become Parquet that DuckDB and hyparquet read exactly", "[integration][parquet]") {
  test::TempDir tmp;
  std::ofstream(tmp.Sub("s.toml")) << "[[stream]]\nname = \"t\"\nbuffering = { size_mib = 64, interval_s = 1 }\n"
                                   << "[stream.conversion]\ncolumns = \"" << kColumns << "\"\n"
                                   << "column_to_json_key_mappings = { event_id = \"eventId\" }\n";
  test::TestServer server(tmp.Sub("data"), {"--config", tmp.Sub("s.toml")});
  REQUIRE(server.Start());
  std::mt19937_64 rng(2026);
  std::vector<std::string> records;
  std::vector<std::string> malformed;
  std::ofstream expected(tmp.Sub("expected.jsonl"));
  std::string good_lines;
  // Bounded for CI; SLUICE_CONVERSION_EVENTS=1000000 is the full check (a few minutes).
  const char* env = std::getenv("SLUICE_CONVERSION_EVENTS");
  const int kEvents = env ? std::max(1000, std::atoi(env)) : 30000;
  for (int64_t id = 1; id <= kEvents; id++) {
    Event e = MakeEvent(rng, id);
    records.push_back(e.json);
    good_lines += e.json + "\n";
    expected << e.expected << "\n";
    if (id % 500 == 0) {  // one malformed record of each kind every 500
      static const char* kBad[] = {"{\"eventId\":1,\"status\":99999}", "{\"eventId\":2,\"ts\":\"not a time\"}",
                                   "{\"eventId\":3,\"price\":\"12.345.6\"}", "{\"eventId\":4,", "plain text log line",
                                   "[{\"eventId\":5}]", "{\"eventId\":6,\"user\":\"nobody\"}",
                                   "{\"eventId\":7,\"bytes\":1.5}"};
      std::string bad = kBad[(id / 500) % 8];
      bad += std::string(static_cast<size_t>(id / 500), ' ');  // unique, so each can be found
      records.push_back(bad);
      malformed.push_back(bad);
    }
  }
  expected.close();
  REQUIRE(test::PutRecords(server.port(), "t", records) == 0);
  auto stat = [&](const std::string& name) {
    std::string r = test::AdminAsk(server.admin_port(), "STATS t\r\n");
    size_t at = r.find(name + "\r\n");
    if (at == std::string::npos) return std::string();
    at = r.find("\r\n", at + name.size() + 2);
    return r.substr(at + 2, r.find("\r\n", at + 2) - at - 2);
  };
  const bool converted = test::WaitFor([&] { return stat("SucceedConversion.Records") == std::to_string(kEvents); },
                                       std::chrono::seconds(60 + kEvents / 5000));
  INFO(test::AdminAsk(server.admin_port(), "STATS t\r\n"));
  REQUIRE(converted);
  CHECK(stat("FailedConversion.Records") == std::to_string(malformed.size()));
  CHECK(stat("DeliveryToDirectory.Records") == std::to_string(kEvents));

  // Every good record, exactly, through both readers.
  const std::string root = tmp.Sub("data") + "/delivered/t";
  std::vector<std::string> files;
  uint64_t parquet_bytes = 0;
  for (const std::string& f : test::DeliveredFiles(root)) {
    CHECK(f.size() > 8);
    CHECK(f.substr(f.size() - 8) == ".parquet");
    files.push_back(root + "/" + f);
    parquet_bytes += fs::file_size(root + "/" + f);
  }
  REQUIRE_FALSE(files.empty());
  auto check = test::CheckParquet(kColumns, tmp.Sub("expected.jsonl"), files);
  if (!check.ran) SLUICE_SKIP("node and the npm readers are not installed (scripts/setup)");
  INFO(check.output);
  CHECK(check.ok);

  // The malformed records, whole, in the error output with Firehose's fields.
  auto errors = test::ReadErrors(tmp.Sub("data") + "/backup/t");
  REQUIRE(errors.size() == malformed.size());
  std::multiset<std::string> raws;
  for (const auto& e : errors) {
    CHECK(e.type == "format-conversion-failed");
    CHECK(e.code == "DataFormatConversion.MalformedData");
    CHECK_FALSE(e.message.empty());
    CHECK(e.attempts == 1);
    raws.insert(e.raw);
  }
  CHECK(raws == std::multiset<std::string>(malformed.begin(), malformed.end()));

  // Smaller than the same records gzip'd (level 6) as JSON lines.
  const size_t gz = Gzip(good_lines);
  WARN("Parquet (snappy) " << parquet_bytes << " bytes in " << files.size() << " objects; JSON lines "
                           << good_lines.size() << " bytes, gzip -6 " << gz << " bytes");
  CHECK(parquet_bytes < gz);
  CHECK(server.Stop() == 0);
}
