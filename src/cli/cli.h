// The `skiff` command line: `skiff up`, `apply`, `get`, `describe`, `delete`, `logs`, `run`, ...
// in kubectl's habits. RunCli parses argv and returns the process exit code.
#pragma once

namespace skiff {

int RunCli(int argc, char** argv);

}  // namespace skiff
