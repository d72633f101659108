// `sluice bench`: load generator for the put path, and put-to-delivered freshness.
//
// Each connection runs on its own thread with one Client and keeps up to --in-flight batches
// pipelined. Closed loop (no --rate): send whenever a slot is free; latency = ack time - send time.
// Open loop (--rate R): batch k of connection i is *due* at start + (k + i / connections) /
// (R / connections / batch), the connections interleaved evenly;
// latency = ack time - due time, so a stalled server is charged for the batches it delayed
// (coordinated omission, as wrk2 and HdrHistogram's corrected mode do).
// Every connection connects and builds its records before the common start (StartGate), so
// neither the latency of the first batches nor the throughput counts that setup.
// Freshness (--freshness-dir D): every record carries its send time; a watcher polls D for new
// delivered files and records delivered time - send time per record.
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>
#include <span>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <mutex>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client-lib/cli/bench_payload.h"
#include "client-lib/cli/put_command.h"
#include "protocol/error_codes.h"
#include "protocol/sigv4.h"
#include "client-lib/client.h"
#include "client-lib/cluster_lane.h"

namespace sluice::cli {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct ConnResult {
  uint64_t records_acked = 0;
  uint64_t records_failed = 0;
  uint64_t records_throttled = 0;
  uint64_t batches = 0;
  std::vector<uint32_t> latency_us;  // one per acked batch
  // Open loop: how late this thread woke up for each batch's due time (its own scheduling delay,
  // before any wait for a free in-flight slot; ack_ms includes it, being charged from the due time).
  std::vector<uint32_t> send_late_us;
  std::string first_error;
  bool stopped_on_error = false;  // a non-retryable per-record error ended this connection early
};

// A duration in nanoseconds as whole microseconds, saturated (a histogram sample).
uint32_t Micros(int64_t ns) { return static_cast<uint32_t>(std::clamp<int64_t>(ns / 1000, 0, UINT32_MAX)); }

// Open loop: when batch k of connection `index` is due. The connections' schedules are offset by
// an even share of one interval, so the server sees the offered batches spread evenly in time
// (as from independent producers), not every connection's batch in the same instant: in
// lockstep, 4 connections of 64 x 4 KiB landed as one 1 MiB burst whose WAL write and sync every
// batch in it waited for.
int64_t DueNs(int64_t start_ns, uint64_t k, int index, unsigned connections, double batches_per_s) {
  const double slot = static_cast<double>(k) + static_cast<double>(index) / connections;
  return start_ns + static_cast<int64_t>(slot * 1e9 / batches_per_s);
}

struct Percentiles {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;  // milliseconds
};

Percentiles Compute(std::vector<uint32_t>& us) {
  Percentiles p;
  if (us.empty()) return p;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<size_t>(q * static_cast<double>(us.size())))] / 1000.0; };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = us.back() / 1000.0;
  return p;
}

// A freshness record: the send time first ("t<ns>;", which FreshnessWatcher reads back from the
// delivered files), then filler; never a newline.
void StampRecord(char* dst, size_t size, uint64_t id, int64_t send_ns) {
  char head[48];
  int n = std::snprintf(head, sizeof(head), "t%" PRId64 ";", send_ns);
  size_t h = std::min(static_cast<size_t>(n), size);
  std::memcpy(dst, head, h);
  for (size_t i = h; i < size; i++) dst[i] = static_cast<char>('a' + (id + i) % 26);
}

// A connection's records: a ring of distinct batches (up to 64, at most 16 MiB), so what is
// stored and compressed is not one batch repeated. Batch k of the run uses slot k % count.
class BatchPool {
 public:
  BatchPool(const BenchOptions& o, int connection) : batch_(o.batch), size_(o.record_size) {
    const uint64_t bytes = uint64_t(batch_) * size_;
    count_ = static_cast<size_t>(std::clamp<uint64_t>((16u << 20) / std::max<uint64_t>(bytes, 1), 1, 64));
    buf_.resize(count_ * bytes);
    views_.resize(count_ * batch_);
    for (size_t k = 0; k < count_; k++)
      for (uint32_t i = 0; i < batch_; i++) {
        char* at = buf_.data() + (k * batch_ + i) * size_;
        FillPayload(o.payload_kind, at, size_, uint64_t(connection) << 40 | (k * batch_ + i), 42 + connection);
        views_[k * batch_ + i] = std::string_view(at, size_);
      }
  }
  std::span<const std::string_view> Batch(uint64_t k, size_t n) const {
    return std::span<const std::string_view>(views_.data() + (k % count_) * batch_, n);
  }
  // Freshness runs: the first n records of slot k get the send time.
  void Stamp(uint64_t k, size_t n, uint64_t first_id, int64_t t) {
    for (size_t i = 0; i < n; i++)
      StampRecord(buf_.data() + ((k % count_) * batch_ + i) * size_, size_, first_id + i, t);
  }

 private:
  uint32_t batch_;
  size_t size_;
  size_t count_ = 1;
  std::string buf_;
  std::vector<std::string_view> views_;
};

// One connection: to a single server, or a ClusterLane over the seeds of a cluster (several
// comma-separated --addr), which fails over with its unacknowledged batches.
class BenchConn {
 public:
  static base::Result<BenchConn> Connect(const client::ClientOptions& co, const std::vector<std::string>& seeds) {
    BenchConn c;
    if (seeds.size() > 1) {
      client::ClusterLaneOptions lo;
      lo.seeds = seeds;
      lo.connection = co;
      lo.connection.connect_timeout_ms = 1000;
      lo.connection.io_timeout_ms = 10000;
      ASSIGN_OR_RETURN(c.lane_, client::ClusterLane::Connect(lo));
    } else {
      ASSIGN_OR_RETURN(c.single_, client::Client::Connect(co));
    }
    return c;
  }
  size_t in_flight() const { return lane_ ? lane_->in_flight() : single_->in_flight(); }
  bool wants_rebalance() const { return lane_ && lane_->wants_rebalance(); }
  const proto::Limits& server_limits() const { return lane_ ? lane_->server_limits() : single_->server_limits(); }
  base::Status SendPutRecordBatch(std::string_view stream, std::span<const std::string_view> records) {
    return lane_ ? lane_->Send(stream, records).status() : single_->SendPutRecordBatch(stream, records).status();
  }
  // See Client::WaitResult. A cluster lane spreads batches over several connections: it waits
  // in Receive instead.
  bool WaitResult(int64_t timeout_ns) { return lane_ ? true : single_->WaitResult(timeout_ns); }
  base::Result<client::PutResult> ReceivePutResult() {
    if (!lane_) return single_->ReceivePutResult();
    ASSIGN_OR_RETURN(auto r, lane_->Receive());
    return std::move(r.second);
  }

 private:
  std::unique_ptr<client::Client> single_;
  std::unique_ptr<client::ClusterLane> lane_;
};

std::vector<std::string> SplitSeeds(const std::string& addr) {
  std::vector<std::string> seeds;
  for (size_t at = 0; at <= addr.size();) {
    size_t comma = std::min(addr.find(',', at), addr.size());
    if (comma > at) seeds.push_back(addr.substr(at, comma - at));
    at = comma + 1;
  }
  return seeds;
}

// The common start of every connection's schedule: each connection arrives once it is connected
// and its records are built (or it failed); the last to arrive sets the start, 1 ms ahead.
class StartGate {
 public:
  StartGate(uint32_t connections, double duration_s) : waiting_(connections), duration_s_(duration_s) {}
  // Returns (start, end) in NowNs() time once every connection arrived.
  std::pair<int64_t, int64_t> Arrive() {
    std::unique_lock<std::mutex> lock(mu_);
    if (--waiting_ == 0) {
      start_ns_ = NowNs() + 1'000'000;
      cv_.notify_all();
    }
    cv_.wait(lock, [&] { return waiting_ == 0; });
    return {start_ns_, start_ns_ + static_cast<int64_t>(duration_s_ * 1e9)};
  }
  int64_t start_ns() {
    std::lock_guard<std::mutex> lock(mu_);
    return start_ns_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint32_t waiting_;
  const double duration_s_;
  int64_t start_ns_ = 0;
};

// Arrives at the gate when it goes out of scope unless Wait() did: a connection that fails to set
// up must not hold the others back.
class GateArrival {
 public:
  explicit GateArrival(StartGate* gate) : gate_(gate) {}
  ~GateArrival() {
    if (!arrived_) gate_->Arrive();
  }
  std::pair<int64_t, int64_t> Wait() {
    arrived_ = true;
    return gate_->Arrive();
  }

 private:
  StartGate* gate_;
  bool arrived_ = false;
};

void RunConnection(const BenchOptions& o, const client::ClientOptions& co, int index, StartGate* gate,
                   uint64_t records_quota, std::atomic<uint64_t>* progress, ConnResult* out) {
  GateArrival arrival(gate);
  auto connected = BenchConn::Connect(co, SplitSeeds(o.addr));
  if (!connected.ok()) {
    out->first_error = connected.status().ToString();
    return;
  }
  BenchConn& c = *connected;
  const bool stamp = !o.freshness_dir.empty();
  BatchPool pool(o, index);
  const auto [start_ns, end_ns] = arrival.Wait();
  // Open loop: this connection's share of the rate, in batches per second.
  const double batches_per_s = o.rate > 0 ? static_cast<double>(o.rate) / o.connections / o.batch : 0;
  std::deque<int64_t> started;  // due (open loop) or send (closed loop) time of each batch in flight
  uint64_t sent_records = 0, next_id = 0;
  uint64_t k = 0;  // batches sent
  auto receive = [&]() -> bool {
    auto r = c.ReceivePutResult();
    int64_t now = NowNs();
    int64_t t0 = started.front();
    started.pop_front();
    if (!r.ok()) {
      if (out->first_error.empty()) out->first_error = r.status().ToString();
      return false;
    }
    out->batches++;
    uint64_t ok = r->records.size() - r->failed_count;
    out->records_acked += ok;
    progress->fetch_add(ok, std::memory_order_relaxed);
    bool permanent = false;
    if (r->failed_count) {
      for (const auto& rec : r->records) {
        if (rec.ok()) continue;
        auto code = static_cast<proto::WireError>(rec.error_code);
        if (code == proto::WireError::kThrottled) out->records_throttled++;
        else out->records_failed++;
        // UnknownStream, RecordTooLarge...: every later batch would fail the same way.
        permanent |= !proto::IsRetryable(code);
        if (out->first_error.empty())
          out->first_error = std::string(proto::WireErrorName(code)) + ": " + rec.error_message;
      }
    }
    out->latency_us.push_back(Micros(now - t0));
    if (permanent) out->stopped_on_error = true;
    return !permanent;
  };
  bool ok = true;
  for (;;) {
    int64_t now = NowNs();
    bool done = (records_quota ? sent_records >= records_quota : now >= end_ns);
    if (done) break;
    int64_t due = now;
    if (batches_per_s > 0) {
      due = DueNs(start_ns, k, index, o.connections, batches_per_s);
      // Take acks as they arrive until the due time, then send: a slow ack must not hold back the
      // next batch (the Redis driver below waits the same way, in ppoll).
      for (int64_t t = NowNs(); ok && c.in_flight() > 0 && t < due && c.WaitResult(due - t); t = NowNs())
        ok = receive();
      if (!ok) break;
      int64_t wait = due - NowNs();
      if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
      if (!records_quota && due >= end_ns) break;
      out->send_late_us.push_back(Micros(NowNs() - due));
    }
    while (c.wants_rebalance() && c.in_flight() > 0 && (ok = receive())) {
    }
    if (!ok) break;
    if (c.in_flight() >= o.in_flight && !(ok = receive())) break;
    size_t n = o.batch;
    if (records_quota) n = static_cast<size_t>(std::min<uint64_t>(n, records_quota - sent_records));
    if (stamp) pool.Stamp(k, n, next_id, NowNs());
    int64_t send_time = batches_per_s > 0 ? due : NowNs();
    auto sent = c.SendPutRecordBatch(o.stream, pool.Batch(k, n));
    if (!sent.ok()) {
      if (out->first_error.empty()) out->first_error = sent.ToString();
      break;
    }
    started.push_back(send_time);
    sent_records += n;
    next_id += n;
    k++;
  }
  while (ok && c.in_flight() > 0) ok = receive();
}

// --api firehose: the same loop over the Firehose API (PutRecordBatch, AWS JSON 1.1 over
// HTTP/1.1 keep-alive, requests pipelined up to --in-flight), signed with SigV4 when the token
// is "<key id>:<secret>". The JSON body is built (base64 and all) for every batch, as an SDK
// builds it.
class FirehoseConnection {
 public:
  bool Connect(const std::string& host, uint16_t port, std::string* error) {
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
      *error = std::string("resolve ") + host + ": " + gai_strerror(rc);
      return false;
    }
    fd_ = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = fd_ >= 0 && ::connect(fd_, res->ai_addr, res->ai_addrlen) == 0;
    freeaddrinfo(res);
    if (!ok) {
      *error = std::string("connect: ") + std::strerror(errno);
      return false;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return true;
  }
  ~FirehoseConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool Send(const std::string& bytes) {
    size_t at = 0;
    while (at < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return false;
      at += static_cast<size_t>(n);
    }
    return true;
  }
  // Waits up to `timeout_ns` for a response to start arriving (or one is buffered already).
  bool WaitResult(int64_t timeout_ns) {
    if (in_.find("\r\n\r\n") != std::string::npos) return true;
    pollfd p{fd_, POLLIN, 0};
    timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
    return ::ppoll(&p, 1, &ts, nullptr) != 0;
  }
  // One response: its status and body. False when the connection ended first.
  bool Receive(int* status, std::string* body) {
    for (;;) {
      size_t end = in_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t cl = in_.find("Content-Length: ");
        size_t len = cl != std::string::npos && cl < end ? std::strtoul(in_.c_str() + cl + 16, nullptr, 10) : 0;
        if (in_.size() >= end + 4 + len) {
          *status = in_.size() > 12 ? std::atoi(in_.c_str() + 9) : 0;
          body->assign(in_, end + 4, len);
          in_.erase(0, end + 4 + len);
          return true;
        }
      }
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      in_.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  std::string in_;
};

void AppendBase64(std::string_view bytes, std::string* out) {
  size_t at = out->size();
  out->resize(at + 4 * ((bytes.size() + 2) / 3));
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out->data() + at),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out->resize(at + static_cast<size_t>(n));
}

std::string FirehoseRequest(const BenchOptions& o, const std::string& host, std::span<const std::string_view> records,
                            std::string* body) {
  body->clear();
  *body += "{\"DeliveryStreamName\":\"" + o.stream + "\",\"Records\":[";
  for (size_t i = 0; i < records.size(); i++) {
    *body += i ? ",{\"Data\":\"" : "{\"Data\":\"";
    AppendBase64(records[i], body);
    *body += "\"}";
  }
  *body += "]}";
  std::string auth;
  const std::string date = proto::AmzDate(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch()).count());
  if (size_t colon = o.auth_token.find(':'); colon != std::string::npos) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"content-type", "application/x-amz-json-1.1"},
        {"host", host},
        {"x-amz-date", date},
        {"x-amz-target", "Firehose_20150804.PutRecordBatch"}};
    proto::SignedRequest r{"POST", "/", &headers, *body};
    auth = "Authorization: " +
           proto::SignFirehoseRequest(o.auth_token.substr(0, colon), o.auth_token.substr(colon + 1), "us-east-1", r) +
           "\r\n";
  }
  return "POST / HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Date: " + date +
         "\r\nX-Amz-Target: Firehose_20150804.PutRecordBatch\r\n" + auth + "Content-Length: " +
         std::to_string(body->size()) + "\r\n\r\n";
}

void RunFirehoseConnection(const BenchOptions& o, const std::string& host, uint16_t port, int index, StartGate* gate,
                           uint64_t records_quota, std::atomic<uint64_t>* progress, ConnResult* out) {
  GateArrival arrival(gate);
  FirehoseConnection c;
  if (!c.Connect(host, port, &out->first_error)) return;
  const bool stamp = !o.freshness_dir.empty();
  const std::string host_header = host + ":" + std::to_string(port);
  BatchPool pool(o, index);
  const auto [start_ns, end_ns] = arrival.Wait();
  const double batches_per_s = o.rate > 0 ? static_cast<double>(o.rate) / o.connections / o.batch : 0;
  std::deque<std::pair<int64_t, size_t>> started;  // (due or send time, records) per request in flight
  uint64_t sent_records = 0, next_id = 0, k = 0;
  std::string body, response;
  auto receive = [&]() -> bool {
    int status = 0;
    bool got = c.Receive(&status, &response);
    int64_t now = NowNs();
    auto [t0, n] = started.front();
    started.pop_front();
    if (!got) {
      if (out->first_error.empty()) out->first_error = "the server closed the connection";
      return false;
    }
    out->batches++;
    if (status != 200) {
      out->records_failed += n;
      if (out->first_error.empty()) out->first_error = "HTTP " + std::to_string(status) + ": " + response.substr(0, 300);
      out->stopped_on_error = status != 503;
      return status == 503;
    }
    uint64_t failed = std::strtoull(response.c_str() + std::string_view("{\"FailedPutCount\":").size(), nullptr, 10);
    out->records_acked += n - failed;
    out->records_failed += failed;
    if (failed && out->first_error.empty()) out->first_error = response.substr(0, 300);
    progress->fetch_add(n - failed, std::memory_order_relaxed);
    out->latency_us.push_back(Micros(now - t0));
    return true;
  };
  bool ok = true;
  for (;;) {
    int64_t now = NowNs();
    if (records_quota ? sent_records >= records_quota : now >= end_ns) break;
    int64_t due = now;
    if (batches_per_s > 0) {
      due = DueNs(start_ns, k, index, o.connections, batches_per_s);
      for (int64_t t = NowNs(); ok && !started.empty() && t < due && c.WaitResult(due - t); t = NowNs())
        ok = receive();  // responses as they arrive, until the due time (as the loop above)
      if (!ok) break;
      int64_t wait = due - NowNs();
      if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
      if (!records_quota && due >= end_ns) break;
      out->send_late_us.push_back(Micros(NowNs() - due));
    }
    if (started.size() >= o.in_flight && !(ok = receive())) break;
    size_t n = o.batch;
    if (records_quota) n = static_cast<size_t>(std::min<uint64_t>(n, records_quota - sent_records));
    if (stamp) pool.Stamp(k, n, next_id, NowNs());
    int64_t send_time = batches_per_s > 0 ? due : NowNs();
    std::string head = FirehoseRequest(o, host_header, pool.Batch(k, n), &body);
    if (!c.Send(head + body)) {
      if (out->first_error.empty()) out->first_error = std::string("send: ") + std::strerror(errno);
      break;
    }
    started.emplace_back(send_time, n);
    sent_records += n;
    next_id += n;
    k++;
  }
  while (ok && !started.empty()) ok = receive();
}

// --api redis: the same open- or closed-loop schedule against Redis, a batch being `batch`
// pipelined `XADD <stream> * f <record>` commands (hiredis); with appendfsync always Redis
// answers only after its AOF fsync, so the latency compares with Sluice's durable ack. Replies
// are read as they arrive (ppoll + hiredis's reader) while the next batch is not due yet, so a
// batch's latency is its last reply's arrival minus its due time, as for Sluice.
void RunRedisConnection(const BenchOptions& o, const std::string& host, uint16_t port, int index, StartGate* gate,
                        uint64_t records_quota, std::atomic<uint64_t>* progress, ConnResult* out) {
  GateArrival arrival(gate);
  struct timeval tv = {10, 0};
  redisContext* c = redisConnectWithTimeout(host.c_str(), port, tv);
  if (c == nullptr || c->err) {
    out->first_error = std::string("redis: ") + (c ? c->errstr : "cannot connect");
    if (c) redisFree(c);
    return;
  }
  BatchPool pool(o, index);
  const double batches_per_s = o.rate > 0 ? static_cast<double>(o.rate) / o.connections / o.batch : 0;
  std::deque<std::pair<int64_t, size_t>> started;  // (due or send time, commands) per batch in flight
  size_t front_replies = 0, front_ok = 0;
  auto fail = [&](const std::string& why) {
    if (out->first_error.empty()) out->first_error = "redis: " + why;
    return false;
  };
  // Consumes the complete replies hiredis's reader holds.
  auto take = [&]() -> bool {
    for (;;) {
      void* reply = nullptr;
      if (redisGetReplyFromReader(c, &reply) != REDIS_OK) return fail(c->errstr);
      if (reply == nullptr) return true;
      const bool error = static_cast<redisReply*>(reply)->type == REDIS_REPLY_ERROR;
      if (error && out->first_error.empty()) out->first_error = std::string("redis: ") + static_cast<redisReply*>(reply)->str;
      freeReplyObject(reply);
      if (started.empty()) return fail("a reply to nothing sent");
      front_replies++;
      if (error) out->records_failed++;
      else front_ok++;
      if (front_replies == started.front().second) {
        out->batches++;
        out->records_acked += front_ok;
        progress->fetch_add(front_ok, std::memory_order_relaxed);
        out->latency_us.push_back(Micros(NowNs() - started.front().first));
        started.pop_front();
        front_replies = front_ok = 0;
      }
    }
  };
  // Waits up to `timeout_ns` for replies and takes them.
  auto pump = [&](int64_t timeout_ns) -> bool {
    pollfd p{c->fd, POLLIN, 0};
    timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
    int r = ppoll(&p, 1, &ts, nullptr);
    if (r < 0 && errno != EINTR) return fail(std::strerror(errno));
    if (r <= 0) return true;
    if (redisBufferRead(c) != REDIS_OK) return fail(c->errstr);
    return take();
  };
  uint64_t sent_records = 0, k = 0;
  const auto [start_ns, end_ns] = arrival.Wait();
  bool ok = true;
  for (;;) {
    int64_t now = NowNs();
    if (records_quota ? sent_records >= records_quota : now >= end_ns) break;
    int64_t due = now;
    if (batches_per_s > 0) {
      due = DueNs(start_ns, k, index, o.connections, batches_per_s);
      if (!records_quota && due >= end_ns) break;
      while (ok && (now = NowNs()) < due) {
        if (started.empty()) std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
        else ok = pump(due - now);
      }
      out->send_late_us.push_back(Micros(now - due));
    }
    while (ok && started.size() >= o.in_flight) ok = pump(100'000'000);
    if (!ok) break;
    size_t n = o.batch;
    if (records_quota) n = static_cast<size_t>(std::min<uint64_t>(n, records_quota - sent_records));
    const int64_t send_time = batches_per_s > 0 ? due : NowNs();
    for (std::string_view r : pool.Batch(k, n)) {
      const char* argv[] = {"XADD", o.stream.c_str(), "*", "f", r.data()};
      const size_t lens[] = {4, o.stream.size(), 1, 1, r.size()};
      redisAppendCommandArgv(c, 5, argv, lens);
    }
    started.emplace_back(send_time, n);
    int done = 0;
    while (ok && !done) {  // the whole batch goes out now; replies are read as they come
      if (redisBufferWrite(c, &done) != REDIS_OK) ok = fail(c->errstr);
      else if (!done) ok = pump(0);
    }
    if (!ok) break;
    sent_records += n;
    k++;
  }
  const int64_t drain_until = NowNs() + 30'000'000'000;
  while (ok && !started.empty() && NowNs() < drain_until) ok = pump(100'000'000);
  redisFree(c);
}

// Polls the delivered directory; for each new file, each record's freshness is now - its stamp.
class FreshnessWatcher {
 public:
  explicit FreshnessWatcher(std::string dir) : dir_(std::move(dir)) {}
  void Start() { thread_ = std::thread([this] { Loop(); }); }
  void StopAfter(uint64_t expected, int64_t deadline_ns) {
    expected_ = expected;
    deadline_ns_ = deadline_ns;
    stop_.store(true);
    thread_.join();
  }
  std::vector<uint32_t>& latencies_us() { return latencies_; }
  uint64_t seen() const { return seen_records_; }

 private:
  void Scan() {
    std::error_code ec;
    if (!std::filesystem::exists(dir_, ec)) return;
    for (auto it = std::filesystem::recursive_directory_iterator(dir_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string path = it->path().string();
      if (path.find(".tmp") != std::string::npos || !files_.insert(path).second) continue;
      int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
      std::ifstream in(path, std::ios::binary);
      std::string line;
      while (std::getline(in, line)) {
        if (line.size() < 2 || line[0] != 't') continue;
        int64_t t = std::strtoll(line.c_str() + 1, nullptr, 10);
        seen_records_++;
        latencies_.push_back(static_cast<uint32_t>(std::clamp<int64_t>((now - t) / 1000, 0, UINT32_MAX)));
      }
    }
  }
  void Loop() {
    for (;;) {
      Scan();
      if (stop_.load() && (seen_records_ >= expected_ || NowNs() > deadline_ns_)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  std::string dir_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  uint64_t expected_ = 0;  // written before stop_ is set
  int64_t deadline_ns_ = 0;
  std::set<std::string> files_;
  std::vector<uint32_t> latencies_;
  uint64_t seen_records_ = 0;
};

uint64_t PeakRssOf(int pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  return 0;
}

}  // namespace

int RunBench(const BenchOptions& o) {
  client::ClientOptions co;
  const std::vector<std::string> seeds = SplitSeeds(o.addr);
  if (seeds.empty() || !ParseAddr(seeds[0], &co.host, &co.port)) {
    std::fprintf(stderr, "sluice bench: --addr must be HOST:PORT, got '%s'\n", o.addr.c_str());
    return 2;
  }
  co.auth_token = o.auth_token;
  co.client_name = "sluice-bench/0.1";
  co.tls = o.tls.tls;
  co.ca_file = o.tls.ca_file;
  const bool firehose = o.api == "firehose";
  const bool redis = o.api == "redis";
  if (firehose && o.tls.tls) {
    std::fprintf(stderr, "sluice bench: --tls applies to the put port only (not to --api firehose yet)\n");
    return 2;
  }
  if (firehose && (o.batch > 500 || o.record_size > 1024000 || uint64_t(o.batch) * o.record_size > (4u << 20))) {
    std::fprintf(stderr, "sluice bench: --api firehose takes at most 500 records of 1,024,000 bytes and 4 MiB per batch\n");
    return 2;
  }
  if (firehose && seeds.size() > 1) {
    std::fprintf(stderr, "sluice bench: several --addr seeds apply to the put port only (put a load balancer in front "
                         "of the Firehose API ports)\n");
    return 2;
  }
  if (!firehose && !redis) {
    auto probe = BenchConn::Connect(co, seeds);
    if (!probe.ok()) {
      std::fprintf(stderr, "sluice bench: %s\n", probe.status().ToString().c_str());
      return 2;
    }
    const proto::Limits& l = probe.value().server_limits();
    if (o.record_size > l.max_record_bytes || uint64_t(o.batch) * o.record_size > l.max_batch_bytes ||
        o.batch > l.max_batch_records) {
      std::fprintf(stderr, "sluice bench: --batch %u x --record-size %u exceeds the server's limits "
                   "(max_record_bytes %u, max_batch_records %u, max_batch_bytes %u)\n",
                   o.batch, o.record_size, l.max_record_bytes, l.max_batch_records, l.max_batch_bytes);
      return 2;
    }
  }
  std::unique_ptr<FreshnessWatcher> watcher;
  if (!o.freshness_dir.empty()) {
    watcher = std::make_unique<FreshnessWatcher>(o.freshness_dir);
    watcher->Start();
  }
  StartGate gate(o.connections, o.duration_s);  // every connection starts its schedule together
  std::vector<ConnResult> results(o.connections);
  std::atomic<uint64_t> progress{0};
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < o.connections; i++) {
    uint64_t quota = o.records ? o.records / o.connections + (i < o.records % o.connections ? 1 : 0) : 0;
    if (redis)
      threads.emplace_back(RunRedisConnection, std::cref(o), co.host, co.port, static_cast<int>(i), &gate, quota,
                           &progress, &results[i]);
    else if (firehose)
      threads.emplace_back(RunFirehoseConnection, std::cref(o), co.host, co.port, static_cast<int>(i), &gate, quota,
                           &progress, &results[i]);
    else
      threads.emplace_back(RunConnection, std::cref(o), std::cref(co), static_cast<int>(i), &gate, quota,
                           &progress, &results[i]);
  }
  const bool tty = isatty(STDERR_FILENO) && !o.json;
  std::atomic<bool> running{true};
  std::thread reporter;
  if (tty) {
    reporter = std::thread([&] {
      uint64_t last = 0;
      while (running.load()) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        uint64_t now = progress.load();
        std::fprintf(stderr, "\rsluice bench: %" PRIu64 " records acked, %.0f records/s   ", now,
                     static_cast<double>(now - last));
        last = now;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::max(1e-9, static_cast<double>(NowNs() - gate.start_ns()) / 1e9);
  running.store(false);
  if (reporter.joinable()) reporter.join();
  if (tty) std::fputc('\n', stderr);

  ConnResult all;
  for (auto& r : results) {
    all.records_acked += r.records_acked;
    all.records_failed += r.records_failed;
    all.records_throttled += r.records_throttled;
    all.batches += r.batches;
    all.latency_us.insert(all.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
    all.send_late_us.insert(all.send_late_us.end(), r.send_late_us.begin(), r.send_late_us.end());
    if (all.first_error.empty()) all.first_error = r.first_error;
  }
  Percentiles lat = Compute(all.latency_us);
  Percentiles late = Compute(all.send_late_us);
  Percentiles fresh;
  uint64_t fresh_seen = 0;
  if (watcher) {
    watcher->StopAfter(all.records_acked, NowNs() + int64_t(o.freshness_timeout_s) * 1'000'000'000);
    fresh_seen = watcher->seen();
    fresh = Compute(watcher->latencies_us());
  }
  const double rps = static_cast<double>(all.records_acked) / elapsed;
  const double mbps = rps * o.record_size / 1e6;
  const uint64_t rss = PeakRssOf(o.server_pid);
  if (o.json) {
    std::printf("{\"api\":\"%s\",\"payload\":\"%s\",\"connections\":%u,\"batch\":%u,\"record_size\":%u,\"in_flight\":%u,\"rate\":%" PRIu64
                ",\"seconds\":%.3f,\"records_acked\":%" PRIu64 ",\"records_failed\":%" PRIu64
                ",\"records_throttled\":%" PRIu64 ",\"records_per_s\":%.0f,\"mb_per_s\":%.1f,"
                "\"ack_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}",
                o.api.c_str(), PayloadName(o.payload_kind), o.connections, o.batch, o.record_size, o.in_flight, o.rate, elapsed, all.records_acked,
                all.records_failed, all.records_throttled, rps, mbps, lat.p50, lat.p99, lat.p999, lat.max);
    if (o.rate)
      std::printf(",\"send_late_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}", late.p50, late.p99,
                  late.p999, late.max);
    if (watcher)
      std::printf(",\"freshness_ms\":{\"records\":%" PRIu64 ",\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}", fresh_seen,
                  fresh.p50, fresh.p99, fresh.max);
    if (rss) std::printf(",\"server_peak_rss_bytes\":%" PRIu64, rss);
    std::printf(",\"first_error\":\"");
    for (char ch : all.first_error) std::printf(ch == '"' || ch == '\\' ? "\\%c" : "%c", ch);
    std::printf("\"}\n");
  } else {
    std::printf("records acked    %" PRIu64 " in %.2f s (%u connections, batch %u, %u in flight, %u B %s records%s)\n",
                all.records_acked, elapsed, o.connections, o.batch, o.in_flight, o.record_size, PayloadName(o.payload_kind),
                o.rate ? (", offered " + std::to_string(o.rate) + " records/s").c_str() : "");
    std::printf("throughput       %.0f records/s, %.1f MB/s\n", rps, mbps);
    std::printf("ack latency      p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n", lat.p50, lat.p99,
                lat.p999, lat.max);
    if (o.rate)
      std::printf("send lateness    p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms (this driver's wake-ups, inside the above)\n",
                  late.p50, late.p99, late.p999, late.max);
    std::printf("errors           %" PRIu64 " failed, %" PRIu64 " throttled%s%s\n", all.records_failed,
                all.records_throttled, all.first_error.empty() ? "" : "; first: ", all.first_error.c_str());
    if (watcher)
      std::printf("freshness        %" PRIu64 " records delivered; put -> file p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                  fresh_seen, fresh.p50, fresh.p99, fresh.max);
    if (rss) std::printf("server peak RSS  %.1f MiB\n", static_cast<double>(rss) / (1 << 20));
  }
  bool complete = all.records_failed == 0 && all.first_error.empty() && (!o.records || all.records_acked == o.records) &&
                  (!watcher || fresh_seen >= all.records_acked);
  return complete ? 0 : 1;
}

}  // namespace sluice::cli
