// The command table built from protocol/admin_commands.def, and the one place that checks
// arity, flags and authentication before a handler runs.
#include "server/admin/command_table.h"

#include "base/log.h"

#include <algorithm>
#include <cctype>

#include "server/admin/admin_services.h"
#include "server/admin/resp.h"

namespace sluice::server::admin {

// Handlers live in *_commands.cc, one family per file.
#define SLUICE_ADMIN_COMMAND(handler, name, sub, arity, flags, usage, summary) void Cmd##handler(CommandContext& ctx);
#include "protocol/admin_commands.def"
#undef SLUICE_ADMIN_COMMAND

namespace {
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::toupper(x) == std::toupper(y); });
}
}  // namespace

const std::vector<CommandSpec>& AllCommands() {
  static const std::vector<CommandSpec> kTable = {
#define SLUICE_ADMIN_COMMAND(handler, name, sub, arity, flags, usage, summary) \
  {name, sub, arity, flags, usage, summary, &Cmd##handler},
#include "protocol/admin_commands.def"
#undef SLUICE_ADMIN_COMMAND
  };
  return kTable;
}

void Dispatch(CommandContext& ctx) {
  const auto& argv = ctx.argv;
  if (argv.empty()) return;
  const CommandSpec* found = nullptr;
  bool name_known = false;
  for (const CommandSpec& c : AllCommands()) {
    if (!EqualsIgnoreCase(argv[0], c.name)) continue;
    name_known = true;
    if (c.sub[0] == '\0' || (argv.size() > 1 && EqualsIgnoreCase(argv[1], c.sub))) {
      found = &c;
      break;
    }
  }
  if (found == nullptr) {
    std::string first = argv[0].substr(0, 128);
    if (name_known) {
      std::string subs;
      for (const CommandSpec& c : AllCommands())
        if (EqualsIgnoreCase(argv[0], c.name)) subs += (subs.empty() ? "" : ", ") + std::string(c.sub);
      std::string given = argv.size() > 1 ? argv[1].substr(0, 128) : "";
      ReplyError(ctx.out, (given.empty() ? "missing subcommand for '" + first + "'"
                                         : "unknown subcommand '" + given + "' for '" + first + "'") +
                              " (one of: " + subs + "). Try HELP.");
    } else {
      ReplyError(ctx.out, "unknown command '" + first + "'. Try HELP.");
    }
    return;
  }
  if (!(found->flags & kNoAuth) && ctx.services.control.password_required() && !ctx.session.authenticated) {
    ReplyError(ctx.out, "NOAUTH Authentication required.");
    return;
  }
  int n = static_cast<int>(argv.size());
  if ((found->arity > 0 && n != found->arity) || (found->arity < 0 && n < -found->arity)) {
    std::string full = found->sub[0] ? std::string(found->name) + " " + found->sub : found->name;
    for (auto& ch : full) ch = static_cast<char>(std::tolower(ch));
    ReplyError(ctx.out, "wrong number of arguments for '" + full + "' command (usage: " + found->usage + ")");
    return;
  }
  // A handler must not throw, but one that does (a std::filesystem call without an
  // error_code, bad_alloc) fails its command, not the server: exceptions stop here.
  const size_t reply_start = ctx.out->size();
  try {
    found->handler(ctx);
  } catch (const std::exception& e) {
    ctx.out->resize(reply_start);
    SLUICE_LOG_ERROR("admin", "command %s failed with an exception: %s", found->name, e.what());
    ReplyError(ctx.out, std::string("internal error in ") + found->name + ": " + e.what());
  } catch (...) {
    ctx.out->resize(reply_start);
    SLUICE_LOG_ERROR("admin", "command %s failed with an unknown exception", found->name);
    ReplyError(ctx.out, std::string("internal error in ") + found->name);
  }
}

}  // namespace sluice::server::admin
