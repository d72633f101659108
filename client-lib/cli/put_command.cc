// `sluice put`: stdin lines -> pipelined PutRecordBatch calls -> summary and acked-line log.
//
// Design: the main thread reads stdin, cuts batches and sends them, keeping at most
// --in-flight batches unanswered; an ack thread receives results in order and writes acked
// line numbers (flushed after every response, so a producer that dies can resume from them).
#include "client-lib/cli/put_command.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "client-lib/client.h"
#include "client-lib/cluster_lane.h"
#include "protocol/error_codes.h"

namespace sluice::cli {
namespace {

struct Batch {
  uint64_t first_line = 0;
  std::vector<std::string> lines;
};

// Cuts stdin's lines into batches within the server's limits and hands each to `emit` (false
// stops reading). A line over max_record_bytes is reported to `oversize` and skipped: the server
// would reject it, and failing it here keeps the rest of its batch intact. Returns the lines read.
uint64_t ReadBatches(const proto::Limits& limits, uint32_t batch_records, const std::function<bool(Batch&&)>& emit,
                     const std::function<void(uint64_t line_no, size_t bytes)>& oversize) {
  std::ios::sync_with_stdio(false);
  uint64_t line_no = 0, cur_bytes = 0;
  std::string line;
  Batch cur;
  bool ok = true;
  while (ok && std::getline(std::cin, line)) {
    if (line.size() > limits.max_record_bytes) {
      oversize(line_no++, line.size());
      continue;
    }
    if (!cur.lines.empty() && (cur.lines.size() >= batch_records || cur_bytes + line.size() > limits.max_batch_bytes)) {
      ok = emit(std::move(cur));
      cur = Batch{};
      cur_bytes = 0;
    }
    if (cur.lines.empty()) cur.first_line = line_no;
    cur_bytes += line.size();
    cur.lines.push_back(std::move(line));
    line.clear();
    line_no++;
  }
  if (ok && !cur.lines.empty()) emit(std::move(cur));
  return line_no;
}

std::string OversizeMessage(uint64_t line_no, size_t bytes, const proto::Limits& limits) {
  return "line " + std::to_string(line_no) + ": record of " + std::to_string(bytes) +
         " bytes exceeds the server's max_record_bytes " + std::to_string(limits.max_record_bytes);
}

}  // namespace

bool ParseAddr(const std::string& addr, std::string* host, uint16_t* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = addr.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  char* end = nullptr;
  unsigned long p = std::strtoul(addr.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p == 0 || p > 65535) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

std::unique_ptr<client::Client> ConnectOrExplain(const char* tool, const std::string& addr,
                                                 const std::string& auth_token, const TlsFlags& tls) {
  client::ClientOptions co;
  if (!ParseAddr(addr, &co.host, &co.port)) {
    std::fprintf(stderr, "%s: --addr must be HOST:PORT, got '%s'\n", tool, addr.c_str());
    return nullptr;
  }
  co.auth_token = auth_token;
  co.tls = tls.tls;
  co.ca_file = tls.ca_file;
  co.client_name = std::string(tool) + "/0.1";
  auto connected = client::Client::Connect(co);
  if (!connected.ok()) {
    std::fprintf(stderr, "%s: %s\n", tool, connected.status().ToString().c_str());
    return nullptr;
  }
  return std::move(connected).value();
}

namespace {

// Several lanes (ClusterLane) fed by the stdin reader through a bounded queue; each lane keeps
// up to in_flight batches unanswered and fails over with them when its node fails.
int RunClusterPut(const PutOptions& opts, std::vector<std::string> seeds) {
  client::ClusterLaneOptions lo;
  lo.seeds = std::move(seeds);
  lo.connection.auth_token = opts.auth_token;
  lo.connection.tls = opts.tls.tls;
  lo.connection.ca_file = opts.tls.ca_file;
  lo.connection.client_name = "sluice put/0.1";
  lo.connection.io_timeout_ms = 10000;
  lo.connection.connect_timeout_ms = 1000;
  lo.failover_timeout_ms = static_cast<int>(opts.failover_timeout_s * 1000);
  const uint32_t lanes = opts.connections ? opts.connections : 4;
  std::vector<std::unique_ptr<client::ClusterLane>> conns;
  for (uint32_t i = 0; i < lanes; i++) {
    auto lane = client::ClusterLane::Connect(lo);
    if (!lane.ok()) {
      std::fprintf(stderr, "sluice put: %s\n", lane.status().ToString().c_str());
      return 2;
    }
    conns.push_back(std::move(lane).value());
  }
  FILE* acked_out = nullptr;
  if (!opts.acked_out.empty() && !(acked_out = std::fopen(opts.acked_out.c_str(), "a"))) {
    std::fprintf(stderr, "sluice put: cannot open %s\n", opts.acked_out.c_str());
    return 2;
  }
  const proto::Limits limits = conns[0]->server_limits();
  const uint32_t batch_records = std::max(1u, std::min(opts.batch, limits.max_batch_records));
  const uint32_t in_flight = std::max(1u, opts.in_flight);

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Batch> queue;  // read, not yet sent; GUARDED_BY(mu)
  bool reading_done = false;
  uint32_t lanes_alive = lanes;
  uint64_t acked = 0, failed = 0, failovers = 0;
  std::string first_error;
  const size_t queue_cap = size_t(lanes) * in_flight;
  auto start = std::chrono::steady_clock::now();

  auto lane_loop = [&](client::ClusterLane& lane) {
    std::map<uint64_t, Batch> sent;  // lane batch id -> lines
    std::vector<std::string_view> views;
    auto fail_all = [&](const base::Status& st, Batch* extra) {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& [id, b] : sent) failed += b.lines.size();
      if (extra) failed += extra->lines.size();
      if (first_error.empty()) first_error = st.ToString();
      lanes_alive--;
      failovers += lane.failovers();
      cv.notify_all();
    };
    for (;;) {
      while (lane.in_flight() < in_flight && !lane.wants_rebalance()) {
        Batch b;
        {
          std::unique_lock<std::mutex> lock(mu);
          if (lane.in_flight() == 0) cv.wait(lock, [&] { return !queue.empty() || reading_done; });
          if (queue.empty()) break;
          b = std::move(queue.front());
          queue.pop_front();
          cv.notify_all();
        }
        views.assign(b.lines.begin(), b.lines.end());
        auto id = lane.Send(opts.stream, views);
        if (!id.ok()) return fail_all(id.status(), &b);
        sent.emplace(id.value(), std::move(b));
      }
      if (lane.in_flight() == 0) {
        std::lock_guard<std::mutex> lock(mu);
        if (queue.empty() && reading_done) {
          lanes_alive--;
          failovers += lane.failovers();
          cv.notify_all();
          return;
        }
        continue;
      }
      auto r = lane.Receive();
      if (!r.ok()) return fail_all(r.status(), nullptr);
      auto it = sent.find(r->first);
      Batch b = std::move(it->second);
      sent.erase(it);
      std::lock_guard<std::mutex> lock(mu);
      for (size_t i = 0; i < r->second.records.size(); i++) {
        const auto& rec = r->second.records[i];
        if (rec.ok()) {
          acked++;
          if (acked_out) std::fprintf(acked_out, "%llu\n", static_cast<unsigned long long>(b.first_line + i));
        } else {
          failed++;
          if (first_error.empty())
            first_error = std::string(proto::WireErrorName(static_cast<proto::WireError>(rec.error_code))) + ": " +
                          rec.error_message;
        }
      }
      if (acked_out) std::fflush(acked_out);
    }
  };
  std::vector<std::thread> threads;
  for (auto& lane : conns) threads.emplace_back([&, l = lane.get()] { lane_loop(*l); });

  const uint64_t line_no = ReadBatches(
      limits, batch_records,
      [&](Batch&& b) {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return queue.size() < queue_cap || lanes_alive == 0; });
        if (lanes_alive == 0) return false;
        queue.push_back(std::move(b));
        cv.notify_all();
        return true;
      },
      [&](uint64_t n, size_t bytes) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.empty()) first_error = OversizeMessage(n, bytes, limits);
      });
  {
    std::lock_guard<std::mutex> lock(mu);
    reading_done = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  if (acked_out) std::fclose(acked_out);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  failed = line_no - acked;  // unsent ones included
  if (!opts.quiet || failed > 0) {
    std::fprintf(stderr,
                 "sluice put: %llu records read, %llu acked, %llu failed in %.3f s (%.0f records/s, %u connections, "
                 "%llu failovers)\n",
                 static_cast<unsigned long long>(line_no), static_cast<unsigned long long>(acked),
                 static_cast<unsigned long long>(failed), secs, secs > 0 ? acked / secs : 0.0, lanes,
                 static_cast<unsigned long long>(failovers));
    if (!first_error.empty()) std::fprintf(stderr, "sluice put: first error: %s\n", first_error.c_str());
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

int RunPut(const PutOptions& opts) {
  if (opts.addr.find(',') != std::string::npos || opts.connections > 1) {
    std::vector<std::string> seeds;
    for (size_t at = 0; at <= opts.addr.size();) {
      size_t comma = std::min(opts.addr.find(',', at), opts.addr.size());
      if (comma > at) seeds.push_back(opts.addr.substr(at, comma - at));
      at = comma + 1;
    }
    return RunClusterPut(opts, std::move(seeds));
  }
  std::unique_ptr<client::Client> c = ConnectOrExplain("sluice put", opts.addr, opts.auth_token, opts.tls);
  if (!c) return 2;
  FILE* acked_out = nullptr;
  if (!opts.acked_out.empty()) {
    acked_out = std::fopen(opts.acked_out.c_str(), "a");
    if (!acked_out) {
      std::fprintf(stderr, "sluice put: cannot open %s\n", opts.acked_out.c_str());
      return 2;
    }
  }
  const proto::Limits& limits = c->server_limits();
  const uint32_t batch_records = std::max(1u, std::min(opts.batch, limits.max_batch_records));
  const uint32_t in_flight = std::max(1u, opts.in_flight);

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Batch> window;  // sent, unanswered; GUARDED_BY(mu)
  bool sender_done = false;  // GUARDED_BY(mu)
  bool receiver_failed = false;
  uint64_t acked = 0, failed = 0;
  std::string first_error;
  auto start = std::chrono::steady_clock::now();

  std::thread acker([&] {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !window.empty() || sender_done; });
        if (window.empty()) return;
      }
      auto result = c->ReceivePutResult();
      std::unique_lock<std::mutex> lock(mu);
      Batch b = std::move(window.front());
      window.pop_front();
      if (!result.ok()) {
        // Everything in flight is unknown: count it (and everything still queued) as failed.
        failed += b.lines.size();
        for (auto& w : window) failed += w.lines.size();
        window.clear();
        if (first_error.empty()) first_error = result.status().ToString();
        receiver_failed = true;
        cv.notify_all();
        return;
      }
      for (size_t i = 0; i < result->records.size(); i++) {
        const auto& r = result->records[i];
        if (r.ok()) {
          acked++;
          if (acked_out) std::fprintf(acked_out, "%llu\n", static_cast<unsigned long long>(b.first_line + i));
        } else {
          failed++;
          if (first_error.empty())
            first_error = std::string(proto::WireErrorName(static_cast<proto::WireError>(r.error_code))) +
                          ": " + r.error_message;
        }
      }
      if (acked_out) std::fflush(acked_out);
      cv.notify_all();
    }
  });

  std::vector<std::string_view> views;
  const uint64_t line_no = ReadBatches(
      limits, batch_records,
      [&](Batch&& cur) {
        views.assign(cur.lines.begin(), cur.lines.end());
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return window.size() < in_flight || receiver_failed; });
        if (receiver_failed) return false;
        lock.unlock();
        auto sent = c->SendPutRecordBatch(opts.stream, views);
        lock.lock();
        if (!sent.ok()) {
          if (first_error.empty()) first_error = sent.status().ToString();
          return false;
        }
        // Entered into the window after the client registered it, so the acker (which waits for
        // a non-empty window) never asks for a result the client does not expect yet. Moving
        // the vector keeps the strings that `views` pointed into.
        window.push_back(Batch{cur.first_line, std::move(cur.lines)});
        cv.notify_all();
        return true;
      },
      [&](uint64_t n, size_t bytes) {
        std::lock_guard<std::mutex> lock(mu);
        failed++;
        if (first_error.empty()) first_error = OversizeMessage(n, bytes, limits);
      });
  {
    std::lock_guard<std::mutex> lock(mu);
    sender_done = true;
  }
  cv.notify_all();
  acker.join();
  if (acked_out) std::fclose(acked_out);

  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t unsent = line_no - acked - failed;
  failed += unsent;
  if (!opts.quiet || failed > 0) {
    std::fprintf(stderr, "sluice put: %llu records read, %llu acked, %llu failed in %.3f s (%.0f records/s)\n",
                 static_cast<unsigned long long>(line_no), static_cast<unsigned long long>(acked),
                 static_cast<unsigned long long>(failed), secs, secs > 0 ? acked / secs : 0.0);
    if (!first_error.empty()) std::fprintf(stderr, "sluice put: first error: %s\n", first_error.c_str());
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace sluice::cli
