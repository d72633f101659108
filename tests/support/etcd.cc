// EtcdServer: /usr/bin/etcd on loopback ports in a temp dir.
#include "tests/support/etcd.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "tests/support/http_exchange.h"
#include "tests/support/peer.h"
#include "tests/support/test_server.h"

namespace sluice::test {

std::string EtcdServer::Unavailable() {
  if (!std::filesystem::exists("/usr/bin/etcd")) return "Debian's etcd-server is not installed (scripts/setup installs it)";
  if (!std::filesystem::exists("/usr/bin/etcdctl")) return "Debian's etcd-client is not installed (scripts/setup installs it)";
  return "";
}

EtcdServer::EtcdServer() {
  char tmpl[] = "/tmp/sluice-etcd.XXXXXX";
  if (mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  client_port_ = FreePort();
  peer_port_ = FreePort();
  while (peer_port_ == client_port_) peer_port_ = FreePort();
}

EtcdServer::~EtcdServer() {
  Kill();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool EtcdServer::Start() {
  if (dir_.empty() || pid_ > 0) return pid_ > 0;
  const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  pid_ = SpawnCommand({"/usr/bin/etcd", "--name", "test", "--data-dir", dir_ + "/data", "--listen-client-urls", client,
                       "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls",
                       peer, "--initial-cluster", "test=" + peer, "--log-level", "warn"},
                      dir_ + "/etcd.log", dir_ + "/etcd.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (Body(HttpGet(client_port_, "/health")).find("\"true\"") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void EtcdServer::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int EtcdServer::Ctl(const std::vector<std::string>& args, std::string* out) const {
  std::vector<std::string> argv = {"/usr/bin/etcdctl", "--endpoints", endpoint()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, out);
}

std::string EtcdServer::log() const { return ReadFile(dir_ + "/etcd.log"); }

}  // namespace sluice::test
