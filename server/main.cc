// convgen-server: parses its flags (server/server_flags.h) and runs the
// server. All logic lives in the libraries the tests link
// (server/server_runner.h).
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "core/cli/flags.h"
#include "grpcpp/grpcpp.h"
#include "server/free_memory.h"
#include "server/server_flags.h"

namespace {

constexpr char kUsage[] =
    "usage: convgen-server [--listen ADDR]... [--tokenizer NAME=PATH|ORG/NAME[@REV]]... "
    "[--tokenizer-dir DIR]\n"
    "  [--corpus-dir DIR] [--metrics-listen ADDR] [limits] [--drain-seconds "
    "S]\n";

// Edits (insert, delete, replace a character) that turn a into b.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// For "unknown flag --lisen": " (did you mean --listen?)" when one of the
// server's flags is within two edits, else "".
std::string DidYouMean(absl::string_view error) {
  if (!absl::ConsumePrefix(&error, "unknown flag ")) return "";
  error = absl::StripPrefix(absl::StripPrefix(error, "-"), "-");
  const std::string typed = absl::StrReplaceAll(error, {{"-", "_"}});
  std::string best;
  size_t best_distance = 3;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::EndsWith(flag->Filename(), convgen::kServerFlagsFile)) continue;
    const size_t distance = EditDistance(typed, name);
    if (distance < best_distance) {
      best_distance = distance;
      best = std::string(name);
    }
  }
  if (best.empty()) return "";
  return absl::StrCat(" (did you mean --", absl::StrReplaceAll(best, {{"_", "-"}}), "?)");
}

}  // namespace

int main(int argc, char** argv) {
  const auto command_line =
      convgen::cli::ParseFlags(argc, argv, /*max_positional=*/0, {"listen", "tokenizer"});
  if (!command_line.ok()) {
    const std::string error(command_line.status().message());
    std::fprintf(stderr, "convgen-server: %s%s\n%s  --help lists every flag and its default\n",
                 error.c_str(), DidYouMean(error).c_str(), kUsage);
    return 2;
  }
  if (command_line->help) {
    std::printf("%sflags:\n%s", kUsage, convgen::cli::FlagsHelp(convgen::kServerFlagsFile).c_str());
    return 0;
  }
  if (convgen::VersionRequested()) {
    std::printf("convgen-server %s (gRPC %s)\n", CONVGEN_VERSION, grpc::Version().c_str());
    return 0;
  }

  // Up to 32 MiB of freed pages kept for the next streams; the rest goes back.
  const convgen::FreeMemoryReleaser releaser(int64_t{32} << 20);
  return convgen::RunServer(convgen::ServerOptionsFromFlags());
}
