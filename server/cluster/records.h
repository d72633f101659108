// What Sluice keeps in etcd, and its JSON encoding. Every value read back is untrusted (another
// node's bug, an operator's etcdctl put, a different version): the decoders check every field and
// refuse the whole value for one bad field, so a value is used entirely or not at all.
//
// Keys, under the cluster prefix P (cluster_prefix, default "/sluice/"):
//   P members/<node>          MemberRecord   with the node's lease: present while the node lives
//   P nodes/<node>            NodeRecord     no lease: every node that ever joined (FORGET removes)
//   P streams/<name>          StreamRecord   the stream catalog
//   P drained/<name>/<node>   "<revision>"   node has no records left of a stream being deleted
//   P owners/<node>           OwnerRecord    with the holder's lease: who delivers <node>'s data dir
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::server::cluster {

inline constexpr size_t kMaxNodeIdBytes = 64;
inline constexpr size_t kMaxStreamConfigBytes = 1u << 20;

// [A-Za-z0-9_.-], 1..64 bytes, not starting with '.' (node ids appear in object names and keys).
bool IsValidNodeId(std::string_view id);
// "host:port" with a port in 1..65535 and a host of 1..253 printable bytes (no spaces, no '/').
bool IsValidAddress(std::string_view address);

struct MemberRecord {
  std::string node;
  std::string put;    // host:port of the put port (--advertise)
  std::string api;    // host:port of the Firehose API port ("" when closed)
  std::string admin;  // host:port of the admin port
  std::string state;  // "active" | "draining" (shutting down)
  int64_t started_ms = 0;
  int64_t updated_ms = 0;  // the node's own clock: shown, never compared across nodes
  // Load, as of updated_ms.
  uint64_t connections = 0;
  uint64_t incoming_records = 0;  // since start
  uint64_t backlog_bytes = 0;     // stored and not yet delivered
};

struct NodeRecord {
  std::string node;
  std::string data_dir;  // absolute path, for CLUSTER ADOPT on shared storage
  int64_t joined_ms = 0;
};

struct StreamRecord {
  std::string name;
  uint32_t version = 1;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  bool paused = false;
  bool deleting = false;
  bool force_delete = false;
  std::string config;  // the stream's settings as TOML (validated by ParseStreamConfig on use)
};

struct OwnerRecord {
  std::string node;    // whose data directory
  std::string holder;  // the node delivering it now
  int64_t since_ms = 0;
};

std::string Encode(const MemberRecord& r);
std::string Encode(const NodeRecord& r);
std::string Encode(const StreamRecord& r);
std::string Encode(const OwnerRecord& r);
base::Result<MemberRecord> DecodeMember(std::string_view json);
base::Result<NodeRecord> DecodeNode(std::string_view json);
base::Result<StreamRecord> DecodeStream(std::string_view json);
base::Result<OwnerRecord> DecodeOwner(std::string_view json);

}  // namespace sluice::server::cluster
