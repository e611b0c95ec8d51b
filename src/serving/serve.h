// `skiff serve`: a model server in its own process (the quick local server, and the process the
// InferenceService controller starts for each replica).
//
//   skiff serve ./iris --format xgboost --name iris --port 8080
//
// Loads the model before it listens (a model that does not load ends the process with the
// reason, exit code 1), prints "serving MODEL (FORMAT) at http://ADDRESS:PORT" on stdout once it
// accepts requests, and runs until SIGINT/SIGTERM.
#pragma once

#include <map>
#include <string>

namespace skiff::serving {

struct ServeOptions {
  std::string model_uri;  // folder, file or file:// URI
  std::string format;
  std::string name = "model";
  std::string address = "127.0.0.1";
  int port = 8080;  // 0: a free one
  int threads = 2;  // HTTP I/O threads
  std::string nthread = "1";
  std::string repository_root;  // where repository loads of new names look (default: none)
  bool access_log = true;
  std::string log_level = "info";
};

int RunServe(const ServeOptions& options);

}  // namespace skiff::serving
