// ClusterLane: a pipelined connection that fails over to another node with its window.
#include "client-lib/cluster_lane.h"

#include <atomic>
#include <charconv>
#include <thread>

namespace sluice::client {
namespace {

std::atomic<size_t> g_next_lane{0};
constexpr auto kAvoidFailed = std::chrono::seconds(2);

}  // namespace

bool SplitHostPort(std::string_view addr, std::string* host, uint16_t* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == addr.size()) return false;
  std::string_view h = addr.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  unsigned p = 0;
  std::string_view ps = addr.substr(colon + 1);
  auto [end, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), p);
  if (ec != std::errc() || end != ps.data() + ps.size() || p == 0 || p > 65535) return false;
  *host = std::string(h);
  *port = static_cast<uint16_t>(p);
  return true;
}

base::Result<std::unique_ptr<ClusterLane>> ClusterLane::Connect(const ClusterLaneOptions& options) {
  if (options.seeds.empty()) return base::InvalidArgument("a cluster connection needs at least one seed address");
  for (const std::string& s : options.seeds) {
    std::string host;
    uint16_t port = 0;
    if (!SplitHostPort(s, &host, &port)) return base::InvalidArgument("seed '" + s + "' is not HOST:PORT");
  }
  std::unique_ptr<ClusterLane> lane(new ClusterLane(options));
  lane->rotation_ = g_next_lane.fetch_add(1);
  lane->next_rebalance_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.rebalance_interval_ms);
  base::Status st = lane->ConnectOnce();
  if (!st.ok()) return st;
  return lane;
}

base::Status ClusterLane::ConnectOnce() {
  const auto now = std::chrono::steady_clock::now();
  auto recently_failed = [&](const std::string& addr) {
    auto it = failed_.find(addr);
    return it != failed_.end() && now - it->second < kAvoidFailed;
  };
  auto connect = [&](const std::string& addr) -> base::Result<std::unique_ptr<Client>> {
    ClientOptions co = options_.connection;
    if (!SplitHostPort(addr, &co.host, &co.port)) return base::InvalidArgument("'" + addr + "' is not HOST:PORT");
    auto c = Client::Connect(co);
    if (!c.ok()) {
      failed_[addr] = now;
      // Refusals that another node would repeat are not the node's fault: report them as they are.
      if (c.status().code() == base::Code::kUnauthenticated) return c.status();
      return base::Unavailable(addr + ": " + c.status().message());
    }
    return c;
  };

  // 1. A live node that tells us the members: the known members first, then the seeds.
  std::vector<std::string> candidates;
  for (const auto& m : members_)
    if (m.state == "active") candidates.push_back(m.address);
  for (const std::string& s : options_.seeds) candidates.push_back(s);
  std::stable_partition(candidates.begin(), candidates.end(), [&](const std::string& a) { return !recently_failed(a); });
  std::unique_ptr<Client> probe;
  std::string probe_addr;
  Client::ClusterDescription described;
  base::Status last = base::Unavailable("no node to try");
  for (const std::string& addr : candidates) {
    auto c = connect(addr);
    if (!c.ok()) {
      if (c.status().code() == base::Code::kUnauthenticated) return c.status();
      last = c.status();
      continue;
    }
    auto d = c.value()->DescribeCluster();
    if (!d.ok()) {
      failed_[addr] = now;
      last = base::Unavailable(addr + ": " + d.status().message());
      continue;
    }
    probe = std::move(c).value();
    probe_addr = addr;
    described = std::move(d).value();
    break;
  }
  if (!probe) return last;
  if (!described.cluster) {  // a single node: stay on it
    members_.clear();
    client_ = std::move(probe);
    node_ = described.node.empty() ? probe_addr : described.node;
    address_ = probe_addr;
    return base::Status::Ok();
  }
  members_ = described.members;

  // 2. This lane's member: the next live one in its rotation.
  std::vector<const proto::MemberInfo*> live;
  for (const auto& m : members_)
    if (m.state == "active" && !recently_failed(m.address)) live.push_back(&m);
  if (!live.empty()) {
    const proto::MemberInfo* target = live[rotation_++ % live.size()];
    if (target->node != described.node) {
      auto c = connect(target->address);
      if (c.ok()) {
        client_ = std::move(c).value();
        node_ = target->node;
        address_ = target->address;
        return base::Status::Ok();
      }
      if (c.status().code() == base::Code::kUnauthenticated) return c.status();
      // Fall back to the node that just answered: it is live.
    }
  }
  client_ = std::move(probe);
  node_ = described.node;
  address_ = probe_addr;
  return base::Status::Ok();
}

base::Status ClusterLane::SendBatch(const Batch& b) {
  std::vector<std::string_view> views(b.records.begin(), b.records.end());
  return client_->SendPutRecordBatch(b.stream, views).status();
}

base::Status ClusterLane::Failover(const base::Status& why) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.failover_timeout_ms);
  if (!address_.empty()) failed_[address_] = std::chrono::steady_clock::now();
  client_.reset();
  base::Status last = why;
  while (std::chrono::steady_clock::now() < deadline) {
    base::Status st = ConnectOnce();
    if (st.code() == base::Code::kUnauthenticated) return st;
    if (st.ok()) {
      failovers_++;
      // The window again, in order: each batch may or may not have been stored by the node that
      // failed (at-least-once).
      for (const Batch& b : window_) {
        st = SendBatch(b);
        if (!st.ok()) break;
      }
      if (st.ok()) return base::Status::Ok();
      failed_[address_] = std::chrono::steady_clock::now();
      client_.reset();
    }
    last = st;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return base::Unavailable("no node of the cluster took the batches within " +
                           std::to_string(options_.failover_timeout_ms) + " ms (last: " + last.message() + ")");
}

void ClusterLane::Rebalance() {
  want_rebalance_ = false;
  next_rebalance_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.rebalance_interval_ms);
  if (client_ == nullptr || !window_.empty() || members_.empty()) return;  // a single node: nowhere to go
  auto d = client_->DescribeCluster();
  if (!d.ok()) return;  // the next send finds out whether the connection is broken
  members_ = d->members;
  const proto::MemberInfo* mine = nullptr;
  const proto::MemberInfo* least = nullptr;
  for (const auto& m : members_) {
    if (m.node == node_) mine = &m;
    else if (m.state == "active" && (least == nullptr || m.connections < least->connections)) least = &m;
  }
  if (mine == nullptr || least == nullptr || mine->connections < least->connections + 2) return;
  ClientOptions co = options_.connection;
  if (!SplitHostPort(least->address, &co.host, &co.port)) return;
  auto c = Client::Connect(co);
  if (!c.ok()) return;
  client_ = std::move(c).value();
  node_ = least->node;
  address_ = least->address;
}

base::Result<uint64_t> ClusterLane::Send(std::string_view stream, std::span<const std::string_view> records) {
  if (client_ == nullptr) RETURN_IF_ERROR(Failover(base::Unavailable("not connected")));
  if (options_.rebalance_interval_ms > 0 && !members_.empty() && std::chrono::steady_clock::now() >= next_rebalance_) {
    if (window_.empty()) Rebalance();
    else want_rebalance_ = true;
  }
  Batch b{next_id_++, std::string(stream), std::vector<std::string>(records.begin(), records.end())};
  window_.push_back(std::move(b));
  base::Status st = SendBatch(window_.back());
  if (st.code() == base::Code::kInvalidArgument || st.code() == base::Code::kTooLarge) {
    window_.pop_back();  // refused before anything was sent: no node would take it
    return st;
  }
  if (!st.ok()) RETURN_IF_ERROR(Failover(st));  // resends the whole window, this batch included
  return window_.back().id;
}

base::Result<std::pair<uint64_t, PutResult>> ClusterLane::Receive() {
  if (window_.empty()) return base::InvalidArgument("no batch in flight");
  for (;;) {
    if (client_ == nullptr) RETURN_IF_ERROR(Failover(base::Unavailable("not connected")));
    auto r = client_->ReceivePutResult();
    if (r.ok()) {
      uint64_t id = window_.front().id;
      window_.pop_front();
      if (want_rebalance_ && window_.empty()) Rebalance();
      return std::make_pair(id, std::move(r).value());
    }
    RETURN_IF_ERROR(Failover(r.status()));
  }
}

}  // namespace sluice::client
