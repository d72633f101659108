// PostgresDestination: segments loaded with COPY ... FROM STDIN into a PostgreSQL table, the
// self-hosted counterpart of Firehose's Redshift destination (Redshift speaks PostgreSQL's
// protocol and loads with COPY), exactly once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "server/delivery/destination.h"

struct pg_conn;

namespace sluice::server {

enum class PostgresFormat { kText, kCsv, kJson };

struct PostgresOptions {
  std::string connection;    // libpq connection string or URI (no password in it)
  std::string username;      // "" = the connection string's or libpq's default (PGUSER)
  std::string password;      // "" = libpq's (PGPASSWORD, ~/.pgpass)
  std::string table;         // "events" or "schema.events"
  std::vector<std::string> columns;  // empty = every column, in table order
  PostgresFormat format = PostgresFormat::kCsv;
  std::string copy_options;  // appended inside WITH (...): "NULL 'x', HEADER false"
  std::string ledger_table = "sluice_delivery_ledger";
  std::string ca_file;       // sslrootcert
  uint32_t connect_timeout_s = 10;
  uint32_t statement_timeout_s = 300;
  std::string stream;        // the ledger's stream column
};

// Exactly once: each segment is loaded in one transaction that also inserts its row into the
// ledger table (stream, segment id, oldest arrival); an attempt that finds its row already there
// (a crash between the commit and the segment's delete) loads nothing and reports what the first
// load did. Rows PostgreSQL refuses (a bad CSV line, a type error, invalid JSON: SQLSTATE classes
// 22 and 23) are isolated inside the transaction with savepoints (the failing line from the
// error's context when it names one, else halves) and reported as rejected with the database's
// message; the rest load. Anything else (connection, timeout, a missing table, a lock) is
// retried. Connections are reused (at most 4 kept idle); the password is never in a message.
// Thread: thread-safe (a connection is used by one worker at a time).
class PostgresDestination final : public Destination {
 public:
  explicit PostgresDestination(PostgresOptions options);
  ~PostgresDestination() override;
  DeliveryResult Deliver(const DeliveryObject& object) override;
  std::string_view kind() const override { return "Redshift"; }
  std::string_view error_output_type() const override { return "postgres-failed"; }
  bool needs_body() const override { return false; }

 private:
  struct Conn;
  std::unique_ptr<Conn> Take(std::string* error);
  void Give(std::unique_ptr<Conn> c);
  DeliveryResult Load(Conn& c, const DeliveryObject& object);

  const PostgresOptions options_;
  std::string copy_sql_;  // COPY <table> (<columns>) FROM STDIN WITH (...)
  std::string ledger_;    // the quoted ledger table name
  base::Mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_ SLUICE_GUARDED_BY(mu_);
};

// COPY text-format escaping of one value (backslash, newline, carriage return, tab).
void AppendCopyText(std::string_view value, std::string* out);
// "events" -> "\"events\"", "s.t" -> "\"s\".\"t\"": identifier quoting, each part.
std::string QuoteIdentifier(std::string_view name);
// The 1-based line number an error's COPY context names ("COPY t, line 3, column c: ..."); 0 if none.
uint64_t CopyContextLine(std::string_view context);

}  // namespace sluice::server
