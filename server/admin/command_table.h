// CommandTable: the admin commands from protocol/admin_commands.def, with arity, flag and
// authentication checks done once before any handler runs (Redis processCommand).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::server::admin {

enum CommandFlags : unsigned {
  kNoAuth = 1u << 0,
  kReadOnly = 1u << 1,
  kWrite = 1u << 2,
  kAdmin = 1u << 3,
};

struct AdminServices;
struct Session;

// What a handler gets: the words, the connection's session, the server, and the reply buffer.
struct CommandContext {
  const std::vector<std::string>& argv;
  Session& session;
  AdminServices& services;
  std::string* out;
};

using Handler = void (*)(CommandContext& ctx);

struct CommandSpec {
  const char* name;
  const char* sub;  // "" for plain commands
  int arity;
  unsigned flags;
  const char* usage;
  const char* summary;
  Handler handler;
};

// The whole table, in .def order.
const std::vector<CommandSpec>& AllCommands();

// Finds the command for argv, checks arity and authentication, runs the handler, and appends
// the reply to ctx.out. Unknown commands, wrong arity and missing auth get -ERR / -NOAUTH
// replies naming the problem. An empty argv gets no reply (an empty telnet line).
void Dispatch(CommandContext& ctx);

}  // namespace sluice::server::admin
