// StreamManager: the streams' lifecycle at run time (create, update, delete, pause, reap, reload).
#include "server/stream_manager.h"

#include <set>

#include "base/clock.h"
#include "base/log.h"

namespace sluice::server {

StreamManager::StreamManager(const ServerConfig& cfg, std::unique_ptr<storage::Store>& store, StreamRegistry& streams,
                             std::unique_ptr<DeliveryPool>& pool, std::vector<std::unique_ptr<Shard>>& shards)
    : cfg_(cfg), store_(store), streams_(streams), pool_(pool), shards_(shards) {}

namespace {
StreamInfo InfoFromEntry(const storage::StreamEntry& e, std::shared_ptr<const StreamConfig> cfg) {
  StreamInfo info;
  info.name = e.name;
  info.id = e.id;
  info.version = e.version;
  info.cfg = std::move(cfg);
  info.created_ms = e.created_unix_ms;
  info.updated_ms = e.updated_unix_ms;
  ApplyFlags(e.flags, &info);
  return info;
}
storage::StreamEntry EntryFromInfo(const StreamInfo& s) {
  storage::StreamEntry e;
  e.name = s.name;
  e.id = s.id;
  e.version = s.version;
  e.created_unix_ms = s.created_ms;
  e.updated_unix_ms = s.updated_ms;
  e.flags = FlagsOf(s);
  e.config = s.cfg->toml;
  return e;
}
}  // namespace

// The config file's streams are registered (or updated) from the file; streams created with
// STREAM CREATE come back from the catalog. A catalog stream whose stored settings no longer
// validate is left out loudly: its records stay stored until it is fixed (STREAM CREATE with
// the same name adopts them again).
base::Status StreamManager::RegisterStreams() {
  int64_t now = base::Clock::Real()->NowUnixMillis();
  std::set<std::string> declared;
  for (const StreamConfig& s : cfg_.streams) {
    auto entry = store_->RegisterStream(s.name, s.toml, now);
    if (!entry.ok()) return entry.status().WithContext("register stream " + s.name);
    if (!(entry->flags & kStreamFromConfig)) {
      if (entry->version > 1 || entry->flags)
        SLUICE_LOG_INFO("server", "stream %s is declared in the config file again; its settings come from there",
                        s.name.c_str());
      entry->flags = (entry->flags | kStreamFromConfig) & ~(kStreamDeleting | kStreamForceDelete);
      RETURN_IF_ERROR(store_->PutStreamEntry(entry.value()).WithContext("register stream " + s.name));
    }
    streams_.Put(InfoFromEntry(entry.value(), std::make_shared<const StreamConfig>(s)));
    declared.insert(s.name);
  }
  auto all = store_->ListStreams();
  if (!all.ok()) return all.status().WithContext("read catalog");
  for (const storage::StreamEntry& e : all.value()) {
    if (declared.count(e.name) || (e.flags & kStreamFromConfig)) continue;  // config-file streams
    auto parsed = ParseStreamConfig(e.config, "catalog stream " + e.name, cfg_);
    if (!parsed.ok()) {
      SLUICE_LOG_ERROR("server", "stream %s (created at run time) is not loaded, its records stay stored: %s",
                       e.name.c_str(), parsed.status().ToString().c_str());
      continue;
    }
    streams_.Put(InfoFromEntry(e, std::make_shared<const StreamConfig>(std::move(parsed).value())));
  }
  return base::Status::Ok();
}

base::Result<StreamPtr> StreamManager::PersistAndPublish(StreamInfo info) {
  RETURN_IF_ERROR(store_->PutStreamEntry(EntryFromInfo(info)).WithContext("write catalog"));
  uint32_t id = info.id;
  streams_.Put(std::move(info));
  StreamPtr published = streams_.Current()->Get(id);
  pool_->UpsertStream(published);
  return published;
}

base::Result<StreamPtr> StreamManager::CreateStream(const std::string& name, const Settings& settings) {
  if (!IsValidStreamName(name))
    return base::InvalidArgument("stream name '" + name.substr(0, 80) + "' must be 1..64 characters of [a-zA-Z0-9_.-], not starting with '.'");
  if (const StreamInfo* existing = streams_.Current()->Find(name))
    return base::Status(base::Code::kAlreadyExists,
                        "stream '" + name + "' exists" + (existing->accepts_puts() ? "" : " and is being deleted"));
  ASSIGN_OR_RETURN(std::string text, ApplyStreamSettings("", name, settings));
  ASSIGN_OR_RETURN(StreamConfig parsed, ParseStreamConfig(text, "", cfg_));
  int64_t now = base::Clock::Real()->NowUnixMillis();
  if (cluster_ != nullptr) {
    StreamInfo proposed;
    proposed.name = name;
    proposed.created_ms = proposed.updated_ms = now;
    proposed.cfg = std::make_shared<const StreamConfig>(parsed);
    RETURN_IF_ERROR(CommitToCluster(proposed, /*create=*/true).status());
  }
  auto entry = store_->CreateStream(name, parsed.toml, 0, now);
  if (!entry.ok() && entry.status().code() == base::Code::kAlreadyExists) {
    // In the catalog but not loaded (a config-file stream removed from the file, or a stream
    // whose stored settings stopped validating): adopt it, with its id and stored records.
    entry = store_->RegisterStream(name, parsed.toml, now);
    if (entry.ok()) entry->flags = 0;
    SLUICE_LOG_INFO("server", "STREAM CREATE %s adopts the stream of that name left in the catalog", name.c_str());
  }
  if (!entry.ok()) return entry.status();
  StreamInfo info = InfoFromEntry(entry.value(), std::make_shared<const StreamConfig>(std::move(parsed)));
  if (cluster_ != nullptr) {
    info.version = 1;  // the cluster's numbering, whatever this node's catalog held before
    info.created_ms = info.updated_ms = now;
  }
  SLUICE_LOG_INFO("server", "stream %s created (id %u)", name.c_str(), info.id);
  return PersistAndPublish(std::move(info));
}

base::Result<StreamPtr> StreamManager::UpdateStream(const std::string& name, uint32_t expected_version,
                                             const Settings& settings) {
  StreamSetPtr set = streams_.Current();
  const StreamInfo* s = set->Find(name);
  if (s == nullptr) return base::NotFound("no delivery stream named '" + name.substr(0, 128) + "'");
  if (!s->accepts_puts()) return base::InvalidArgument("stream '" + name + "' is being deleted");
  if (expected_version != 0 && expected_version != s->version)
    return base::InvalidArgument("VERSION " + std::to_string(expected_version) +
                                 " is not the stream's current version " + std::to_string(s->version) +
                                 " (it changed since you read it: STREAM DESCRIBE, then retry)");
  ASSIGN_OR_RETURN(std::string text, ApplyStreamSettings(s->cfg->toml, name, settings));
  ASSIGN_OR_RETURN(StreamConfig parsed, ParseStreamConfig(text, "", cfg_));
  StreamInfo info = *s;
  if (parsed.toml == s->cfg->toml) return set->Get(s->id);  // nothing changed: same version
  RETURN_IF_ERROR(CheckReloadable(*s->cfg, parsed));
  if (!SameExceptTags(*s->cfg, parsed)) info.version++;  // tags alone keep the version (Firehose)
  info.updated_ms = base::Clock::Real()->NowUnixMillis();
  info.cfg = std::make_shared<const StreamConfig>(std::move(parsed));
  SLUICE_LOG_INFO("server", "stream %s updated to version %u%s", name.c_str(), info.version,
                  info.from_config ? " (declared in the config file: the file's settings return at restart)" : "");
  return Commit(std::move(info), false);
}

base::Result<StreamPtr> StreamManager::UpdateTags(const std::string& name, const std::map<std::string, std::string>& set,
                                                  const std::vector<std::string>& remove) {
  StreamSetPtr streams = streams_.Current();
  const StreamInfo* s = streams->Find(name);
  if (s == nullptr) return base::NotFound("no delivery stream named '" + name.substr(0, 128) + "'");
  ASSIGN_OR_RETURN(std::string text, ApplyTagChanges(s->cfg->toml, name, set, remove));
  ASSIGN_OR_RETURN(StreamConfig parsed, ParseStreamConfig(text, "", cfg_));
  if (parsed.toml == s->cfg->toml) return streams->Get(s->id);
  StreamInfo info = *s;
  info.updated_ms = base::Clock::Real()->NowUnixMillis();
  info.cfg = std::make_shared<const StreamConfig>(std::move(parsed));
  return Commit(std::move(info), false);
}

base::Status StreamManager::DeleteStream(const std::string& name, bool force) {
  StreamSetPtr set = streams_.Current();
  const StreamInfo* s = set->Find(name);
  if (s == nullptr) return base::NotFound("no delivery stream named '" + name.substr(0, 128) + "'");
  if (s->from_config)
    return base::InvalidArgument("stream '" + name + "' is declared in the config file: remove it there and restart");
  if (!s->accepts_puts() && (s->force_delete || !force))
    return base::InvalidArgument("stream '" + name + "' is already being deleted");
  // In a cluster the other nodes' records are not known here: a delete stops puts everywhere and
  // every node delivers what it holds before the stream goes (ApplyCluster).
  if (!force && cluster_ == nullptr) {
    size_t segments = pool_->pending(s->id);
    bool open = false;
    for (const auto& slot : s->counters->open_oldest_ms) open |= slot.load(std::memory_order_relaxed) != 0;
    if (segments > 0 || open)
      return base::InvalidArgument("stream '" + name + "' has undelivered records (" + std::to_string(segments) +
                                   " sealed segments" + (open ? ", plus open ones" : "") +
                                   "): FLUSH it and wait for delivery, or STREAM DELETE " + name +
                                   " FORCE to move them to the backup store");
  }
  StreamInfo info = *s;
  info.status = StreamStatus::kDeleting;
  info.force_delete = force;
  info.updated_ms = base::Clock::Real()->NowUnixMillis();
  SLUICE_LOG_INFO("server", "stream %s: deleting%s", name.c_str(),
                  force ? " (FORCE: undelivered records go to the backup store)" : "");
  return Commit(std::move(info), false).status();
}

base::Status StreamManager::SetPaused(const std::string& name, bool paused) {
  StreamSetPtr set = streams_.Current();
  const StreamInfo* s = set->Find(name);
  if (s == nullptr) return base::NotFound("no delivery stream named '" + name.substr(0, 128) + "'");
  if (s->paused == paused) return base::Status::Ok();
  StreamInfo info = *s;
  info.paused = paused;
  SLUICE_LOG_INFO("server", "stream %s: delivery %s", name.c_str(), paused ? "paused" : "resumed");
  return Commit(std::move(info), false).status();
}

void StreamManager::ReapDeletedStreams() {
  StreamSetPtr set = streams_.Current();
  uint64_t seen = UINT64_MAX;
  for (auto& sh : shards_) seen = std::min(seen, sh->seen_generation());
  bool reaped = false;
  set->ForEach([&](const StreamInfo& s) {
    if (s.accepts_puts()) return;
    // Every shard refuses its puts and has sealed its open segment: what remains is in the pool
    // or, if a descriptor write failed, still in storage; it goes only when both are empty.
    if (seen < set->generation() || pool_->pending(s.id) > 0) return;
    auto has = store_->HasRecords(s.id);
    if (!has.ok() || has.value()) return;
    if (!pool_->RemoveStream(s.id)) return;
    base::Status st = store_->DeleteStreamEntry(s.name);
    if (!st.ok()) {
      SLUICE_LOG_ERROR("server", "stream %s: cannot remove its catalog entry, retrying: %s", s.name.c_str(),
                       st.ToString().c_str());
      pool_->UpsertStream(set->Get(s.id));
      return;
    }
    streams_.Remove(s.id);
    SLUICE_LOG_INFO("server", "stream %s deleted%s", s.name.c_str(), cluster_ ? " on this node" : "");
    reaped = true;
  });
  if (reaped && cluster_ != nullptr) ApplyCluster();  // this node's drained mark
}

void StreamManager::Flush(const StreamInfo* stream) {
  for (auto& s : shards_) s->RequestFlush(stream ? stream->id : 0);
  // A staged stream's open partitions too; the segments the shards seal now carry the flush
  // through processing to the partitions they land in.
  pool_->FlushPartitions(stream ? stream->id : 0);
}


int StreamManager::ApplyConfigFileStreams(const std::vector<StreamConfig>& file_streams) {
  int changes = 0;
  if (cluster_ != nullptr) {
    SLUICE_LOG_WARN("server", "SIGHUP: in a cluster the stream catalog is etcd's; the config file's streams only seed "
                              "it at startup (change streams with STREAM UPDATE or the Firehose API)");
    return 0;
  }
  // The file's streams: new ones are registered, changed ones get a new version (as STREAM UPDATE).
  int64_t now = base::Clock::Real()->NowUnixMillis();
  std::set<std::string> declared;
  for (const StreamConfig& s : file_streams) {
    declared.insert(s.name);
    StreamSetPtr set = streams_.Current();
    const StreamInfo* existing = set->Find(s.name);
    if (existing != nullptr && existing->cfg->toml == s.toml && existing->from_config) continue;
    if (existing != nullptr && !existing->accepts_puts()) {
      SLUICE_LOG_WARN("server", "SIGHUP: stream %s is being deleted; its new settings apply after that", s.name.c_str());
      continue;
    }
    auto publish = [&]() -> base::Result<StreamPtr> {
      if (existing != nullptr) {
        RETURN_IF_ERROR(CheckReloadable(*existing->cfg, s));
        StreamInfo info = *existing;
        info.version++;
        info.updated_ms = now;
        info.from_config = true;
        info.cfg = std::make_shared<const StreamConfig>(s);
        return PersistAndPublish(std::move(info));
      }
      ASSIGN_OR_RETURN(storage::StreamEntry entry, store_->RegisterStream(s.name, s.toml, now));
      entry.flags = (entry.flags | kStreamFromConfig) & ~(kStreamDeleting | kStreamForceDelete);
      return PersistAndPublish(InfoFromEntry(entry, std::make_shared<const StreamConfig>(s)));
    };
    const bool updating = existing != nullptr;
    base::Result<StreamPtr> published = publish();
    if (!published.ok()) {
      SLUICE_LOG_ERROR("server", "SIGHUP: stream %s not applied: %s", s.name.c_str(), published.status().ToString().c_str());
      continue;
    }
    SLUICE_LOG_INFO("server", "SIGHUP: stream %s %s (version %u)", s.name.c_str(), updating ? "updated" : "created",
                    published.value()->version);
    changes++;
  }
  streams_.Current()->ForEach([&](const StreamInfo& s) {
    if (s.from_config && !declared.count(s.name))
      SLUICE_LOG_WARN("server", "SIGHUP: stream %s is no longer in the config file; it keeps running until the restart",
                      s.name.c_str());
  });
  return changes;
}

// --- Cluster mode ------------------------------------------------------------------------------

namespace {
cluster::StreamRecord RecordFromInfo(const StreamInfo& s) {
  cluster::StreamRecord r;
  r.name = s.name;
  r.version = s.version;
  r.created_ms = s.created_ms;
  r.updated_ms = s.updated_ms;
  r.paused = s.paused;
  r.deleting = !s.accepts_puts();
  r.force_delete = s.force_delete;
  r.config = s.cfg->toml;
  return r;
}
}  // namespace

base::Result<int64_t> StreamManager::CommitToCluster(const StreamInfo& info, bool create) {
  int64_t expected = 0;
  if (!create) {
    auto it = applied_.find(info.name);
    if (it == applied_.end())
      return base::Unavailable("stream '" + info.name + "' is not in the cluster catalog this node has seen yet (etcd "
                               "unreachable since this node started?): retry when it is");
    expected = it->second.second;
  }
  ASSIGN_OR_RETURN(int64_t revision, cluster_->PutStream(RecordFromInfo(info), expected));
  auto& applied = applied_[info.name];
  if (create) applied.first = revision;
  applied.second = revision;
  return revision;
}

base::Result<StreamPtr> StreamManager::Commit(StreamInfo info, bool create) {
  if (cluster_ != nullptr) RETURN_IF_ERROR(CommitToCluster(info, create).status());
  return PersistAndPublish(std::move(info));
}

base::Status StreamManager::ApplyEntry(const cluster::CatalogEntry& entry) {
  const cluster::StreamRecord& rec = entry.record;
  ASSIGN_OR_RETURN(StreamConfig parsed, ParseStreamConfig(rec.config, "cluster catalog stream " + rec.name, cfg_));
  StreamSetPtr set = streams_.Current();
  const StreamInfo* existing = set->Find(rec.name);
  StreamInfo info;
  if (existing == nullptr) {
    if (rec.deleting) return base::Status::Ok();  // nothing of it here
    ASSIGN_OR_RETURN(storage::StreamEntry e, store_->RegisterStream(rec.name, parsed.toml, rec.created_ms));
    info = InfoFromEntry(e, nullptr);
    info.from_config = false;
    SLUICE_LOG_INFO("cluster", "stream %s created on another node; serving it here (id %u)", rec.name.c_str(), e.id);
  } else {
    info = *existing;
    if (existing->cfg->toml != parsed.toml) RETURN_IF_ERROR(CheckReloadable(*existing->cfg, parsed));
  }
  const bool same = existing != nullptr && existing->cfg->toml == parsed.toml && existing->version == rec.version &&
                    existing->paused == rec.paused && existing->accepts_puts() == !rec.deleting &&
                    existing->force_delete == rec.force_delete;
  if (same) return base::Status::Ok();
  if (existing != nullptr && existing->accepts_puts() && rec.deleting)
    SLUICE_LOG_INFO("cluster", "stream %s: deleted in the cluster; this node refuses its puts and delivers what it "
                               "holds%s", rec.name.c_str(), rec.force_delete ? " (FORCE: to the backup store)" : "");
  info.cfg = std::make_shared<const StreamConfig>(std::move(parsed));
  info.version = rec.version;
  info.created_ms = rec.created_ms;
  info.updated_ms = rec.updated_ms;
  info.paused = rec.paused;
  info.status = rec.deleting ? StreamStatus::kDeleting : StreamStatus::kActive;
  info.force_delete = rec.force_delete;
  return PersistAndPublish(std::move(info)).status();
}

void StreamManager::ApplyCluster() {
  if (cluster_ == nullptr) return;
  cluster::ClusterViewPtr view = cluster_->view();
  if (!view->complete) return;
  const std::string& self = cluster_->options().node_id;
  // Once: streams this node has (its config file's, or ones created while it was alone) that the
  // catalog lacks are offered to it; the first node to offer a name wins.
  // A process delivering an adopted directory only delivers: it offers nothing.
  if (!cluster_->options().member) seeded_ = true;
  if (!seeded_ && cluster_->reachable()) {
    bool all = true;
    streams_.Current()->ForEach([&](const StreamInfo& s) {
      if (!s.accepts_puts() || view->streams.count(s.name)) return;
      auto created = CommitToCluster(s, /*create=*/true);
      if (created.ok()) {
        SLUICE_LOG_INFO("cluster", "stream %s: added to the cluster catalog from this node", s.name.c_str());
      } else if (created.status().code() != base::Code::kAlreadyExists) {
        all = false;
      }
    });
    seeded_ = all;
  }
  for (const auto& [name, entry] : view->streams) {
    auto& applied = applied_[name];
    if (applied.first == entry.create_revision && applied.second >= entry.mod_revision) continue;
    base::Status st = ApplyEntry(entry);
    if (!st.ok())
      SLUICE_LOG_ERROR("cluster", "stream %s from the cluster catalog (revision %lld) is not applied on this node: %s",
                       name.c_str(), static_cast<long long>(entry.mod_revision), st.ToString().c_str());
    // A definition that does not validate here is refused once; a failure of this node's own
    // storage is tried again at the next view (about a second later).
    if (st.ok() || (st.code() != base::Code::kIOError && st.code() != base::Code::kCorruption))
      applied = {entry.create_revision, entry.mod_revision};
  }
  // A stream this node had from the catalog whose key is gone: every node drained it (or its
  // nodes were forgotten). Whatever is left here is delivered, then it goes.
  for (auto it = applied_.begin(); it != applied_.end();) {
    if (view->streams.count(it->first)) {
      ++it;
      continue;
    }
    const StreamInfo* s = streams_.Current()->Find(it->first);
    if (s != nullptr && s->accepts_puts()) {
      StreamInfo info = *s;
      info.status = StreamStatus::kDeleting;
      (void)PersistAndPublish(std::move(info));
    }
    it = applied_.erase(it);
  }
  if (!cluster_->reachable()) return;
  // Deletions: mark this node drained once it holds nothing of the stream; finish when all have.
  for (const auto& kv : view->streams) {
    const std::string& name = kv.first;
    const cluster::CatalogEntry& entry = kv.second;
    if (!entry.record.deleting) continue;
    auto marks = view->drained.find(name);
    auto marked = [&](const std::string& node) {
      if (marks == view->drained.end()) return false;
      auto m = marks->second.find(node);
      return m != marks->second.end() && m->second == entry.create_revision;
    };
    if (!marked(self)) {
      if (streams_.Current()->Find(name) == nullptr) {
        base::Status st = cluster_->MarkDrained(name, entry.create_revision);
        if (!st.ok()) SLUICE_LOG_WARN("cluster", "stream %s: cannot mark this node drained yet: %s", name.c_str(), st.ToString().c_str());
      }
      continue;
    }
    bool everyone = true;
    for (const auto& [node, rec] : view->nodes) everyone &= marked(node);
    if (everyone) (void)cluster_->FinishDelete(name, entry.mod_revision);
  }
}

}  // namespace sluice::server
