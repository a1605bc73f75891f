// convgen-server: parses its flags (server/server_flags.h) and runs the
// server. All logic lives in the libraries the tests link
// (server/server_runner.h).
#include <cstdio>
#include <string>

#include "core/cli/flags.h"
#include "grpcpp/grpcpp.h"
#include "server/server_flags.h"

namespace {

constexpr char kUsage[] =
    "usage: convgen-server [--listen ADDR]... [--tokenizer NAME=PATH]...\n"
    "  [--corpus-dir DIR] [--metrics-listen ADDR] [limits] [--drain-seconds "
    "S]\n";

}  // namespace

int main(int argc, char** argv) {
  const auto command_line =
      convgen::cli::ParseFlags(argc, argv, /*max_positional=*/0, {"listen", "tokenizer"});
  if (!command_line.ok()) {
    std::fprintf(stderr, "convgen-server: %s\n%s",
                 std::string(command_line.status().message()).c_str(), kUsage);
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

  return convgen::RunServer(convgen::ServerOptionsFromFlags());
}
