// ServingEndpoints: where each InferenceService's ready replicas listen, written by its
// controller and read by the router for every request. Thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/thread_annotations.h"

namespace skiff::serving {

class ServingEndpoints {
 public:
  // Replaces the ready endpoints ("127.0.0.1:40123") of service ns/name.
  void Set(const std::string& ns, const std::string& name, std::vector<std::string> endpoints);
  void Remove(const std::string& ns, const std::string& name);
  // The service's ready endpoints, starting with the next in turn (round robin); empty: none.
  std::vector<std::string> Rotation(const std::string& ns, const std::string& name);

 private:
  struct Entry {
    std::vector<std::string> endpoints;
    size_t next = 0;
  };
  Mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> services_ GUARDED_BY(mu_);
};

}  // namespace skiff::serving
