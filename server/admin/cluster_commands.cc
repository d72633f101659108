// CLUSTER INFO / NODES / FORGET: the cluster as this node's agent sees it.
#include <string>

#include "base/clock.h"
#include "server/admin/admin_services.h"
#include "server/admin/command_table.h"
#include "server/admin/resp.h"
#include "server/cluster/cluster_agent.h"

namespace sluice::server::admin {
namespace {

cluster::ClusterAgent* AgentOrReply(CommandContext& ctx) {
  cluster::ClusterAgent* agent = ctx.services.status.cluster();
  if (agent == nullptr)
    ReplyError(ctx.out, "CLUSTER: this node is not in a cluster (start it with --cluster, --node-id and --advertise)");
  return agent;
}

// A flat [key, value, ...] array, as STREAM DESCRIBE and SEGMENTS answer.
class Fields {
 public:
  void Add(std::string_view k, std::string v) { kv_.emplace_back(std::string(k), std::move(v)); }
  void Add(std::string_view k, uint64_t v) { Add(k, std::to_string(v)); }
  void Reply(std::string* out) const {
    ReplyArrayHeader(out, kv_.size() * 2);
    for (const auto& [k, v] : kv_) {
      ReplyBulk(out, k);
      ReplyBulk(out, v);
    }
  }

 private:
  std::vector<std::pair<std::string, std::string>> kv_;
};

}  // namespace

void CmdClusterInfo(CommandContext& ctx) {
  cluster::ClusterAgent* agent = AgentOrReply(ctx);
  if (agent == nullptr) return;
  cluster::ClusterViewPtr v = agent->view();
  Fields f;
  f.Add("node", agent->options().node_id);
  f.Add("etcd", agent->reachable() ? "reachable" : "unreachable");
  std::string endpoints;
  for (const std::string& e : agent->options().endpoints) endpoints += (endpoints.empty() ? "" : ",") + e;
  f.Add("endpoints", endpoints);
  f.Add("prefix", agent->options().prefix);
  f.Add("revision", static_cast<uint64_t>(v->revision));
  f.Add("members", static_cast<uint64_t>(v->members.size()));
  f.Add("nodes", static_cast<uint64_t>(v->nodes.size()));
  f.Add("streams", static_cast<uint64_t>(v->streams.size()));
  f.Add("lease_ttl_s", static_cast<uint64_t>(agent->options().lease_ttl_s));
  f.Reply(ctx.out);
}

void CmdClusterNodes(CommandContext& ctx) {
  cluster::ClusterAgent* agent = AgentOrReply(ctx);
  if (agent == nullptr) return;
  cluster::ClusterViewPtr v = agent->view();
  // Every node that joined (nodes/) and every live member (members/), by id.
  std::map<std::string, const cluster::MemberRecord*> all;
  for (const auto& [id, n] : v->nodes) all[id] = nullptr;
  for (const auto& [id, m] : v->members) all[id] = &m;
  const int64_t now = base::Clock::Real()->NowUnixMillis();
  ReplyArrayHeader(ctx.out, all.size());
  for (const auto& [id, m] : all) {
    Fields f;
    f.Add("node", id);
    f.Add("self", id == agent->options().node_id ? "yes" : "no");
    f.Add("state", m ? m->state : "down");
    f.Add("put", m ? m->put : "");
    f.Add("api", m ? m->api : "");
    f.Add("admin", m ? m->admin : "");
    f.Add("connections", m ? m->connections : 0);
    f.Add("incoming_records", m ? m->incoming_records : 0);
    f.Add("backlog_bytes", m ? m->backlog_bytes : 0);
    // The member's own clock against ours: shown for the operator, never acted on.
    f.Add("updated_ms_ago", m ? std::to_string(now - m->updated_ms) : "");
    auto node = v->nodes.find(id);
    f.Add("data_dir", node != v->nodes.end() ? node->second.data_dir : "");
    // Who delivers its data directory: itself, another node (adopted), or nobody (down).
    auto owner = v->owners.find(id);
    f.Add("delivered_by", owner != v->owners.end() ? owner->second.first.holder : "");
    f.Reply(ctx.out);
  }
}

void CmdClusterForget(CommandContext& ctx) {
  cluster::ClusterAgent* agent = AgentOrReply(ctx);
  if (agent == nullptr) return;
  base::Status st = agent->Forget(ctx.argv[2]);
  if (st.ok()) ReplySimple(ctx.out, "OK");
  else ReplyError(ctx.out, "CLUSTER FORGET: " + st.message());
}

void CmdClusterAdopt(CommandContext& ctx) {
  if (AgentOrReply(ctx) == nullptr) return;
  base::Status st = ctx.services.control.AdoptNode(ctx.argv[2]);
  if (st.ok()) ReplySimple(ctx.out, "OK");
  else ReplyError(ctx.out, "CLUSTER ADOPT: " + st.message());
}

void CmdClusterRelease(CommandContext& ctx) {
  if (AgentOrReply(ctx) == nullptr) return;
  base::Status st = ctx.services.control.ReleaseNode(ctx.argv[2]);
  if (st.ok()) ReplySimple(ctx.out, "OK");
  else ReplyError(ctx.out, "CLUSTER RELEASE: " + st.message());
}

}  // namespace sluice::server::admin
