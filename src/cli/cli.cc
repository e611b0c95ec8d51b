#include "cli/cli.h"

#include <CLI/CLI.hpp>

namespace skiff {

int RunCli(int argc, char** argv) {
  CLI::App app{"skiff: Kubeflow in one binary"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}

}  // namespace skiff
