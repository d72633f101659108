// The postgres destination kind: PostgreSQL's COPY, the self-hosted counterpart of Firehose's
// Redshift destination (RedshiftDestinationConfiguration; metrics DeliveryToRedshift.*).
#include <cctype>

#include "server/delivery/destinations/postgres/postgres_destination.h"
#include "server/delivery/destinations/registry.h"

namespace sluice::server {
namespace {

constexpr Setting kSettings[] = {
    {.key = "connection", .type = SettingType::kString, .max = 4096, .required = true, .firehose = "ClusterJDBCURL",
     .doc = "libpq connection string or URI (`host=db port=5432 dbname=events sslmode=verify-full`, "
            "`postgresql://db:5432/events`; a `jdbc:postgresql://` or `jdbc:redshift://` URL works too); no password in it"},
    {.key = "username", .type = SettingType::kString, .max = 512, .firehose = "Username",
     .default_doc = "`PGUSER`", .doc = "role to connect as (else the connection string's, else libpq's `PGUSER`)"},
    {.key = "password", .type = SettingType::kString, .max = 512, .shown = SettingShown::kSecret,
     .shown_when_empty = "(environment)", .firehose = "Password", .default_doc = "`PGPASSWORD`",
     .doc = "shown as `(set)`; when empty libpq reads `PGPASSWORD` or `~/.pgpass` from sluiced's environment"},
    {.key = "table", .type = SettingType::kString, .max = 512, .required = true, .firehose = "CopyCommand.DataTableName",
     .doc = "the table (`events`, `schema.events`); it must exist"},
    {.key = "columns", .type = SettingType::kString, .max = 10240, .firehose = "CopyCommand.DataTableColumns",
     .default_doc = "every column", .doc = "comma-separated column list the rows fill, in order"},
    {.key = "format", .type = SettingType::kString, .default_value = "csv", .format = SettingFormat::kChoice,
     .choices = "csv|text|json",
     .doc = "a record is one CSV line, one line of COPY text format, or one JSON document loaded into the one "
            "column `columns` names (a `jsonb` or `json` column)"},
    {.key = "copy_options", .type = SettingType::kString, .max = 1024, .firehose = "CopyCommand.CopyOptions",
     .doc = "added inside `COPY ... WITH (FORMAT <format>, <copy_options>)`: `DELIMITER E'\\t'`, `NULL ''`, "
            "`FORCE_NULL (c)`; no `;`, no `HEADER`"},
    {.key = "ledger_table", .type = SettingType::kString, .default_value = "sluice_delivery_ledger", .max = 512,
     .doc = "bookkeeping table (created if missing): one row per loaded segment, written in the load's transaction"},
    {.key = "ca_file", .type = SettingType::kString, .max = 4096, .default_doc = "system",
     .doc = "CA bundle for `sslmode=verify-ca` or `verify-full` (libpq's `sslrootcert`)"},
    {.key = "connect_timeout_s", .type = SettingType::kInteger, .default_value = "10", .min = 1, .max = 300,
     .doc = "connecting"},
    {.key = "statement_timeout_s", .type = SettingType::kInteger, .default_value = "300", .min = 1, .max = 86400,
     .doc = "each statement (the server's `statement_timeout`); a peer that stops answering is dropped a minute later"},
};

// "a, b,c" -> {"a", "b", "c"}; empty for an empty list. False for an empty or unprintable name.
bool SplitColumns(const std::string& list, std::vector<std::string>* out) {
  out->clear();
  if (list.find_first_not_of(" ") == std::string::npos) return true;
  size_t start = 0;
  for (;;) {
    const size_t comma = list.find(',', start);
    std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!name.empty() && name.front() == ' ') name.erase(name.begin());
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (name.empty() || name.size() > 63) return false;
    for (unsigned char c : name)
      if (c < 0x20 || c == '"' || c == 0x7f) return false;
    out->push_back(std::move(name));
    if (comma == std::string::npos) return true;
    start = comma + 1;
  }
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// jdbc:postgresql://h:p/db and jdbc:redshift://h:p/db (Firehose's ClusterJDBCURL) -> postgresql://h:p/db.
std::string ConnectionString(const std::string& c) {
  for (const char* scheme : {"jdbc:postgresql://", "jdbc:redshift://"})
    if (Lower(c).rfind(scheme, 0) == 0) return "postgresql://" + c.substr(std::string_view(scheme).size());
  return c;
}

base::Status Validate(const SettingValues& v) {
  const std::string conn = Lower(ConnectionString(v.Str("connection")));
  const size_t scheme = conn.find("://");
  const size_t at = conn.find('@');
  if (conn.find("password") != std::string::npos ||
      (scheme != std::string::npos && at != std::string::npos && conn.find(':', scheme + 3) < at))
    return base::InvalidArgument("postgres.connection must not hold a password (it would show in STREAM DESCRIBE and "
                                 "in logs): set postgres.password, or PGPASSWORD in sluiced's environment");
  std::vector<std::string> columns;
  if (!SplitColumns(v.Str("columns"), &columns))
    return base::InvalidArgument("postgres.columns must be a comma-separated list of column names (1..63 characters, "
                                 "no quotes or control characters)");
  if (v.Str("format") == "json" && columns.size() != 1)
    return base::InvalidArgument("postgres.format json loads each record into one column: postgres.columns must name "
                                 "exactly one (a jsonb or json column)");
  const std::string options = Lower(v.Str("copy_options"));
  if (options.find(';') != std::string::npos || options.find("header") != std::string::npos ||
      options.find("format") != std::string::npos)
    return base::InvalidArgument("postgres.copy_options must not contain ';', HEADER or FORMAT (set postgres.format)");
  for (const char* key : {"table", "ledger_table"}) {
    const std::string& name = v.Str(key);
    if (name.empty()) continue;
    if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string::npos || name.find('"') != std::string::npos)
      return base::InvalidArgument(std::string("postgres.") + key + " must be a table name or schema.table, without quotes");
  }
  return base::Status::Ok();
}

std::unique_ptr<Destination> Make(const DestinationContext& ctx) {
  const SettingValues& v = ctx.settings;
  PostgresOptions o;
  o.connection = ConnectionString(v.Str("connection"));
  o.username = v.Str("username");
  o.password = v.Str("password");
  o.table = v.Str("table");
  SplitColumns(v.Str("columns"), &o.columns);
  const std::string& f = v.Str("format");
  o.format = f == "json" ? PostgresFormat::kJson : f == "text" ? PostgresFormat::kText : PostgresFormat::kCsv;
  o.copy_options = v.Str("copy_options");
  o.ledger_table = v.Str("ledger_table");
  o.ca_file = v.Str("ca_file");
  o.connect_timeout_s = static_cast<uint32_t>(v.Int("connect_timeout_s"));
  o.statement_timeout_s = static_cast<uint32_t>(v.Int("statement_timeout_s"));
  o.stream = std::string(ctx.stream);
  return std::make_unique<PostgresDestination>(std::move(o));
}

}  // namespace

extern const DestinationKind kPostgresDestination{
    .name = "postgres",
    .metric_name = "Redshift",
    .firehose = "RedshiftDestinationConfiguration",
    .summary = "rows loaded into a PostgreSQL table with COPY, exactly once (a ledger row in the same transaction); "
               "Firehose's Redshift destination without the S3 staging",
    .settings = kSettings,
    .max_buffer_size_mib = 128,
    .max_retry_duration_s = 7200,
    .default_retry_duration_s = 300,
    .validate = Validate,
    .make = Make,
};

}  // namespace sluice::server
