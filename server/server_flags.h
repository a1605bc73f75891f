// convgen-server's flags (defined in server/server_flags.cc, so that
// `--help` lists them from there) and the ServerOptions they make.
#ifndef CONVGEN_SERVER_SERVER_FLAGS_H_
#define CONVGEN_SERVER_SERVER_FLAGS_H_

#include "server/server_runner.h"

namespace convgen {

inline constexpr char kServerFlagsFile[] = "server/server_flags.cc";

// After flags are parsed: whether --version was given.
bool VersionRequested();
// After flags are parsed: the options they set (--data-dir defaults to
// $CONVGEN_DATA_DIR, else the build's data/).
ServerOptions ServerOptionsFromFlags();

}  // namespace convgen

#endif  // CONVGEN_SERVER_SERVER_FLAGS_H_
