// The `skiff` command: see src/cli/cli.h.
#include "cli/cli.h"
#include "cli/modules.h"

int main(int argc, char** argv) {
  skiff::cli::RegisterModules();
  return skiff::RunCli(argc, argv);
}
