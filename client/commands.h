// The convgen CLI's commands, over the generated gRPC stub. main.cc only
// parses flags into CommandOptions and calls RunCommand.
#ifndef CONVGEN_CLIENT_COMMANDS_H_
#define CONVGEN_CLIENT_COMMANDS_H_

#include "client/command_options.h"

namespace convgen {

// Runs options.command, which CheckOptions accepted. Exit status: 0 success,
// 2 usage or config error, 1 server error.
int RunCommand(const CommandOptions& options);

}  // namespace convgen

#endif  // CONVGEN_CLIENT_COMMANDS_H_
