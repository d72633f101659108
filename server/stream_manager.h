// StreamManager: the streams' lifecycle at run time: registration at start, STREAM CREATE /
// UPDATE / DELETE, PAUSE / RESUME, FLUSH, the reaper that finishes deletions, and the config
// file's streams on SIGHUP.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "server/admin/admin_services.h"
#include "server/cluster/cluster_agent.h"
#include "server/config.h"
#include "server/delivery/delivery_pool.h"
#include "server/shard.h"
#include "server/stream_registry.h"
#include "storage/store.h"

namespace sluice::server {

// Every change is written to the catalog (fsynced) before it is published to the shards (the
// registry's read-copy-update) and the delivery pool; a refused change touches neither.
// Lifecycle: created by Server right after storage opens; it borrows the Server's store,
// registry, pool and shards (the pool and shards exist from Server::Start on; nothing here is
// called before that but RegisterStreams).
// Thread: main.
class StreamManager final : public admin::StreamControl {
 public:
  StreamManager(const ServerConfig& cfg, std::unique_ptr<storage::Store>& store, StreamRegistry& streams,
                std::unique_ptr<DeliveryPool>& pool, std::vector<std::unique_ptr<Shard>>& shards);

  // At start: the config file's streams are registered (or updated) from the file; streams
  // created with STREAM CREATE come back from the catalog. A catalog stream whose stored
  // settings no longer validate is left out loudly (its records stay stored).
  base::Status RegisterStreams();
  // Finishes deletions: a DELETING stream goes once every shard has seen it DELETING and none
  // of its records remain stored. Called by Server's 100 ms timer.
  void ReapDeletedStreams();
  // SIGHUP: the config file's streams, new ones registered and changed ones given a new version.
  // Returns how many streams changed.
  int ApplyConfigFileStreams(const std::vector<StreamConfig>& file_streams);

  // Cluster mode: the catalog is etcd's. Every change a user asks for is first an etcd
  // transaction (compared on the stream key's revision), then applied here as in single-node
  // mode; changes made on other nodes arrive through ApplyCluster. The local catalog keeps the
  // last state seen, so a node restarts and runs while etcd is unreachable.
  void AttachCluster(cluster::ClusterAgent* agent) { cluster_ = agent; }
  // Reconciles the streams with the agent's latest view: creates, updates, pauses and deletes
  // what changed on other nodes; at the first complete view, publishes local streams the catalog
  // lacks; marks this node drained of deleted streams it has no records of, and removes a
  // deleted stream from the catalog once every node has. A stream whose settings from etcd do
  // not validate is refused whole and logged. Main, on the agent's wake-up and after a reap.
  void ApplyCluster();

  // --- StreamControl ---
  StreamSetPtr streams() const override { return streams_.Current(); }
  base::Result<StreamPtr> CreateStream(const std::string& name, const Settings& settings) override;
  base::Result<StreamPtr> UpdateTags(const std::string& name, const std::map<std::string, std::string>& set,
                                     const std::vector<std::string>& remove) override;
  base::Result<StreamPtr> UpdateStream(const std::string& name, uint32_t expected_version,
                                       const Settings& settings) override;
  base::Status DeleteStream(const std::string& name, bool force) override;
  base::Status SetPaused(const std::string& name, bool paused) override;
  void Flush(const StreamInfo* stream) override;

 private:
  // Writes the stream's catalog entry, then publishes it to the shards and the delivery pool.
  base::Result<StreamPtr> PersistAndPublish(StreamInfo info);
  // A change a user asked for: in cluster mode first the etcd transaction (create: the key must
  // not exist; else: it must still be at the revision last applied here), then PersistAndPublish.
  base::Result<StreamPtr> Commit(StreamInfo info, bool create);
  base::Result<int64_t> CommitToCluster(const StreamInfo& info, bool create);
  // Applies one catalog entry from etcd through the same path as a local change.
  base::Status ApplyEntry(const cluster::CatalogEntry& entry);

  const ServerConfig& cfg_;
  std::unique_ptr<storage::Store>& store_;
  StreamRegistry& streams_;
  std::unique_ptr<DeliveryPool>& pool_;
  std::vector<std::unique_ptr<Shard>>& shards_;
  cluster::ClusterAgent* cluster_ = nullptr;
  // Per stream name: the catalog key's (create_revision, mod_revision) last applied here.
  std::map<std::string, std::pair<int64_t, int64_t>> applied_;
  bool seeded_ = false;  // local streams the catalog lacked were offered to it
};

}  // namespace sluice::server
