// TestServer: runs the real sluiced binary on a port chosen at run time, in a temp data dir.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace sluice::test {

// Path of a built binary ("sluiced", "sluice").
std::string BinaryPath(const std::string& name);

// Runs a command to completion; returns its exit code (or 128+signal), capturing stdout and
// stderr into the given strings when not null. stdin comes from `stdin_file` when set.
int RunCommand(const std::vector<std::string>& argv, std::string* out = nullptr,
               std::string* err = nullptr, const std::string& stdin_file = "");

// Starts a command in the background (stdout/stderr to the given files, stdin from a file).
pid_t SpawnCommand(const std::vector<std::string>& argv, const std::string& out_path,
                   const std::string& err_path, const std::string& stdin_file = "");
// Waits for a spawned command; returns its exit code (or 128+signal).
int WaitCommand(pid_t pid);
std::string ReadFile(const std::string& path);

// Thread: the test's thread.
class TestServer {
 public:
  // `data_dir` is reused across restarts; `extra_args` go to sluiced after the defaults.
  TestServer(std::string data_dir, std::vector<std::string> extra_args = {});
  ~TestServer();  // SIGKILL if still running

  // Starts sluiced with --port 0 --port-file and waits (up to 20 s) until it listens.
  // Returns false when it exited or did not come up; log() then says why.
  bool Start();
  // SIGTERM and wait; returns the exit code (0 = clean).
  int Stop();
  // SIGKILL and wait.
  void Kill();
  // Waits for the server to exit by itself (e.g. after SHUTDOWN); returns the exit code.
  int WaitExit() { return pid_ > 0 ? Wait() : -1; }
  // Sends a signal without waiting (e.g. SIGUSR1 to flush).
  void Signal(int signum);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  uint16_t admin_port() const { return admin_port_; }
  // The Firehose API port (0 when the server runs with http_enabled = false).
  uint16_t http_port() const { return http_port_; }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const;
  const std::string& data_dir() const { return data_dir_; }

 private:
  int Wait();
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  std::string log_path_;
  std::string port_file_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
  uint16_t http_port_ = 0;
  int starts_ = 0;
};

}  // namespace sluice::test
