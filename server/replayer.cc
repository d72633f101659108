// Replayer: REPLAY of a stream's backup store or of backup files under the backup roots.
#include "server/replayer.h"

#include <filesystem>

#include "base/log.h"
#include "client-lib/replay.h"

namespace sluice::server {

Replayer::Replayer(const ServerConfig& cfg, const StreamRegistry& streams, std::function<uint16_t()> put_port)
    : cfg_(cfg), streams_(streams), put_port_(std::move(put_port)) {}

base::Result<size_t> Replayer::StartReplay(const std::string& target) {
  std::vector<std::string> paths;
  StreamSetPtr set = streams_.Current();
  if (const StreamInfo* s = set->Find(target)) {
    if (s->cfg->backup.store != "directory")
      return base::InvalidArgument("stream '" + target + "' backs up to a remote store (backup.store = " + s->cfg->backup.store +
                                   "); REPLAY reads local files: download its .sseg files and REPLAY that directory");
    std::error_code ec;
    if (!std::filesystem::exists(s->cfg->backup.path, ec)) return size_t{0};
    paths.push_back(s->cfg->backup.path);
  } else {
    RETURN_IF_ERROR(CheckReplayPath(target));
    paths.push_back(target);
  }
  std::vector<std::string> skipped;
  ASSIGN_OR_RETURN(std::vector<std::string> files, client::CollectSegmentFiles(paths, &skipped));
  for (const std::string& s : skipped) SLUICE_LOG_WARN("replay", "REPLAY %s: skipped %s", target.c_str(), s.c_str());
  if (files.empty()) return size_t{0};
  client::ClientOptions put;
  put.host = cfg_.bind == "0.0.0.0" ? "127.0.0.1" : cfg_.bind == "::" ? "::1" : cfg_.bind;
  put.port = put_port_();
  put.auth_token = cfg_.auth_token;
  if (put.auth_token.empty() && !cfg_.access_keys.empty()) {
    // The put port then takes only authenticated clients: replay as an access key that may put
    // to every stream.
    for (const AccessKey& k : cfg_.access_keys)
      if (k.Allows("PutRecordBatch") && k.streams == std::vector<std::string>{"*"}) {
        put.auth_token = k.id + ":" + k.secret;
        break;
      }
    if (put.auth_token.empty())
      return base::InvalidArgument("REPLAY re-puts records through the put port, which needs auth_token or an access "
                                   "key with streams = [\"*\"] and the put operations when access keys are configured");
  }
  put.client_name = "sluiced-replay";
  size_t n = files.size();
  RETURN_IF_ERROR(replay_.Start(std::move(files), target, std::move(put)));
  return n;
}

namespace {
// True when `path` is `root` or inside it (both canonical: absolute, no symlinks, no ..).
bool IsUnder(const std::filesystem::path& path, const std::filesystem::path& root) {
  auto r = root.begin(), p = path.begin();
  for (; r != root.end(); ++r, ++p) {
    if (r->empty() && std::next(r) == root.end()) break;  // a trailing '/' of the root
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}
}  // namespace

std::vector<std::string> Replayer::ReplayRoots() const {
  std::vector<std::string> roots{cfg_.data_dir + "/backup"};
  streams_.Current()->ForEach([&](const StreamInfo& s) { roots.push_back(s.cfg->backup.path); });
  for (const std::string& r : cfg_.replay_roots) roots.push_back(r);
  return roots;
}

base::Status Replayer::CheckReplayPath(const std::string& target) const {
  namespace fs = std::filesystem;
  if (target.empty() || target.size() > 4096) return base::InvalidArgument("REPLAY needs a stream name, a file or a directory");
  std::error_code ec;
  // Resolves symlinks and "..", so a path cannot reach outside a root through either.
  fs::path canonical = fs::weakly_canonical(fs::absolute(target, ec), ec);
  if (ec) return base::IOError("cannot resolve " + target.substr(0, 256) + ": " + ec.message());
  std::string listed;
  for (const std::string& root : ReplayRoots()) {
    std::error_code rec;
    fs::path r = fs::weakly_canonical(fs::absolute(root, rec), rec);
    if (rec) continue;
    if (IsUnder(canonical, r)) return base::Status::Ok();
    if (listed.size() < 512) listed += (listed.empty() ? "" : ", ") + r.string();
  }
  return base::InvalidArgument("'" + target.substr(0, 256) + "' is neither a stream nor under a backup root (" + listed +
                               "); add its directory to replay_roots in the config file to allow it");
}


}  // namespace sluice::server
