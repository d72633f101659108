// ClusterAgent: this node's link to the cluster's etcd: its membership lease, its view of the
// catalog and of the other members, and the catalog writes main asks for.
//
// Design: two threads of its own, so that nothing on main or a shard waits for etcd unless it
// asked to write the catalog.
//   - the keeper: every second renews the node's lease (TTL cluster_lease_ttl_s) and rewrites
//     its member record with its load; a lease etcd no longer knows is replaced (the node rejoins).
//   - the watcher: reads everything under the cluster prefix once, then watches it from the next
//     revision; after any failure it reads everything again. Each change builds a new immutable
//     ClusterView and wakes main (one wake-up pending at most), which reconciles its streams with
//     it (StreamManager::ApplyCluster).
// Catalog writes (PutStream and friends) are etcd transactions run on the caller's thread
// (main), bounded by cluster_timeout_ms; they compare on the key's revision, so of two nodes
// changing one stream from the same revision exactly one wins.
// When etcd is unreachable, the last view stays in force (reachable() says so), writes fail with
// kUnavailable, and the threads keep trying; records are never involved.
// Thread: view(), reachable() and the write calls from any thread; Start/Stop on main.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "server/cluster/etcd_client.h"
#include "server/cluster/records.h"

namespace sluice::server::cluster {

struct ClusterOptions {
  std::vector<std::string> endpoints;
  std::string prefix = "/sluice/";
  std::string node_id;   // whose data directory this process runs on
  std::string data_dir;  // absolute
  // Who delivers that directory: node_id, or the adopting node when this process only delivers a
  // dead node's backlog (sluiced --drain-for). A draining process is not a member.
  std::string holder;
  bool member = true;
  int64_t lease_ttl_s = 5;
  uint32_t timeout_ms = 2000;
};

struct CatalogEntry {
  StreamRecord record;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
};

// One consistent picture of what is under the prefix, at `revision`. Immutable once published.
struct ClusterView {
  int64_t revision = 0;
  bool complete = false;  // read from etcd at least once (else: nothing is known yet)
  std::map<std::string, MemberRecord> members;  // live nodes (their lease holds)
  std::map<std::string, NodeRecord> nodes;      // every node that joined and was not forgotten
  std::map<std::string, CatalogEntry> streams;
  // stream -> node -> the create_revision of the stream key it drained
  std::map<std::string, std::map<std::string, int64_t>> drained;
  std::map<std::string, std::pair<OwnerRecord, int64_t>> owners;  // node -> (record, mod_revision)
};
using ClusterViewPtr = std::shared_ptr<const ClusterView>;

// What the keeper writes into the member record each second; filled by main.
struct NodeLoad {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> incoming_records{0};
  std::atomic<uint64_t> backlog_bytes{0};
  std::atomic<bool> draining{false};
};

class ClusterAgent {
 public:
  // wake: called from the watcher when a new view is published (posts to main).
  ClusterAgent(ClusterOptions options, std::function<void()> wake);
  ~ClusterAgent();
  ClusterAgent(const ClusterAgent&) = delete;
  ClusterAgent& operator=(const ClusterAgent&) = delete;

  // At start, before delivery starts: takes owners/<node_id> for `holder` with a new lease, and
  // remembers the key's revision (the fencing revision). kBusy when another holder has it (the
  // directory is adopted) or, for a member, when nodes/<id> names another data directory;
  // kUnavailable when etcd cannot be reached (the keeper then takes it when etcd answers, and
  // fences this process if someone else holds it by then).
  base::Status AcquireOwnership();
  // Once the ports listen (members only): nodes/<id> and the leased members/<id>.
  base::Status Join(MemberRecord self);
  // Called once, from the agent's threads, when this process stops owning its data directory
  // (the owner key moved to another holder or its lease expired): it must stop delivering now.
  void SetFencedHandler(std::function<void(const std::string& why)> fn) { on_fenced_ = std::move(fn); }
  bool fenced() const { return fenced_.load(); }
  // The watcher (before Join: the catalog is applied before the ports listen); the keeper (after).
  void StartWatch();
  void StartKeeper();
  // Shutting down: the member record goes now (clients stop choosing this node) while the lease,
  // and the ownership it holds, stay until Stop.
  void Withdraw();
  // Stops the threads and revokes the lease (the owner key goes with it). After delivery stopped.
  void Stop();

  ClusterViewPtr view() const;
  bool reachable() const { return reachable_.load(std::memory_order_relaxed); }
  NodeLoad& load() { return load_; }
  const ClusterOptions& options() const { return options_; }
  std::string Key(std::string_view kind, std::string_view name) const;

  // Catalog writes (main). Each returns the revision that now holds the change, or kUnavailable
  // (etcd unreachable) / kAlreadyExists (create: the name is taken) / kInvalidArgument with
  // "is not the stream's current version" (the key moved since expected_mod_revision).
  // expected_mod_revision 0: create (the key must not exist).
  base::Result<int64_t> PutStream(const StreamRecord& record, int64_t expected_mod_revision);
  base::Status MarkDrained(const std::string& stream, int64_t create_revision);
  // Removes a stream every node has drained, with its drained marks (no-op if it moved).
  base::Status FinishDelete(const std::string& stream, int64_t mod_revision);
  // CLUSTER FORGET: removes a node that is not live from nodes/ (its drained marks stop being awaited).
  base::Status Forget(const std::string& node);

 private:
  void KeeperLoop();
  // Takes the owner key (see AcquireOwnership); needs a lease. kBusy when another holder has it.
  base::Status TakeOwner();
  // One read and one transaction: false when the key changed between them.
  base::Result<bool> TryTakeOwner();
  void Fence(const std::string& why);
  // The fencing check against a newly published view (watcher thread).
  void CheckOwner(const ClusterView& v);
  void WatchLoop();
  // Rebuilds the view from a full range read; false when etcd could not be read.
  bool Resync(int64_t* revision);
  void ApplyEvent(ClusterView* v, const WatchEvent& ev);
  void Publish(std::shared_ptr<ClusterView> v);
  base::Status PutMember();
  void NoteWritten(int64_t revision);
  bool Sleep(int ms);  // false when stopping

  const ClusterOptions options_;
  std::function<void()> wake_;
  EtcdClient etcd_;
  NodeLoad load_;
  std::atomic<bool> reachable_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> lease_{0};
  std::atomic<bool> owned_{false};
  std::atomic<int64_t> fence_revision_{0};  // owners/<node_id>'s mod_revision when we took it
  std::atomic<bool> fenced_{false};
  std::atomic<bool> joined_{false};
  std::atomic<bool> withdrawn_{false};  // shutting down: the keeper writes no member record
  // Watch liveness: the newest revision any of our own writes produced, and the newest the watch
  // delivered. A watch that lags behind our own writes for 3 s is stuck (etcd restarting can
  // leave one that never delivers) and is started again from a full read.
  std::atomic<int64_t> written_revision_{0};
  std::atomic<int64_t> watched_revision_{0};  // the member record exists (Join succeeded or the keeper wrote it)
  std::function<void(const std::string&)> on_fenced_;
  MemberRecord self_;  // keeper's thread after Start (Join before)

  mutable base::Mutex mu_;
  ClusterViewPtr view_ SLUICE_GUARDED_BY(mu_);
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::thread keeper_;
  std::thread watcher_;
};

}  // namespace sluice::server::cluster
