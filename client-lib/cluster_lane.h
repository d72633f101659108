// ClusterLane: one pipelined connection to a Sluice cluster that moves to another node when its
// node fails, sending every unacknowledged batch again there (at-least-once, as a single
// connection's client must do by hand).
//
// Design: the lane keeps a copy of each batch until its response arrives (the window). Any
// connection failure (send, receive, a closing Error) ends that connection; the lane then asks a
// live node for the member list (DescribeCluster), connects to the next live member in its
// rotation, skipping nodes that failed in the last two seconds, and resends the window in order.
// It keeps trying for failover_timeout_ms, then reports kUnavailable. Lanes of one process start
// on different members (a process-wide counter), which spreads N lanes over the members.
// Thread: one thread at a time (Send and Receive from the same thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "client-lib/client.h"

namespace sluice::client {

struct ClusterLaneOptions {
  std::vector<std::string> seeds;  // "host:port" of the put ports of some nodes
  ClientOptions connection;        // auth, TLS, timeouts, client name (host and port: ignored)
  int failover_timeout_ms = 30000;
  // How often a lane checks whether its node carries more connections than another live member
  // (by 2 or more, as the members report them) and moves there: so lanes spread again after a
  // node returns. It moves only with nothing in flight (wants_rebalance() asks the caller to let
  // the window drain). 0: never.
  int rebalance_interval_ms = 10000;
};

// "host:port" (IPv6 in brackets) into its parts; false when it is not one.
bool SplitHostPort(std::string_view addr, std::string* host, uint16_t* port);

class ClusterLane {
 public:
  // Connects to a live member (learning the members from the first seed that answers).
  static base::Result<std::unique_ptr<ClusterLane>> Connect(const ClusterLaneOptions& options);

  // Sends a batch (kept until answered). Fails over as needed; kUnavailable when no node took it
  // within failover_timeout_ms; kInvalidArgument / kTooLarge for a batch no node would take.
  base::Result<uint64_t> Send(std::string_view stream, std::span<const std::string_view> records);
  // The oldest unanswered batch's result and its id (from Send), failing over as needed.
  base::Result<std::pair<uint64_t, PutResult>> Receive();
  size_t in_flight() const { return window_.size(); }
  // True when a rebalance check is due: send nothing more until in_flight() is 0 (the Receive
  // that empties the window checks, and perhaps moves, at once).
  bool wants_rebalance() const { return want_rebalance_; }
  const proto::Limits& server_limits() const { return client_->server_limits(); }
  // The node this lane talks to now, and how many times it moved.
  const std::string& node() const { return node_; }
  uint64_t failovers() const { return failovers_; }
  const std::vector<proto::MemberInfo>& members() const { return members_; }

 private:
  struct Batch {
    uint64_t id;
    std::string stream;
    std::vector<std::string> records;
  };
  explicit ClusterLane(ClusterLaneOptions options) : options_(std::move(options)) {}
  // Connects to some live node and resends the window; loops until failover_timeout_ms.
  base::Status Failover(const base::Status& why);
  // One attempt: the member list (from a live node), then a connection to the next candidate.
  base::Status ConnectOnce();
  base::Status SendBatch(const Batch& b);
  // With nothing in flight: asks the current node for the members and moves to a live member with
  // at least 2 fewer connections than this lane's node. Failures leave the lane where it is.
  void Rebalance();

  ClusterLaneOptions options_;
  std::unique_ptr<Client> client_;
  std::string node_;     // member id (or address) of client_
  std::string address_;  // host:port of client_
  std::vector<proto::MemberInfo> members_;
  std::map<std::string, std::chrono::steady_clock::time_point> failed_;  // address -> when
  std::deque<Batch> window_;
  uint64_t next_id_ = 1;
  uint64_t failovers_ = 0;
  size_t rotation_ = 0;
  bool want_rebalance_ = false;
  std::chrono::steady_clock::time_point next_rebalance_ = std::chrono::steady_clock::now();
};

}  // namespace sluice::client
