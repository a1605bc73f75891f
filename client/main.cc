// convgen: the command-line client. Subcommands arrive with the service
// issue; until then the binary reports its version.
#include <cstdio>
#include <cstring>

#include "grpcpp/grpcpp.h"

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("convgen 0.1.0 (gRPC %s)\n", grpc::Version().c_str());
    return 0;
  }
  std::fprintf(stderr,
               "usage: convgen --version\n"
               "The generate/validate/describe/health commands are not "
               "implemented yet.\n");
  return 2;
}
