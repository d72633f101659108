// PostgresServer: a throwaway PostgreSQL cluster from Debian's postgresql package, for the
// postgres destination's tests: initdb in a temp dir, started on a free port on 127.0.0.1 with
// its socket in that dir, trust authentication, stopped and removed at the end. As root it runs
// as the `postgres` user (initdb refuses root).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::test {

class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();  // stops it and removes its directory
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // "" when this machine has Debian's PostgreSQL server binaries, else why not.
  static std::string Unavailable();
  // initdb (first time) and start, on the same port each time; false (see log()) on failure.
  bool Start();
  // Fast shutdown (the cluster's data stays for another Start).
  void Stop();
  uint16_t port() const { return port_; }
  // A libpq connection string for database `postgres` as user `postgres`.
  std::string Connection() const;
  // Runs `sql`; returns the rows, each as its columns joined by '|', or sets *error.
  std::vector<std::string> Query(const std::string& sql, std::string* error = nullptr) const;
  std::string log() const;

 private:
  int RunAsPostgres(const std::vector<std::string>& argv, std::string* out) const;

  std::string dir_;
  std::string bin_;
  uint16_t port_ = 0;
  bool initialised_ = false;
  bool running_ = false;
};

}  // namespace sluice::test
