// TestServer and RunCommand: fork/exec helpers for the integration suite.
#include "tests/support/test_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace sluice::test {
namespace {

pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path,
            const std::string& err_path, const std::string& stdin_file) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int in = open(stdin_file.empty() ? "/dev/null" : stdin_file.c_str(), O_RDONLY);
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  dup2(in, 0);
  dup2(out, 1);
  dup2(err, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t SpawnCommand(const std::vector<std::string>& argv, const std::string& out_path,
                   const std::string& err_path, const std::string& stdin_file) {
  return Spawn(argv, out_path, err_path, stdin_file);
}

int WaitCommand(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return ExitCode(status);
}

std::string BinaryPath(const std::string& name) { return std::string(SLUICE_BIN_DIR) + "/" + name; }

int RunCommand(const std::vector<std::string>& argv, std::string* out, std::string* err,
               const std::string& stdin_file) {
  char tmpl[] = "/tmp/sluice-cmd.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  pid_t pid = Spawn(argv, dir + "/out", dir + "/err", stdin_file);
  int status = 0;
  waitpid(pid, &status, 0);
  if (out) *out = ReadFile(dir + "/out");
  if (err) *err = ReadFile(dir + "/err");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return ExitCode(status);
}

TestServer::TestServer(std::string data_dir, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
  std::filesystem::create_directories(data_dir_);
  log_path_ = data_dir_ + "/../sluiced-" + std::to_string(getpid()) + "-" +
              std::to_string(reinterpret_cast<uintptr_t>(this)) + ".log";
  port_file_ = data_dir_ + "/../port-" + std::to_string(reinterpret_cast<uintptr_t>(this));
}

TestServer::~TestServer() {
  if (pid_ > 0) Kill();
}

bool TestServer::Start() {
  std::filesystem::remove(port_file_);
  std::vector<std::string> argv = {BinaryPath("sluiced"), "--data-dir", data_dir_, "--port", "0",
                                   "--port-file", port_file_, "--shards", "2", "--admin-port", "0",
                                   "--admin-port-file", port_file_ + ".admin", "--http-port", "0",
                                   "--http-port-file", port_file_ + ".http"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  pid_ = Spawn(argv, "/dev/null", log_path_, "");
  starts_++;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      std::fprintf(stderr, "TestServer: sluiced exited during start (status %d); its log:\n%s\n", status, log().c_str());
      return false;
    }
    std::string port = ReadFile(port_file_);
    if (!port.empty() && port.back() == '\n') {
      port_ = static_cast<uint16_t>(std::stoi(port));
      std::string admin = ReadFile(port_file_ + ".admin");  // written before the put port file
      admin_port_ = admin.empty() ? 0 : static_cast<uint16_t>(std::stoi(admin));
      std::string http = ReadFile(port_file_ + ".http");  // written before the put port file too
      http_port_ = http.empty() ? 0 : static_cast<uint16_t>(std::stoi(http));
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::fprintf(stderr, "TestServer: sluiced did not listen within 20 s; its log:\n%s\n", log().c_str());
  Kill();
  return false;
}

int TestServer::Wait() {
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return ExitCode(status);
}

int TestServer::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int rc = Wait();
  // An unclean stop (a sanitizer report is exit 66, a crash 128+signal) says why in the test's
  // output, since the log goes away with the temp dir.
  if (rc != 0) std::fprintf(stderr, "sluiced exited %d; its log:\n%s\n", rc, log().c_str());
  return rc;
}

void TestServer::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  Wait();
}

void TestServer::Signal(int signum) {
  if (pid_ > 0) kill(pid_, signum);
}

std::string TestServer::log() const { return ReadFile(log_path_); }

}  // namespace sluice::test
