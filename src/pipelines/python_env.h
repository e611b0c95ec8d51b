// Lightweight Python components start with a pip-install prelude:
//   sh -c "<ensurepip>; PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet
//          --no-warn-script-location [--index-url U --trusted-host U] 'kfp==2.x' '--no-deps' ...
//          && "$0" "$@"" sh -ec "program_path=$(mktemp -d) ... python3 -m kfp.dsl.executor_main
//          ..."
// (kfp 1.8 wraps it as `(pip install ... || pip install ... --user) && "$0" "$@"`, and the
// venv variant creates a venv first). PlanPythonEnv recognises that prelude, extracts the packages
// and index URLs, and returns the command without it, so that the backend's cached virtual
// environment (keyed by package set) provides the packages and a later run starts at once.
// A script with anything it does not recognise is left alone (recognised = false).
//
//   PythonEnvPlan plan = PlanPythonEnv(cl.command, cl.args);
//   if (plan.recognised) { spec.command = plan.command; spec.args = plan.args;
//                          spec.python_packages = plan.packages; ... }
//
// Thread-safe: free functions without shared state.
#pragma once

#include <string>
#include <vector>

namespace skiff::pipelines {

struct PythonEnvPlan {
  bool recognised = false;
  std::vector<std::string> command;  // the command to run instead (prelude skipped)
  std::vector<std::string> args;
  std::vector<std::string> packages;          // requirement specifiers, in order, deduplicated
  std::vector<std::string> no_deps_packages;  // the subset pip installed with --no-deps (kfp)
  std::vector<std::string> index_urls;        // --index-url first, then --extra-index-url
  std::vector<std::string> trusted_hosts;
};

PythonEnvPlan PlanPythonEnv(const std::vector<std::string>& command,
                            const std::vector<std::string>& args);

// KFP 2's lightweight components end (after the pip prelude) in a small shell program:
//   sh -ec 'program_path=$(mktemp -d)
//           printf "%s" "$0" > "$program_path/ephemeral_component.py"
//           _KFP_RUNTIME=true python3 -m kfp.dsl.executor_main
//               --component_module_path "$program_path/ephemeral_component.py" "$@"' SOURCE ARGS
// RecogniseKfpExecutor finds that program (whitespace aside) and returns the component's source
// and the executor's arguments, so the launcher can write the source itself and run
// `python3 -m kfp.dsl.executor_main --component_module_path FILE ARGS` with _KFP_RUNTIME=true:
// the same command without the shell, which a warm interpreter can fork.
struct KfpExecutorCall {
  bool recognised = false;
  std::string source;             // the component module ($0)
  std::vector<std::string> args;  // "$@"
};
inline constexpr char kKfpExecutorModule[] = "kfp.dsl.executor_main";
inline constexpr char kKfpComponentFile[] = "ephemeral_component.py";
KfpExecutorCall RecogniseKfpExecutor(const std::vector<std::string>& command,
                                     const std::vector<std::string>& args);

// "python:3.11", "python:3.11-slim", "docker.io/library/python:3.9", "python" -> true.
bool IsPythonImage(const std::string& image);

}  // namespace skiff::pipelines
