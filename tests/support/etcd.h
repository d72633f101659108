// EtcdServer: a throwaway single-member etcd from Debian's etcd-server, for the cluster tests:
// its own temp data directory, client and peer ports chosen at run time on 127.0.0.1, killed
// (and restarted on the same ports and data) when a test says so.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::test {

class EtcdServer {
 public:
  EtcdServer();
  ~EtcdServer();  // kills it and removes its directory
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  // "" when etcd is installed (scripts/setup installs etcd-server), else why not.
  static std::string Unavailable();
  // Starts it (same ports and data every time) and waits up to 20 s until it answers.
  bool Start();
  // SIGKILL, as a crash.
  void Kill();
  uint16_t port() const { return client_port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  // etcdctl against it; the exit code, with stdout in *out.
  int Ctl(const std::vector<std::string>& args, std::string* out = nullptr) const;
  std::string log() const;

 private:
  std::string dir_;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sluice::test
