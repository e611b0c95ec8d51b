// Readiness checks of the local backend, one attempt each, bounded by a timeout (backend.h's
// Probe says what a probe is; the backend's prober thread decides when to run them).
//
//   bool up = local::HttpGetSucceeds(40123, "/v2/health/ready", std::chrono::seconds(1));
//
// Thread-safe: pure functions of their arguments and the machine.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace skiff::local {

// An HTTP/1.1 GET of `path` from 127.0.0.1:`port` answered with a status of 200-399 in time.
bool HttpGetSucceeds(int port, const std::string& path, std::chrono::milliseconds timeout);

// A TCP connection to 127.0.0.1:`port` accepted in time.
bool TcpConnects(int port, std::chrono::milliseconds timeout);

// Where an exec probe of a sandboxed container runs: through the shim, in the container's
// sandbox (sandbox.h), its exit recorded in `exit_file`.
struct ProbeSandbox {
  std::string shim;
  std::string plan;  // encoded; "" = not sandboxed
  std::string exit_file;
};

// `argv` run with `env` ("NAME=value") in `working_dir`, its output discarded, exited 0 in time
// (killed when the time is up). argv[0] is looked up in env's PATH.
bool ExecSucceeds(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  const std::string& working_dir, std::chrono::milliseconds timeout,
                  const ProbeSandbox& sandbox = {});

}  // namespace skiff::local
