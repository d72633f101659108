// Monitor: what the server shows of itself over HTTP (GET /metrics, /ready, /api/status, the
// status page at /) and the admin port (STATUS, which `sluice top` reads).
//
// Design: every figure is counted where it happens (relaxed atomics and histograms in the
// shards, the delivery pool and RocksDB's tickers) and read here on main's thread; rendering
// never stops a shard or a delivery worker (the pool's lock is held for one pass over its
// queue). A 1 s timer samples the counters into rates (records/s, commits/s) and keeps the last
// minutes as fixed rings: the whole server's for 10 minutes, each stream's for 2 minutes, so a
// page opened now shows history at once and memory stays bounded whatever clients do.
// Thread: main's (every method; the HTTP port reaches it through MainDoor::PostToMain).
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/admin/admin_services.h"
#include "server/monitor/snapshot.h"

namespace sluice::server::monitor {

// One HTTP answer of the monitoring endpoints (the connection adds the status line, Date,
// Content-Length and Connection).
struct HttpAnswer {
  int status = 200;
  std::string content_type;
  std::string body;
  std::string headers;  // extra header lines, each ending in \r\n
};

struct Readiness {
  bool ready = false;
  std::string reason;  // why not, for the body of a 503
};

// What the monitor needs of the server beyond the admin services.
class ServerFacts {
 public:
  virtual ~ServerFacts() = default;
  virtual bool shutting_down() const = 0;
  virtual uint64_t refused_connections() const = 0;
  virtual uint16_t http_port() const = 0;
};

class Monitor {
 public:
  static constexpr size_t kServerHistory = 600;  // 10 minutes at 1 s
  static constexpr size_t kStreamHistory = 120;  // 2 minutes at 1 s

  Monitor(admin::AdminServices services, ServerFacts& facts) : services_(services), facts_(facts) {}
  // Starts the 1 s sampler on main's loop; Close stops it (before the loop ends).
  void Start(uv_loop_t* loop);
  void Close();

  // GET /metrics: Prometheus text format 0.0.4.
  std::string Metrics();
  // GET /ready: storage open and writable, disk above min_free_mib, not shutting down.
  Readiness Ready();
  // GET /api/status and admin STATUS: the JSON document of docs/operations.md ("Status JSON").
  // `stream` (optional) adds that stream's history.
  std::string StatusJson(std::string_view stream = {});

  // One sample (the timer's work; tests call it to move time on).
  void Sample();

  // GET (or HEAD) `target` on the HTTP port: /ready, /metrics, /api/status[?stream=NAME] and the
  // status page at /. Everything but /ready and /health is protected like the admin port: with
  // admin_password set, HTTP Basic authentication with that password (any user name); without
  // one, only while http_bind is a loopback address (or admin_allow_remote_without_password).
  // `authorization`: the request's Authorization header ("" when absent).
  HttpAnswer Serve(std::string_view method, std::string_view target, std::string_view authorization);

 private:
  struct Rates {
    double in_records = 0, in_bytes = 0, out_records = 0, out_bytes = 0;
  };
  struct StreamTrack {
    // Counters at the last sample, and the rates between it and the one before.
    uint64_t in_records = 0, in_bytes = 0, out_records = 0, out_bytes = 0;
    Rates rates;
    // Attempts and successes at each of the last kSuccessWindow samples (the success ratio is
    // over that window, so a destination failing now shows now, not diluted by a week of successes).
    std::vector<std::pair<uint64_t, uint64_t>> attempts;
    // Rings of the last kStreamHistory samples (next_ is the slot written next).
    std::vector<float> in_history, out_history;
    size_t filled = 0;
    bool seen = false;  // sampled at least once (rates need two samples)
  };
  struct ShardTrack {
    uint64_t commits = 0, records = 0;
    double commits_per_s = 0, records_per_commit = 0;
  };
  static constexpr size_t kSuccessWindow = 10;

  static void OnTimer(uv_timer_t* t) noexcept;
  double SuccessRatio(const StreamTrack& t) const;

  admin::AdminServices services_;
  ServerFacts& facts_;
  uv_timer_t timer_{};
  bool started_ = false;
  int64_t last_sample_mono_ns_ = 0;
  size_t stream_next_ = 0;  // ring slot of the per-stream history written next
  std::unordered_map<uint32_t, StreamTrack> streams_;
  std::vector<ShardTrack> shards_;
  // Whole-server rings.
  std::vector<int64_t> t_history_;
  std::vector<float> in_history_, out_history_, backlog_history_, freshness_history_;
  size_t server_next_ = 0, server_filled_ = 0;
};

}  // namespace sluice::server::monitor
