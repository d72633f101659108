// PostgresServer: initdb + pg_ctl from /usr/lib/postgresql/<version>/bin.
#include "tests/support/postgres.h"

#include <libpq-fe.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/peer.h"
#include "tests/support/test_server.h"

namespace sluice::test {
namespace {

std::string FindBin() {
  std::error_code ec;
  std::string best;
  for (auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string bin = e.path().string() + "/bin";
    if (std::filesystem::exists(bin + "/initdb") && std::filesystem::exists(bin + "/pg_ctl") && bin > best) best = bin;
  }
  return best;
}

}  // namespace

std::string PostgresServer::Unavailable() {
  if (FindBin().empty()) return "Debian's postgresql is not installed (scripts/setup installs it)";
  if (geteuid() == 0 && getpwnam("postgres") == nullptr) return "there is no postgres user to run PostgreSQL as";
  if (geteuid() == 0 && !std::filesystem::exists("/usr/sbin/runuser")) return "runuser (util-linux) is missing";
  return "";
}

PostgresServer::PostgresServer() : bin_(FindBin()) {
  char tmpl[] = "/tmp/sluice-pg.XXXXXX";
  if (mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  if (geteuid() == 0 && !dir_.empty()) {
    if (passwd* pw = getpwnam("postgres")) {
      if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) dir_.clear();
    }
  }
  port_ = FreePort();
}

PostgresServer::~PostgresServer() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

int PostgresServer::RunAsPostgres(const std::vector<std::string>& argv, std::string* out) const {
  std::vector<std::string> full;
  if (geteuid() == 0) full = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::string err;
  const int rc = RunCommand(full, out, &err);
  if (out) *out += err;
  return rc;
}

bool PostgresServer::Start() {
  if (dir_.empty() || bin_.empty()) return false;
  std::string out;
  if (!initialised_) {
    if (RunAsPostgres({bin_ + "/initdb", "-D", dir_ + "/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"},
                      &out) != 0) {
      std::ofstream(dir_ + "/setup.log") << out;
      return false;
    }
    initialised_ = true;
  }
  const std::string opts = "-k " + dir_ + " -c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -c fsync=off";
  if (RunAsPostgres({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log", "-w", "-t", "30", "-o", opts, "start"},
                    &out) != 0) {
    std::ofstream(dir_ + "/setup.log", std::ios::app) << out;
    return false;
  }
  running_ = true;
  return true;
}

void PostgresServer::Stop() {
  if (!running_) return;
  std::string out;
  RunAsPostgres({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "-t", "30", "stop"}, &out);
  running_ = false;
}

std::string PostgresServer::Connection() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres user=postgres connect_timeout=5";
}

std::vector<std::string> PostgresServer::Query(const std::string& sql, std::string* error) const {
  std::vector<std::string> rows;
  PGconn* c = PQconnectdb(Connection().c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    if (error) *error = PQerrorMessage(c);
    PQfinish(c);
    return rows;
  }
  PGresult* r = PQexec(c, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_TUPLES_OK) {
    for (int i = 0; i < PQntuples(r); i++) {
      std::string row;
      for (int j = 0; j < PQnfields(r); j++) row += (j ? "|" : "") + std::string(PQgetvalue(r, i, j));
      rows.push_back(std::move(row));
    }
    if (error) error->clear();
  } else if (st == PGRES_COMMAND_OK) {
    if (error) error->clear();
  } else if (error) {
    *error = PQresultErrorMessage(r);
  }
  PQclear(r);
  PQfinish(c);
  return rows;
}

std::string PostgresServer::log() const {
  std::ostringstream o;
  for (const char* f : {"/setup.log", "/server.log"}) {
    std::ifstream in(dir_ + f);
    if (in) o << f << ":\n" << in.rdbuf() << "\n";
  }
  return o.str();
}

}  // namespace sluice::test
