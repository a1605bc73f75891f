// convgen: the command-line client. Parses arguments and runs a command.
#include "client/commands.h"

int main(int argc, char** argv) {
  const auto options = convgen::ParseCommandLine(argc, argv);
  if (!options) return 2;
  return convgen::RunCommand(*options);
}
