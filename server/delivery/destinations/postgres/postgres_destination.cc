// PostgresDestination: COPY FROM STDIN in one transaction with the ledger row; savepoints isolate
// the rows PostgreSQL refuses.
#include "server/delivery/destinations/postgres/postgres_destination.h"

#include <libpq-fe.h>
#include <simdjson.h>

#include <charconv>

#include "base/log.h"
#include "server/encoding/json_escape.h"

namespace sluice::server {
namespace {

constexpr size_t kMaxIdle = 4;
constexpr size_t kCopyChunk = 1u << 20;        // bytes per PQputCopyData
constexpr size_t kMaxCopiesPerSegment = 2000;  // isolating bad rows stops here (the rest is backed up)

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

std::string Field(const PGresult* r, int field) {
  const char* v = r ? PQresultErrorField(r, field) : nullptr;
  return v ? std::string(v) : std::string();
}

// One line of libpq's error text (it ends in a newline).
std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A PostgreSQL error as the backup record and the log show it.
struct PgError {
  std::string sqlstate;
  std::string message;
  std::string context;
  bool data_error() const {  // the row's own fault: data exceptions and integrity violations
    return sqlstate.size() == 5 && (sqlstate.rfind("22", 0) == 0 || sqlstate.rfind("23", 0) == 0);
  }
};

PgError ErrorOf(PGconn* conn, const PGresult* r) {
  PgError e;
  e.sqlstate = Field(r, PG_DIAG_SQLSTATE);
  e.message = Field(r, PG_DIAG_MESSAGE_PRIMARY);
  const std::string detail = Field(r, PG_DIAG_MESSAGE_DETAIL);
  if (!detail.empty()) e.message += " (" + detail + ")";
  e.context = Field(r, PG_DIAG_CONTEXT);
  if (e.message.empty()) e.message = Trim(PQerrorMessage(conn));
  if (e.message.empty()) e.message = "unknown error";
  return e;
}

}  // namespace

struct PostgresDestination::Conn {
  PGconn* pg = nullptr;
  ~Conn() {
    if (pg) PQfinish(pg);
  }
  // Runs a statement without parameters; false (with *error) unless it answers `want`.
  bool Exec(const std::string& sql, ExecStatusType want, PgError* error) {
    Result r(PQexec(pg, sql.c_str()));
    // COMMIT of a transaction that failed answers "ROLLBACK" with COMMAND_OK: not a commit.
    if (r && PQresultStatus(r.get()) == want && (sql != "COMMIT" || std::string_view(PQcmdStatus(r.get())) == "COMMIT"))
      return true;
    *error = ErrorOf(pg, r.get());
    if (sql == "COMMIT" && error->message == "unknown error") error->message = "the transaction was rolled back";
    return false;
  }
  bool Exec(const std::string& sql, PgError* error) { return Exec(sql, PGRES_COMMAND_OK, error); }
};

void AppendCopyText(std::string_view value, std::string* out) {
  for (char c : value) {
    switch (c) {
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default: out->push_back(c);
    }
  }
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out;
  size_t start = 0;
  for (;;) {
    const size_t dot = name.find('.', start);
    std::string_view part = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    out.push_back('"');
    for (char c : part) {
      if (c == '"') out.push_back('"');
      out.push_back(c);
    }
    out.push_back('"');
    if (dot == std::string_view::npos) break;
    out.push_back('.');
    start = dot + 1;
  }
  return out;
}

uint64_t CopyContextLine(std::string_view context) {
  // "COPY events, line 3, column n: \"abc\"" (or "..., line 3: ...").
  const size_t at = context.find(", line ");
  if (context.rfind("COPY ", 0) != 0 || at == std::string_view::npos) return 0;
  const char* begin = context.data() + at + 7;
  uint64_t line = 0;
  auto [end, ec] = std::from_chars(begin, context.data() + context.size(), line);
  return ec == std::errc() && end != begin ? line : 0;
}

PostgresDestination::PostgresDestination(PostgresOptions options) : options_(std::move(options)) {
  copy_sql_ = "COPY " + QuoteIdentifier(options_.table);
  if (!options_.columns.empty()) {
    copy_sql_ += " (";
    for (size_t i = 0; i < options_.columns.size(); i++) copy_sql_ += (i ? ", " : "") + QuoteIdentifier(options_.columns[i]);
    copy_sql_ += ")";
  }
  copy_sql_ += std::string(" FROM STDIN WITH (FORMAT ") + (options_.format == PostgresFormat::kCsv ? "csv" : "text");
  if (!options_.copy_options.empty()) copy_sql_ += ", " + options_.copy_options;
  copy_sql_ += ")";
  ledger_ = QuoteIdentifier(options_.ledger_table);
}

PostgresDestination::~PostgresDestination() = default;

std::unique_ptr<PostgresDestination::Conn> PostgresDestination::Take(std::string* error) {
  {
    base::MutexLock lock(mu_);
    while (!idle_.empty()) {
      std::unique_ptr<Conn> c = std::move(idle_.back());
      idle_.pop_back();
      if (PQstatus(c->pg) == CONNECTION_OK) return c;
    }
  }
  // dbname first: a connection string or URI in it expands, and the keywords after it win.
  const std::string timeout = std::to_string(options_.connect_timeout_s);
  const std::string options = "-c statement_timeout=" + std::to_string(uint64_t(options_.statement_timeout_s) * 1000);
  // A peer that stops acknowledging (a cut cable, a frozen VM) ends the attempt instead of
  // holding a worker: unacknowledged data times out after the statement timeout and a minute.
  const std::string user_timeout = std::to_string((uint64_t(options_.statement_timeout_s) + 60) * 1000);
  std::vector<const char*> keys = {"dbname", "connect_timeout", "application_name", "client_encoding", "options",
                                   "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                                   "tcp_user_timeout"};
  std::vector<const char*> values = {options_.connection.c_str(), timeout.c_str(), "sluice", "UTF8", options.c_str(),
                                     "1", "30", "10", "6", user_timeout.c_str()};
  if (!options_.username.empty()) keys.push_back("user"), values.push_back(options_.username.c_str());
  if (!options_.password.empty()) keys.push_back("password"), values.push_back(options_.password.c_str());
  if (!options_.ca_file.empty()) keys.push_back("sslrootcert"), values.push_back(options_.ca_file.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  auto c = std::make_unique<Conn>();
  c->pg = PQconnectdbParams(keys.data(), values.data(), 1);
  if (c->pg == nullptr || PQstatus(c->pg) != CONNECTION_OK) {
    // libpq's message names the host and the reason; it never contains the password.
    *error = "cannot connect to PostgreSQL: " + (c->pg ? Trim(PQerrorMessage(c->pg)) : std::string("out of memory"));
    return nullptr;
  }
  // The ledger: one row per loaded segment, written in the load's own transaction.
  PgError e;
  const std::string create = "CREATE TABLE IF NOT EXISTS " + ledger_ +
                             " (stream text NOT NULL, segment text NOT NULL, first_arrival_ms bigint NOT NULL, "
                             "records integer NOT NULL, rejected jsonb NOT NULL DEFAULT '[]', "
                             "delivered_at timestamptz NOT NULL DEFAULT now(), "
                             "PRIMARY KEY (stream, segment, first_arrival_ms))";
  // Two connections creating it at once: one of them meets a unique violation on the catalog; the
  // table exists either way.
  if (!c->Exec(create, &e) && e.sqlstate != "23505" && e.sqlstate != "42P07") {
    *error = "cannot create the ledger table " + options_.ledger_table + ": " + e.message;
    return nullptr;
  }
  return c;
}

void PostgresDestination::Give(std::unique_ptr<Conn> c) {
  if (c == nullptr || PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE) return;
  base::MutexLock lock(mu_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
}

DeliveryResult PostgresDestination::Deliver(const DeliveryObject& object) {
  std::string error;
  std::unique_ptr<Conn> c = Take(&error);
  if (c == nullptr) return DeliveryResult::Retry(error);
  DeliveryResult r = Load(*c, object);
  // After a failure the session's state is unknown (a COPY half sent, a transaction aborted):
  // the connection goes (closing it rolls back); a new one is made for the next attempt.
  if (r.outcome == Outcome::kOk) Give(std::move(c));
  return r;
}

DeliveryResult PostgresDestination::Load(Conn& c, const DeliveryObject& object) {
  PgError e;
  auto retry = [&e](std::string_view what) {
    return DeliveryResult::Retry(std::string(what) + ": " + (e.sqlstate.empty() ? "" : e.sqlstate + " ") + e.message);
  };
  if (!c.Exec("BEGIN", &e)) return retry("BEGIN");

  // Loaded before (a crash between the commit and the segment's delete)? Then report what that load did.
  const std::string segment(object.segment_id), stream = options_.stream.empty() ? std::string(object.stream) : options_.stream;
  const std::string first_ms = std::to_string(object.oldest_arrival_ms);
  const char* params[3] = {stream.c_str(), segment.c_str(), first_ms.c_str()};
  Result found(PQexecParams(c.pg,
                            ("SELECT rejected::text FROM " + ledger_ + " WHERE stream = $1 AND segment = $2 AND first_arrival_ms = $3").c_str(),
                            3, nullptr, params, nullptr, nullptr, 0));
  if (!found || PQresultStatus(found.get()) != PGRES_TUPLES_OK) {
    e = ErrorOf(c.pg, found.get());
    return retry("reading the ledger " + options_.ledger_table);
  }
  DeliveryResult result;
  if (PQntuples(found.get()) > 0) {
    simdjson::dom::parser parser;
    simdjson::dom::array list;
    const std::string text = PQgetvalue(found.get(), 0, 0);
    if (parser.parse(text).get_array().get(list) == simdjson::SUCCESS) {
      for (simdjson::dom::element item : list) {
        uint64_t i = 0;
        std::string_view code, message;
        if (item["i"].get_uint64().get(i) != simdjson::SUCCESS || i >= object.records.size()) continue;
        if (item["code"].get_string().get(code) != simdjson::SUCCESS) code = {};
        if (item["message"].get_string().get(message) != simdjson::SUCCESS) message = {};
        result.rejected.push_back({static_cast<uint32_t>(i), std::string(code), std::string(message)});
      }
    }
    if (!c.Exec("COMMIT", &e)) return retry("COMMIT");
    SLUICE_LOG_INFO_CTX("delivery", ({object.stream, object.segment_id, "Redshift"}),
                        "stream %.*s: segment %.*s was loaded before (ledger %s); not loaded again",
                        static_cast<int>(object.stream.size()), object.stream.data(),
                        static_cast<int>(object.segment_id.size()), object.segment_id.data(), options_.ledger_table.c_str());
    return result;
  }

  // The rows, one line each; records that cannot be a row at all are refused before COPY.
  std::vector<std::string> rows(object.records.size());
  std::vector<uint32_t> pending;
  pending.reserve(object.records.size());
  for (uint32_t i = 0; i < object.records.size(); i++) {
    std::string_view rec = object.records[i];
    std::string& row = rows[i];
    if (options_.format == PostgresFormat::kJson) {
      AppendCopyText(rec, &row);
    } else if (options_.format == PostgresFormat::kText &&
               (rec.find('\n') != std::string_view::npos || rec.find('\r') != std::string_view::npos)) {
      result.rejected.push_back({i, "Redshift.22P04", "a record in COPY text format cannot contain a line break (write \\n)"});
      continue;
    } else {
      row.assign(rec);
      while (!row.empty() && (row.back() == '\n' || row.back() == '\r')) row.pop_back();
    }
    row.push_back('\n');
    pending.push_back(i);
  }

  // Load ranges of `pending`; a range that fails for its data is rolled back to its savepoint and
  // split around the failing row.
  struct Range {
    size_t begin, end;  // into pending
  };
  std::vector<Range> work;
  if (!pending.empty()) work.push_back({0, pending.size()});
  size_t copies = 0;
  while (!work.empty()) {
    const Range range = work.back();
    work.pop_back();
    if (++copies > kMaxCopiesPerSegment) {
      for (size_t k = range.begin; k < range.end; k++)
        result.rejected.push_back({pending[k], "Redshift.TooManyBadRows",
                                   "not loaded: the segment had too many rows PostgreSQL refused to isolate them all"});
      continue;
    }
    if (!c.Exec("SAVEPOINT sluice_rows", &e)) return retry("SAVEPOINT");
    Result start(PQexec(c.pg, copy_sql_.c_str()));
    if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN) {
      e = ErrorOf(c.pg, start.get());
      return retry("COPY into " + options_.table);
    }
    std::string buf;
    bool sent = true;
    for (size_t k = range.begin; k < range.end && sent; k++) {
      buf += rows[pending[k]];
      if (buf.size() >= kCopyChunk || k + 1 == range.end) {
        sent = PQputCopyData(c.pg, buf.data(), static_cast<int>(buf.size())) == 1;
        buf.clear();
      }
    }
    if (!sent || PQputCopyEnd(c.pg, nullptr) != 1) {
      e = {"", Trim(PQerrorMessage(c.pg)), ""};
      return retry("sending rows to PostgreSQL");
    }
    Result done(PQgetResult(c.pg));
    bool ok = done && PQresultStatus(done.get()) == PGRES_COMMAND_OK;
    if (!ok) e = ErrorOf(c.pg, done.get());
    while (PGresult* more = PQgetResult(c.pg)) PQclear(more);  // the end of the COPY's results
    if (ok) {
      if (!c.Exec("RELEASE SAVEPOINT sluice_rows", &e)) return retry("RELEASE SAVEPOINT");
      continue;
    }
    if (!e.data_error()) return retry("COPY into " + options_.table);
    const PgError refused = e;
    if (!c.Exec("ROLLBACK TO SAVEPOINT sluice_rows", &e) || !c.Exec("RELEASE SAVEPOINT sluice_rows", &e))
      return retry("ROLLBACK TO SAVEPOINT");
    const size_t n = range.end - range.begin;
    const uint64_t line = CopyContextLine(refused.context);
    if (n == 1 || (line >= 1 && line <= n)) {
      // The failing row: refused with the database's words; the rows around it go again.
      const size_t bad = range.begin + (n == 1 ? 0 : line - 1);
      result.rejected.push_back({pending[bad], "Redshift." + refused.sqlstate,
                                 refused.message + (refused.context.empty() ? "" : " [" + refused.context.substr(0, 200) + "]")});
      if (bad + 1 < range.end) work.push_back({bad + 1, range.end});
      if (bad > range.begin) work.push_back({range.begin, bad});
    } else {  // no line to go by: halves
      work.push_back({range.begin + n / 2, range.end});
      work.push_back({range.begin, range.begin + n / 2});
    }
  }

  // The ledger row, in the same transaction: committed together or not at all.
  std::string rejected_json = "[";
  for (size_t k = 0; k < result.rejected.size(); k++) {
    const RejectedRecord& r = result.rejected[k];
    rejected_json += (k ? "," : "") + std::string("{\"i\":") + std::to_string(r.index) + ",\"code\":\"" +
                     JsonEscape(r.code) + "\",\"message\":\"" + JsonEscape(r.message) + "\"}";
  }
  rejected_json += "]";
  const std::string count = std::to_string(object.records.size());
  const char* insert_params[5] = {stream.c_str(), segment.c_str(), first_ms.c_str(), count.c_str(), rejected_json.c_str()};
  Result inserted(PQexecParams(c.pg,
                               ("INSERT INTO " + ledger_ +
                                " (stream, segment, first_arrival_ms, records, rejected) VALUES ($1, $2, $3, $4, $5::jsonb)")
                                   .c_str(),
                               5, nullptr, insert_params, nullptr, nullptr, 0));
  if (!inserted || PQresultStatus(inserted.get()) != PGRES_COMMAND_OK) {
    e = ErrorOf(c.pg, inserted.get());
    return retry("writing the ledger " + options_.ledger_table);
  }
  if (!c.Exec("COMMIT", &e)) return retry("COMMIT");
  return result;
}

}  // namespace sluice::server
