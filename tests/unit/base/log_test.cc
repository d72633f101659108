// The logger's two formats and its per-call-site rate limit, read back from a captured stderr.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "base/histogram.h"
#include "base/log.h"

namespace {

// Redirects stderr to a temporary file for its lifetime; lines() reads what was written.
class CapturedStderr {
 public:
  CapturedStderr() {
    char path[] = "/tmp/sluice-log-test-XXXXXX";
    fd_ = mkstemp(path);
    unlink(path);
    saved_ = dup(STDERR_FILENO);
    dup2(fd_, STDERR_FILENO);
  }
  ~CapturedStderr() {
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    close(fd_);
  }
  std::vector<std::string> lines() const {
    std::string all;
    char buf[4096];
    for (off_t off = 0;;) {
      ssize_t n = pread(fd_, buf, sizeof buf, off);
      if (n <= 0) break;
      all.append(buf, static_cast<size_t>(n));
      off += n;
    }
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1) out.push_back(all.substr(start, nl - start));
    return out;
  }

 private:
  int fd_ = -1;
  int saved_ = -1;
};

struct Restore {
  ~Restore() {
    sluice::base::SetLogFormatByName("text");
    sluice::base::SetLogRateLimit(20);
  }
};

}  // namespace

TEST_CASE("Log: json lines carry time, level, module, message and the context, escaped", "[base][log]") {
  Restore restore;
  REQUIRE(sluice::base::SetLogFormatByName("json"));
  CHECK_FALSE(sluice::base::SetLogFormatByName("xml"));
  CHECK(std::string(sluice::base::LogFormatName()) == "json");
  CapturedStderr err;
  SLUICE_LOG_WARN_CTX("delivery", ({"orders", "0-1-2", "S3"}), "attempt failed: %s", "HTTP 503 \"Slow Down\"\n\tretry");
  SLUICE_LOG_INFO("server", "plain %d", 7);
  const auto lines = err.lines();
  REQUIRE(lines.size() == 2);
  const std::string& l = lines[0];
  CHECK(l.rfind("{\"time\":\"20", 0) == 0);
  CHECK(l.find("Z\",\"level\":\"warn\",\"module\":\"delivery\",\"message\":\"attempt failed: HTTP 503 \\\"Slow Down\\\"\\n\\u0009retry\","
               "\"stream\":\"orders\",\"segment\":\"0-1-2\",\"destination\":\"S3\"}") != std::string::npos);
  CHECK(lines[1].find("\"level\":\"info\",\"module\":\"server\",\"message\":\"plain 7\"}") != std::string::npos);
}

TEST_CASE("Log: text lines are unchanged by a context", "[base][log]") {
  Restore restore;
  REQUIRE(sluice::base::SetLogFormatByName("text"));
  CapturedStderr err;
  SLUICE_LOG_ERROR_CTX("delivery", ({"orders", "0-1-2", "S3"}), "stream %s failed", "orders");
  const auto lines = err.lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].substr(25) == "ERROR delivery: stream orders failed");
}

TEST_CASE("Log: one call site writes at most the limit a second and reports what it held back", "[base][log]") {
  Restore restore;
  sluice::base::SetLogRateLimit(3);
  CapturedStderr err;
  auto burst = [] {
    for (int i = 0; i < 50; i++) SLUICE_LOG_WARN("delivery", "the same failure %d", i);
  };
  // Start the burst at the beginning of a second, so it fits in one.
  timespec ts;
  do clock_gettime(CLOCK_REALTIME, &ts);
  while (ts.tv_nsec > 500000000);
  burst();
  SLUICE_LOG_WARN("delivery", "another call site");  // its own budget
  CHECK(err.lines().size() == 4);
  // The next second: the first line says how many were suppressed.
  do clock_gettime(CLOCK_REALTIME, &ts);
  while (ts.tv_nsec > 500000000 || ts.tv_nsec < 1000);
  timespec wait{1, 0};
  nanosleep(&wait, nullptr);
  burst();
  const auto lines = err.lines();
  REQUIRE(lines.size() == 7);
  CHECK(lines[4].find("the same failure 0 (47 similar lines suppressed)") != std::string::npos);
  // 0: no limit.
  sluice::base::SetLogRateLimit(0);
  burst();
  CHECK(err.lines().size() == 57);
}

TEST_CASE("Histogram: buckets, +Inf, sum and count", "[base][histogram]") {
  sluice::base::Histogram h(sluice::base::kLatencyBuckets);
  h.ObserveMicros(50);          // 0.00005 s: first bucket
  h.ObserveMicros(1000);        // exactly 0.001: le="0.001"
  h.ObserveMicros(20'000'000);  // 20 s: +Inf
  h.ObserveMicros(-5);          // a clock step: counted as 0
  CHECK(h.bucket(0) == 2);
  CHECK(h.bucket(3) == 1);
  CHECK(h.bucket(h.bounds().size()) == 1);
  CHECK(h.count() == 4);
  CHECK(h.sum() == Approx(20.00105));
  sluice::base::Histogram b(sluice::base::kBatchBuckets);
  b.ObserveCount(300);
  CHECK(b.bucket(9) == 1);  // le="512"
  CHECK(b.sum() == Approx(300));
}
