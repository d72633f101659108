// Peer: spawn, wait for the port file, stop.
#include "tests/support/peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "tests/support/test_server.h"

namespace sluice::test {

std::string SourcePath(const std::string& relative) { return std::string(SLUICE_SOURCE_DIR) + "/" + relative; }

std::string NodePath() {
  for (const char* p : {"/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

Peer::Peer(std::vector<std::string> argv, std::string port_file, std::string log_path)
    : argv_(std::move(argv)), port_file_(std::move(port_file)), log_path_(std::move(log_path)) {}

bool Peer::Start() {
  ::unlink(port_file_.c_str());
  pid_ = SpawnCommand(argv_, log_path_, log_path_ + ".err");
  for (int i = 0; i < 400; i++) {
    std::string text = ReadFile(port_file_);
    if (!text.empty()) {
      port_ = static_cast<uint16_t>(std::atoi(text.c_str()));
      if (port_ != 0) return true;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void Peer::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 100; i++) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string Peer::log() const { return ReadFile(log_path_) + ReadFile(log_path_ + ".err"); }

}  // namespace sluice::test
