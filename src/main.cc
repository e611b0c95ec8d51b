// The `skiff` command: see src/cli/cli.h.
#include "cli/cli.h"

int main(int argc, char** argv) { return skiff::RunCli(argc, argv); }
