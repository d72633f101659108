// ClusterAgent: the membership lease, the watched view of the cluster, and catalog transactions.
#include "server/cluster/cluster_agent.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "base/clock.h"
#include "base/log.h"
#include "base/thread_entry.h"

namespace sluice::server::cluster {

ClusterAgent::ClusterAgent(ClusterOptions options, std::function<void()> wake)
    : options_(std::move(options)),
      wake_(std::move(wake)),
      etcd_(options_.endpoints, options_.timeout_ms),
      view_(std::make_shared<ClusterView>()) {}

ClusterAgent::~ClusterAgent() { Stop(); }

std::string ClusterAgent::Key(std::string_view kind, std::string_view name) const {
  std::string k = options_.prefix;
  k.append(kind).append("/").append(name);
  return k;
}

ClusterViewPtr ClusterAgent::view() const {
  base::MutexLock lock(mu_);
  return view_;
}

base::Status ClusterAgent::PutMember() {
  MemberRecord m = self_;
  m.state = load_.draining.load() ? "draining" : "active";
  m.updated_ms = base::Clock::Real()->NowUnixMillis();
  m.connections = load_.connections.load(std::memory_order_relaxed);
  m.incoming_records = load_.incoming_records.load(std::memory_order_relaxed);
  m.backlog_bytes = load_.backlog_bytes.load(std::memory_order_relaxed);
  Txn txn;
  txn.puts.push_back({Key("members", options_.node_id), Encode(m), lease_.load()});
  ASSIGN_OR_RETURN(TxnResult r, etcd_.Commit(txn));
  NoteWritten(r.revision);
  return base::Status::Ok();
}

void ClusterAgent::NoteWritten(int64_t revision) {
  int64_t cur = written_revision_.load();
  while (revision > cur && !written_revision_.compare_exchange_weak(cur, revision)) {
  }
}

base::Status ClusterAgent::TakeOwner() {
  if (options_.member) {
    // Is this id someone else's? nodes/<id> names the data directory the id belongs to.
    ASSIGN_OR_RETURN(RangeResult node, etcd_.Get(Key("nodes", options_.node_id)));
    if (!node.kvs.empty()) {
      auto rec = DecodeNode(node.kvs[0].value);
      if (rec.ok() && rec->data_dir != options_.data_dir)
        return base::Status(base::Code::kBusy, "node id '" + options_.node_id + "' belongs to the data directory " +
                                                   rec->data_dir + " (this one is " + options_.data_dir +
                                                   "): choose another --node-id, or CLUSTER FORGET " +
                                                   options_.node_id + " first");
    }
  }
  // The key can change between the read and the transaction without anyone taking it: the lease
  // of our own killed run expires and etcd deletes the key. So a failed compare reads it again;
  // only another holder is a refusal.
  for (int attempt = 0; attempt < 5; attempt++) {
    ASSIGN_OR_RETURN(bool taken, TryTakeOwner());
    if (taken) return base::Status::Ok();
  }
  return base::Status(base::Code::kBusy, "the owner key of node " + options_.node_id + " kept changing (5 tries)");
}

base::Result<bool> ClusterAgent::TryTakeOwner() {
  const std::string key = Key("owners", options_.node_id);
  ASSIGN_OR_RETURN(RangeResult cur, etcd_.Get(key));
  Txn txn;
  if (!cur.kvs.empty()) {
    auto rec = DecodeOwner(cur.kvs[0].value);
    // Our own earlier run (killed before its lease ran out) may be replaced: the data directory
    // lock we hold proves it is gone. Any other holder may be delivering this directory now.
    if (!rec.ok() || rec->holder != options_.holder)
      return base::Status(base::Code::kBusy,
                          "the data directory of node " + options_.node_id + " is being delivered by node " +
                              (rec.ok() ? rec->holder : std::string("?")) +
                              " (adopted while this node was down); it is released when that node has delivered "
                              "its backlog, or at once with CLUSTER RELEASE " + options_.node_id + " on it");
    txn.compare.push_back({key, Txn::Compare::kModRevision, cur.kvs[0].mod_revision});
  } else {
    txn.compare.push_back({key, Txn::Compare::kCreateRevision, 0});
  }
  OwnerRecord o{options_.node_id, options_.holder, base::Clock::Real()->NowUnixMillis()};
  txn.puts.push_back({key, Encode(o), lease_.load()});
  ASSIGN_OR_RETURN(TxnResult r, etcd_.Commit(txn));
  if (!r.succeeded) return false;
  NoteWritten(r.revision);
  fence_revision_.store(r.revision);
  owned_.store(true);
  SLUICE_LOG_INFO("cluster", "%s owns the data directory of node %s (fencing revision %lld)", options_.holder.c_str(),
                  options_.node_id.c_str(), static_cast<long long>(r.revision));
  return true;
}

base::Status ClusterAgent::AcquireOwnership() {
  ASSIGN_OR_RETURN(int64_t lease, etcd_.Grant(options_.lease_ttl_s));
  lease_.store(lease);
  reachable_.store(true);
  return TakeOwner();
}

base::Status ClusterAgent::Join(MemberRecord self) {
  self_ = std::move(self);
  if (lease_.load() == 0) {
    ASSIGN_OR_RETURN(int64_t granted, etcd_.Grant(options_.lease_ttl_s));
    lease_.store(granted);
  }
  // A member record of an earlier run of this node is replaced (the data directory lock proves
  // that run is gone); revoking its lease also drops whatever else it held.
  ASSIGN_OR_RETURN(RangeResult member, etcd_.Get(Key("members", options_.node_id)));
  if (!member.kvs.empty() && member.kvs[0].lease != 0 && member.kvs[0].lease != lease_.load())
    (void)etcd_.Revoke(member.kvs[0].lease);
  ASSIGN_OR_RETURN(RangeResult node, etcd_.Get(Key("nodes", options_.node_id)));
  Txn txn;
  NodeRecord n{options_.node_id, options_.data_dir, base::Clock::Real()->NowUnixMillis()};
  if (node.kvs.empty()) txn.puts.push_back({Key("nodes", options_.node_id), Encode(n), 0});
  MemberRecord m = self_;
  m.state = "active";
  m.updated_ms = n.joined_ms;
  txn.puts.push_back({Key("members", options_.node_id), Encode(m), lease_.load()});
  RETURN_IF_ERROR(etcd_.Commit(txn).status());
  joined_.store(true);
  SLUICE_LOG_INFO("cluster", "joined the cluster as node %s (lease %lld, TTL %llds)", options_.node_id.c_str(),
                  static_cast<long long>(lease_.load()), static_cast<long long>(options_.lease_ttl_s));
  return base::Status::Ok();
}

void ClusterAgent::Fence(const std::string& why) {
  if (fenced_.exchange(true)) return;
  owned_.store(false);
  SLUICE_LOG_ERROR("cluster", "FENCED: %s; delivery from the data directory of node %s stops now", why.c_str(),
                   options_.node_id.c_str());
  if (on_fenced_) on_fenced_(why);
}

void ClusterAgent::CheckOwner(const ClusterView& v) {
  if (!owned_.load() || fenced_.load() || v.revision < fence_revision_.load()) return;
  auto it = v.owners.find(options_.node_id);
  if (it == v.owners.end())
    return Fence("the owner key of node " + options_.node_id + " is gone (its lease expired or was revoked)");
  if (it->second.first.holder != options_.holder || it->second.second != fence_revision_.load())
    return Fence("node " + it->second.first.holder + " took over the data directory of node " + options_.node_id +
                 " (owner key revision " + std::to_string(it->second.second) + ", ours " +
                 std::to_string(fence_revision_.load()) + ")");
}

void ClusterAgent::StartWatch() {
  watcher_ = std::thread([this] { base::RunThreadEntry("cluster-watch", [this] { WatchLoop(); }); });
}

void ClusterAgent::StartKeeper() {
  keeper_ = std::thread([this] { base::RunThreadEntry("cluster-keeper", [this] { KeeperLoop(); }); });
}

void ClusterAgent::Withdraw() {
  if (!options_.member || withdrawn_.exchange(true)) return;
  Txn txn;
  txn.deletes.push_back(Key("members", options_.node_id));
  base::Status st = etcd_.Commit(txn).status();
  if (!st.ok()) SLUICE_LOG_WARN("cluster", "could not withdraw the member record: %s", st.ToString().c_str());
}

void ClusterAgent::Stop() {
  if (stop_.exchange(true)) return;
  sleep_cv_.notify_all();
  if (keeper_.joinable()) keeper_.join();
  if (watcher_.joinable()) watcher_.join();
  if (int64_t lease = lease_.exchange(0); lease != 0) {
    base::Status st = etcd_.Revoke(lease);
    if (!st.ok())
      SLUICE_LOG_WARN("cluster", "could not leave the cluster cleanly (the member record goes when its lease expires): %s",
                      st.ToString().c_str());
  }
}

bool ClusterAgent::Sleep(int ms) {
  std::unique_lock<std::mutex> lock(sleep_mu_);
  sleep_cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_.load(); });
  return !stop_.load();
}

void ClusterAgent::KeeperLoop() {
  bool warned = false;
  while (Sleep(1000)) {
    if (fenced_.load()) continue;
    base::Status st = base::Status::Ok();
    int64_t lease = lease_.load();
    if (lease == 0) {
      auto granted = etcd_.Grant(options_.lease_ttl_s);
      st = granted.status();
      if (granted.ok()) lease_.store(granted.value());
    } else {
      auto ttl = etcd_.KeepAlive(lease);
      st = ttl.status();
      if (ttl.ok() && ttl.value() == 0) {
        // The lease is gone, and the owner key with it: another node may adopt this directory.
        lease_.store(0);
        if (owned_.load()) {
          Fence("this process's lease expired in etcd (no renewal for " + std::to_string(options_.lease_ttl_s) + " s)");
          continue;
        }
        joined_.store(false);
      }
    }
    if (st.ok() && lease_.load() != 0 && !owned_.load()) {
      st = TakeOwner();
      if (st.code() == base::Code::kBusy) {
        Fence(st.message());
        continue;
      }
    }
    if (st.ok() && lease_.load() != 0 && options_.member && !withdrawn_.load()) {
      st = joined_.load() ? PutMember() : Join(self_);
      if (st.ok()) joined_.store(true);
    }
    if (!st.ok()) {
      if (!warned) SLUICE_LOG_WARN("cluster", "etcd: %s; the node keeps running on its last view", st.ToString().c_str());
      warned = true;
      reachable_.store(false);
      continue;
    }
    if (warned) SLUICE_LOG_INFO("cluster", "etcd is reachable again");
    warned = false;
    reachable_.store(true);
  }
}

void ClusterAgent::Publish(std::shared_ptr<ClusterView> v) {
  CheckOwner(*v);
  {
    base::MutexLock lock(mu_);
    view_ = std::move(v);
  }
  wake_();
}

namespace {
bool Under(std::string_view key, std::string_view prefix, std::string_view* rest) {
  if (key.substr(0, prefix.size()) != prefix) return false;
  *rest = key.substr(prefix.size());
  return true;
}
}  // namespace

void ClusterAgent::ApplyEvent(ClusterView* v, const WatchEvent& ev) {
  std::string_view rest;
  const std::string& key = ev.kv.key;
  auto refuse = [&](const base::Status& st) {
    SLUICE_LOG_ERROR("cluster", "ignoring etcd key %.200s: %s", key.c_str(), st.ToString().c_str());
  };
  if (!Under(key, options_.prefix, &rest)) return;
  std::string_view name;
  if (Under(rest, "members/", &name)) {
    if (ev.deleted) {
      v->members.erase(std::string(name));
      return;
    }
    auto m = DecodeMember(ev.kv.value);
    if (!m.ok() || m->node != name) return refuse(m.ok() ? base::Corruption("its node is not its key's") : m.status());
    v->members[std::string(name)] = std::move(m).value();
  } else if (Under(rest, "nodes/", &name)) {
    if (ev.deleted) {
      v->nodes.erase(std::string(name));
      return;
    }
    auto n = DecodeNode(ev.kv.value);
    if (!n.ok() || n->node != name) return refuse(n.ok() ? base::Corruption("its node is not its key's") : n.status());
    v->nodes[std::string(name)] = std::move(n).value();
  } else if (Under(rest, "streams/", &name)) {
    if (ev.deleted) {
      v->streams.erase(std::string(name));
      v->drained.erase(std::string(name));
      return;
    }
    auto s = DecodeStream(ev.kv.value);
    if (!s.ok() || s->name != name) return refuse(s.ok() ? base::Corruption("its name is not its key's") : s.status());
    v->streams[std::string(name)] = CatalogEntry{std::move(s).value(), ev.kv.create_revision, ev.kv.mod_revision};
  } else if (Under(rest, "drained/", &name)) {
    size_t slash = name.find('/');
    if (slash == std::string_view::npos) return refuse(base::Corruption("not drained/<stream>/<node>"));
    std::string stream(name.substr(0, slash)), node(name.substr(slash + 1));
    if (ev.deleted) {
      auto it = v->drained.find(stream);
      if (it != v->drained.end()) it->second.erase(node);
      return;
    }
    int64_t rev = 0;
    auto [p, ec] = std::from_chars(ev.kv.value.data(), ev.kv.value.data() + ev.kv.value.size(), rev);
    if (ec != std::errc() || p != ev.kv.value.data() + ev.kv.value.size() || !IsValidNodeId(node))
      return refuse(base::Corruption("a drained mark is '<revision>' under drained/<stream>/<node>"));
    v->drained[stream][node] = rev;
  } else if (Under(rest, "owners/", &name)) {
    if (ev.deleted) {
      v->owners.erase(std::string(name));
      return;
    }
    auto o = DecodeOwner(ev.kv.value);
    if (!o.ok() || o->node != name) return refuse(o.ok() ? base::Corruption("its node is not its key's") : o.status());
    v->owners[std::string(name)] = {std::move(o).value(), ev.kv.mod_revision};
  }
}

bool ClusterAgent::Resync(int64_t* revision) {
  auto all = etcd_.GetPrefix(options_.prefix);
  if (!all.ok()) {
    reachable_.store(false);
    return false;
  }
  auto v = std::make_shared<ClusterView>();
  for (const KeyValue& kv : all->kvs) ApplyEvent(v.get(), WatchEvent{false, kv});
  v->revision = all->revision;
  v->complete = true;
  *revision = all->revision;
  watched_revision_.store(all->revision);
  Publish(std::move(v));
  return true;
}

void ClusterAgent::WatchLoop() {
  bool warned = false;
  while (!stop_.load()) {
    int64_t revision = 0;
    if (!Resync(&revision)) {
      if (!warned) SLUICE_LOG_WARN("cluster", "cannot read the cluster catalog from etcd; retrying every 500 ms");
      warned = true;
      if (!Sleep(500)) return;
      continue;
    }
    warned = false;
    std::shared_ptr<ClusterView> working = std::make_shared<ClusterView>(*view());
    auto lag_since = std::chrono::steady_clock::time_point::max();
    bool stale = false;
    base::Status st = etcd_.Watch(
        options_.prefix, revision + 1,
        [&](const WatchEvent& ev, int64_t) {
          // The view is as of the newest event applied. Not the message's header revision: etcd
          // stamps a watch message with the store's current revision, which can be ahead of the
          // events it carries (later ones follow in later messages), and a view claiming that
          // revision would judge the owner key before its newest value arrived.
          ApplyEvent(working.get(), ev);
          working->revision = std::max(working->revision, ev.kv.mod_revision);
          watched_revision_.store(working->revision);
          Publish(std::make_shared<ClusterView>(*working));
        },
        [&] {
          if (stop_.load()) return true;
          const auto now = std::chrono::steady_clock::now();
          if (written_revision_.load() <= watched_revision_.load()) {
            lag_since = std::chrono::steady_clock::time_point::max();
          } else if (lag_since == std::chrono::steady_clock::time_point::max()) {
            lag_since = now;
          } else if (now - lag_since > std::chrono::seconds(3)) {
            stale = true;
          }
          return stale;
        });
    if (stop_.load()) return;
    if (stale) st = base::Unavailable("the watch delivered nothing of this node's own writes for 3 s");
    SLUICE_LOG_WARN("cluster", "etcd watch ended (%s); reading the catalog again", st.ToString().c_str());
    if (!Sleep(200)) return;
  }
}

base::Result<int64_t> ClusterAgent::PutStream(const StreamRecord& record, int64_t expected_mod_revision) {
  Txn txn;
  const std::string key = Key("streams", record.name);
  txn.compare.push_back({key, expected_mod_revision == 0 ? Txn::Compare::kCreateRevision : Txn::Compare::kModRevision,
                         expected_mod_revision});
  txn.puts.push_back({key, Encode(record), 0});
  if (expected_mod_revision == 0) txn.delete_prefixes.push_back(Key("drained", record.name) + "/");
  auto r = etcd_.Commit(txn);
  if (!r.ok()) {
    if (r.status().code() == base::Code::kUnavailable)
      return base::Unavailable("the cluster catalog (etcd) is unreachable: stream changes are refused until it is "
                               "back; puts and delivery go on (" + r.status().message() + ")");
    return r.status();
  }
  if (r->succeeded) NoteWritten(r->revision);
  if (!r->succeeded) {
    if (expected_mod_revision == 0)
      return base::Status(base::Code::kAlreadyExists, "stream '" + record.name + "' exists in the cluster catalog");
    return base::InvalidArgument("this node's view of stream '" + record.name +
                                 "' is not the stream's current version in the cluster catalog (another node changed "
                                 "it): describe it again, then retry");
  }
  return r->revision;
}

base::Status ClusterAgent::MarkDrained(const std::string& stream, int64_t create_revision) {
  Txn txn;
  txn.puts.push_back({Key("drained", stream) + "/" + options_.node_id, std::to_string(create_revision), 0});
  return etcd_.Commit(txn).status();
}

base::Status ClusterAgent::FinishDelete(const std::string& stream, int64_t mod_revision) {
  Txn txn;
  const std::string key = Key("streams", stream);
  txn.compare.push_back({key, Txn::Compare::kModRevision, mod_revision});
  txn.deletes.push_back(key);
  txn.delete_prefixes.push_back(Key("drained", stream) + "/");
  auto r = etcd_.Commit(txn);
  if (r.ok() && r->succeeded) SLUICE_LOG_INFO("cluster", "stream %s: every node drained it; removed from the catalog", stream.c_str());
  return r.status();
}

base::Status ClusterAgent::Forget(const std::string& node) {
  if (!IsValidNodeId(node)) return base::InvalidArgument("'" + node.substr(0, 80) + "' is not a node id");
  if (node == options_.node_id) return base::InvalidArgument("a node cannot forget itself");
  Txn txn;
  // Only a node whose member key is gone (create_revision 0 = absent): a live node is not forgotten.
  txn.compare.push_back({Key("members", node), Txn::Compare::kCreateRevision, 0});
  txn.deletes.push_back(Key("nodes", node));
  ASSIGN_OR_RETURN(TxnResult r, etcd_.Commit(txn));
  if (!r.succeeded) return base::InvalidArgument("node " + node + " is live: stop it first");
  return base::Status::Ok();
}

}  // namespace sluice::server::cluster
