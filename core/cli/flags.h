// Command-line parsing shared by convgen-server and convgen, over absl flags.
// Flags are defined with ABSL_FLAG (absl names them with underscores) and
// documented with dashes (--metrics-listen); both spellings are accepted.
//
// ParseFlags is used instead of absl::ParseCommandLine because that one exits
// the process with status 1 on a usage error and on --help, while convgen's
// binaries exit 2 on a usage error (naming the flag) and 0 on --help.
// Call from main only: flags are process-wide. Not thread-safe.
#ifndef CONVGEN_CORE_CLI_FLAGS_H_
#define CONVGEN_CORE_CLI_FLAGS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace convgen::cli {

// Returns `arg` with the dashes of its flag name turned into underscores
// (`--foo-bar=x-y` -> `--foo_bar=x-y`); the value and non-flags unchanged.
std::string UnderscoreFlagName(absl::string_view arg);

struct CommandLine {
  std::vector<std::string> positional;  // the non-flag arguments, argv[0] excluded
  bool help = false;                    // --help, --helpfull or -h was given
  std::vector<std::string> given;       // absl names of the flags set, in order
};

// Sets the registered absl flags from argv[1..]: `--name=value`, `--name
// value`, and for bools `--name`, `--noname`; one or two leading dashes;
// `--` ends the flags. The flags named in `repeatable` (std::vector flags)
// gather every occurrence: `--listen a --listen b` is `--listen=a,b`.
// Returns InvalidArgument naming the flag for an unknown flag, a missing or
// invalid value, or naming the argument after `max_positional` of them.
absl::StatusOr<CommandLine> ParseFlags(int argc, char** argv, size_t max_positional,
                                       absl::Span<const absl::string_view> repeatable = {});

// Returns one line per flag defined in a file whose path ends with
// `defined_in` (e.g. "server/server_flags.cc"), by dashed name, with its help text
// and default, sorted by name.
std::string FlagsHelp(absl::string_view defined_in);

// As above, only the flags among `names` (absl names, with underscores);
// every flag if `names` is empty.
std::string FlagsHelp(absl::string_view defined_in, absl::Span<const absl::string_view> names);

}  // namespace convgen::cli

#endif  // CONVGEN_CORE_CLI_FLAGS_H_
