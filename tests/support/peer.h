// Peer: a helper process a test talks to (the strict HTTP endpoint receiver, s3rver, the SigV4
// verifying proxy), started with a port file and stopped (SIGTERM, then SIGKILL) at the end.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::test {

// Absolute path of a file in the source tree ("tests/peers/x.js").
std::string SourcePath(const std::string& relative);
// The node binary, or "" when Node.js is not installed (scripts/setup installs it).
std::string NodePath();
// A TCP port free right now on 127.0.0.1, for peers that cannot report the port they bound.
uint16_t FreePort();

// Thread: the test's thread.
class Peer {
 public:
  // `argv` must make the process write its port to `port_file` once it listens.
  Peer(std::vector<std::string> argv, std::string port_file, std::string log_path);
  ~Peer() { Stop(); }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // Starts it and waits (up to 20 s) for the port file. False when it exited or was too slow.
  bool Start();
  void Stop();
  uint16_t port() const { return port_; }
  std::string log() const;

 private:
  std::vector<std::string> argv_;
  std::string port_file_;
  std::string log_path_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace sluice::test
