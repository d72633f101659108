// Integration: the postgres destination against a real PostgreSQL from Debian (a throwaway
// cluster per test, tests/support/postgres.h): rows equal to the records in each format, rows
// the database refuses in the backup store with its message and loadable by REPLAY after a fix,
// the database down and back, connections cut mid-transaction, and kill -9 of sluiced between
// the commit and the segment's delete: every acknowledged record exactly once.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/support/clients.h"
#include "tests/support/delivered.h"
#include "tests/support/http_exchange.h"
#include "tests/support/postgres.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::PostgresServer;
using sluice::test::TempDir;
using sluice::test::TestServer;
using sluice::test::WaitFor;

namespace {

// A PostgreSQL cluster and a sluiced whose streams (TOML, with @CONN@ for the connection string)
// load into it.
struct PgFixture {
  TempDir tmp;
  PostgresServer pg;
  std::unique_ptr<TestServer> server;
  std::string config;

  bool StartPg() {
    if (!pg.Start()) {
      INFO(pg.log());
      return false;
    }
    return true;
  }
  void Sql(const std::string& sql) {
    std::string error;
    pg.Query(sql, &error);
    INFO(sql);
    REQUIRE(error.empty());
  }
  std::vector<std::string> Rows(const std::string& sql) {
    std::string error;
    auto rows = pg.Query(sql, &error);
    INFO(sql << ": " << error);
    return rows;
  }
  size_t Count(const std::string& table) {
    auto r = pg.Query("SELECT count(*) FROM " + table);
    return r.empty() ? 0 : std::stoul(r[0]);
  }
  void StartSluiced(std::string streams, std::vector<std::string> extra = {}) {
    for (size_t at; (at = streams.find("@CONN@")) != std::string::npos;) streams.replace(at, 6, pg.Connection());
    config = tmp.Sub("s.toml");
    std::ofstream(config) << streams;
    extra.insert(extra.begin(), {"--config", config});
    server = std::make_unique<TestServer>(tmp.Sub("data"), std::move(extra));
    REQUIRE(server->Start());
  }
  std::string Admin(const std::string& line) { return test::AdminAsk(server->admin_port(), line + "\r\n"); }
  double Metric(const std::string& series) { return test::ScrapeMetric(server->http_port(), series); }
};

std::string Stream(const std::string& name, const std::string& settings, const std::string& extra = "") {
  return "[[stream]]\nname = \"" + name + "\"\ndestination = \"postgres\"\nretry_duration_s = 600\n" +
         "buffering = { size_mib = 1, interval_s = 1 }\n" + extra + "[stream.postgres]\nconnection = \"@CONN@\"\n" + settings;
}

}  // namespace

TEST_CASE("PostgreSQL: records become rows, one each, in csv, text and json formats", "[integration][postgres]") {
  if (auto why = PostgresServer::Unavailable(); !why.empty()) SLUICE_SKIP(why.c_str());
  PgFixture f;
  REQUIRE(f.StartPg());
  f.Sql("CREATE TABLE events (id integer PRIMARY KEY, name text, amount numeric)");
  f.Sql("CREATE SCHEMA logs; CREATE TABLE logs.lines (line text)");
  f.Sql("CREATE TABLE docs (doc jsonb NOT NULL)");
  f.StartSluiced(Stream("csv", "table = \"events\"\ncolumns = \"id, name, amount\"\n") +
                 Stream("text", "table = \"logs.lines\"\nformat = \"text\"\n") +
                 Stream("json", "table = \"docs\"\ncolumns = \"doc\"\nformat = \"json\"\n"));
  std::vector<std::string> csv, text, json;
  for (int i = 0; i < 3000; i++) {
    csv.push_back(std::to_string(i) + ",\"name, with comma " + std::to_string(i) + "\"," + std::to_string(i) + ".5");
    text.push_back("line\\t" + std::to_string(i) + " with a backslash \\\\ escaped");
    json.push_back("{\"id\":" + std::to_string(i) + ",\"msg\":\"tab\\there \\\\ \\\"q\\\"\",\"n\":[1,2]}");
  }
  REQUIRE(test::PutRecords(f.server->port(), "csv", csv) == 0);
  REQUIRE(test::PutRecords(f.server->port(), "text", text) == 0);
  REQUIRE(test::PutRecords(f.server->port(), "json", json) == 0);
  REQUIRE(WaitFor([&] { return f.Count("events") == 3000 && f.Count("logs.lines") == 3000 && f.Count("docs") == 3000; }));
  CHECK(f.Rows("SELECT id, name, amount FROM events WHERE id = 42") == std::vector<std::string>{"42|name, with comma 42|42.5"});
  CHECK(f.Rows("SELECT count(DISTINCT id) FROM events") == std::vector<std::string>{"3000"});
  CHECK(f.Rows("SELECT line FROM logs.lines WHERE line LIKE '%\t7 %'") ==
        std::vector<std::string>{"line\t7 with a backslash \\ escaped"});
  CHECK(f.Rows("SELECT doc->>'msg', doc->'n'->>1 FROM docs WHERE (doc->>'id')::int = 9") ==
        std::vector<std::string>{"tab\there \\ \"q\"|2"});
  // One ledger row per loaded segment, in the same database.
  CHECK(std::stoul(f.Rows("SELECT count(*) FROM sluice_delivery_ledger WHERE stream = 'csv'")[0]) >= 1);
  CHECK(f.Rows("SELECT sum(records) FROM sluice_delivery_ledger") == std::vector<std::string>{"9000"});
  // Metrics under Firehose's Redshift names.
  REQUIRE(WaitFor([&] { return f.Metric("sluice_delivery_records_total{stream=\"csv\",destination=\"Redshift\"}") == 3000; }));
  const std::string stats = f.Admin("STATS csv");
  CHECK(stats.find("DeliveryToRedshift.Records") != std::string::npos);
  // DESCRIBE never shows a password; the connection string cannot hold one.
  const std::string describe = f.Admin("STREAM DESCRIBE csv");
  CHECK(describe.find("postgres.password") != std::string::npos);
  CHECK(describe.find("(environment)") != std::string::npos);
  CHECK(f.Admin("STREAM CREATE bad destination postgres postgres.connection postgresql://u:secret@h/db postgres.table t")
            .find("must not hold a password") != std::string::npos);
  CHECK(f.Admin("STREAM CREATE bad destination postgres postgres.connection host=h postgres.table t postgres.format json "
                "postgres.columns a,b")
            .find("must name exactly one") != std::string::npos);
  CHECK(f.Admin("STREAM CREATE bad destination postgres postgres.connection host=h postgres.table t "
                "postgres.copy_options \"NULL 'x'; DROP TABLE t\"")
            .find("must not contain ';'") != std::string::npos);
  CHECK(f.Admin("STREAM CREATE p2 destination postgres postgres.connection host=h postgres.table t postgres.password pw")
            .rfind("+OK", 0) == 0);
  CHECK(f.Admin("STREAM DESCRIBE p2").find("pw\r\n") == std::string::npos);
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("PostgreSQL: refused rows go to the backup store with the database's message, the rest load, and REPLAY loads them after a fix",
          "[integration][postgres]") {
  if (auto why = PostgresServer::Unavailable(); !why.empty()) SLUICE_SKIP(why.c_str());
  PgFixture f;
  REQUIRE(f.StartPg());
  f.Sql("CREATE TABLE events (id integer PRIMARY KEY, name text NOT NULL)");
  f.StartSluiced(Stream("pg", "table = \"events\"\ncolumns = \"id, name\"\n"));
  std::vector<std::string> records;
  for (int i = 0; i < 1000; i++) records.push_back(std::to_string(i) + ",n" + std::to_string(i));
  records[100] = "abc,not a number";       // 22P02 invalid input syntax for type integer
  records[500] = "5000000000,too big";     // 22003 out of range for type integer
  records[700] = "7";                      // 22P04 missing data for column "name"
  records[900] = "1,duplicate of 1";       // 23505 unique violation
  REQUIRE(test::PutRecords(f.server->port(), "pg", records) == 0);
  REQUIRE(WaitFor([&] { return f.Count("events") == 996; }));
  const std::string backup = f.server->data_dir() + "/backup/pg";
  REQUIRE(WaitFor([&] { return test::ReadErrors(backup).size() == 4; }));
  std::map<std::string, test::ErrorRecord> by_raw;
  for (const auto& e : test::ReadErrors(backup)) by_raw[e.raw] = e;
  REQUIRE(by_raw.size() == 4);
  CHECK(by_raw.at("abc,not a number").code == "Redshift.22P02");
  CHECK(by_raw.at("abc,not a number").message.find("invalid input syntax for type integer") != std::string::npos);
  CHECK(by_raw.at("abc,not a number").type == "postgres-failed");
  CHECK(by_raw.at("5000000000,too big").code == "Redshift.22003");
  CHECK(by_raw.at("7").code == "Redshift.22P04");
  CHECK(by_raw.at("1,duplicate of 1").code == "Redshift.23505");
  CHECK(by_raw.at("1,duplicate of 1").message.find("duplicate key") != std::string::npos);
  CHECK(by_raw.at("7").arrival > 1'600'000'000'000);
  REQUIRE(WaitFor([&] { return f.Metric("sluice_delivery_rejected_records_total{stream=\"pg\",destination=\"Redshift\"}") == 4; }));
  CHECK(f.Metric("sluice_delivery_records_total{stream=\"pg\",destination=\"Redshift\"}") == 996);
  CHECK(f.Metric("sluice_backup_records_total{stream=\"pg\",destination=\"Redshift\"}") == 4);

  // The fix: ids become text. REPLAY puts the backed-up records again: two load now; the short
  // line and the duplicate are refused again, with the same messages, into the backup store.
  f.Sql("ALTER TABLE events ALTER COLUMN id TYPE text");
  const std::string replay = f.Admin("REPLAY pg");
  INFO(replay);
  REQUIRE(replay.rfind("+OK replaying", 0) == 0);
  REQUIRE(WaitFor([&] { return f.Count("events") == 998; }));
  CHECK(f.Rows("SELECT name FROM events WHERE id = 'abc'") == std::vector<std::string>{"not a number"});
  CHECK(f.Rows("SELECT name FROM events WHERE id = '5000000000'") == std::vector<std::string>{"too big"});
  REQUIRE(WaitFor([&] { return test::ReadErrors(backup).size() == 6; }));
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("PostgreSQL: down for a while, connections cut mid-transaction, then up: every record exactly once",
          "[integration][postgres]") {
  if (auto why = PostgresServer::Unavailable(); !why.empty()) SLUICE_SKIP(why.c_str());
  PgFixture f;
  REQUIRE(f.StartPg());
  f.Sql("CREATE TABLE events (id integer PRIMARY KEY, payload text)");
  f.StartSluiced(Stream("pg", "table = \"events\"\n"));
  f.pg.Stop();
  std::vector<std::string> records;
  for (int i = 0; i < 5000; i++) records.push_back(std::to_string(i) + ",p" + std::to_string(i));
  REQUIRE(test::PutRecords(f.server->port(), "pg", records) == 0);
  // Attempts fail while the database is down, and say so.
  REQUIRE(WaitFor([&] { return f.Metric("sluice_delivery_failed_attempts_total{stream=\"pg\",destination=\"Redshift\"}") >= 1; }));
  CHECK(f.server->log().find("cannot connect to PostgreSQL") != std::string::npos);
  REQUIRE(f.StartPg());
  // While the backlog loads, cut sluice's connections a few times (mid-COPY or mid-commit).
  std::atomic<bool> stop{false};
  std::thread cutter([&] {
    for (int i = 0; i < 20 && !stop; i++) {
      f.pg.Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sluice'");
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
  });
  std::vector<std::string> more;
  for (int i = 5000; i < 8000; i++) more.push_back(std::to_string(i) + ",p" + std::to_string(i));
  REQUIRE(test::PutRecords(f.server->port(), "pg", more) == 0);
  const bool all = WaitFor([&] { return f.Count("events") == 8000; }, std::chrono::seconds(90));
  stop = true;
  cutter.join();
  INFO(f.server->log());
  CHECK(all);
  CHECK(f.Rows("SELECT count(DISTINCT id), min(id), max(id) FROM events") == std::vector<std::string>{"8000|0|7999"});
  CHECK(f.server->Stop() == 0);
}

TEST_CASE("PostgreSQL: kill -9 of sluiced between the commit and the segment's delete loads nothing twice",
          "[integration][postgres][crash]") {
  if (auto why = PostgresServer::Unavailable(); !why.empty()) SLUICE_SKIP(why.c_str());
  PgFixture f;
  REQUIRE(f.StartPg());
  f.Sql("CREATE TABLE events (line text)");  // no key: a second load would show as a duplicate
  const std::string streams = Stream("pg", "table = \"events\"\nformat = \"text\"\n", "");
  // The third delivered segment dies right after its transaction committed.
  setenv("SLUICE_FAULT_POINT", "deliver.before_delete", 1);
  setenv("SLUICE_FAULT_AFTER", "3", 1);
  f.StartSluiced(streams, {"--enable-fault-injection"});
  unsetenv("SLUICE_FAULT_POINT");
  unsetenv("SLUICE_FAULT_AFTER");
  std::set<std::string> acked;
  uint32_t batch = 0;
  // Put until the fault point kills it (or 60 batches): each batch its own segment (interval 1 s).
  while (f.server->running() && batch < 60) {
    std::vector<std::string> recs;
    for (int i = 0; i < 200; i++) recs.push_back("b" + std::to_string(batch) + "-r" + std::to_string(i));
    if (test::PutRecords(f.server->port(), "pg", recs) == 0)
      for (auto& r : recs) acked.insert(r);
    batch++;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    if (f.server->log().find("fault point reached") != std::string::npos) break;
  }
  REQUIRE(f.server->WaitExit() == 128 + SIGKILL);
  // Then random kills while it works through the rest, and a clean finish.
  std::mt19937 rng(static_cast<uint32_t>(std::random_device{}()));
  for (int kill = 0; kill < 2; kill++) {
    REQUIRE(f.server->Start());
    std::vector<std::string> recs;
    for (int i = 0; i < 2000; i++) recs.push_back("k" + std::to_string(kill) + "-r" + std::to_string(i));
    if (test::PutRecords(f.server->port(), "pg", recs) == 0)
      for (auto& r : recs) acked.insert(r);
    std::this_thread::sleep_for(std::chrono::milliseconds(500 + rng() % 1500));
    f.server->Kill();
  }
  REQUIRE(f.server->Start());
  REQUIRE(WaitFor([&] { return f.Count("events") >= acked.size(); }, std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // anything loaded twice would show by now
  std::multiset<std::string> rows;
  for (auto& r : f.Rows("SELECT line FROM events")) rows.insert(r);
  size_t twice = 0, missing = 0;
  for (const auto& r : rows) twice += rows.count(r) > 1;
  for (const auto& a : acked) missing += rows.count(a) == 0;
  INFO("acked " << acked.size() << ", rows " << rows.size() << "\n" << f.server->log());
  CHECK(missing == 0);
  CHECK(twice == 0);
  CHECK(f.server->log().find("was loaded before") != std::string::npos);
  CHECK(f.server->Stop() == 0);
}
