#include "serving/endpoints.h"

namespace skiff::serving {

void ServingEndpoints::Set(const std::string& ns, const std::string& name,
                           std::vector<std::string> endpoints) {
  MutexLock lock(&mu_);
  Entry& e = services_[{ns, name}];
  if (e.endpoints != endpoints) {
    e.endpoints = std::move(endpoints);
    e.next = 0;
  }
}

void ServingEndpoints::Remove(const std::string& ns, const std::string& name) {
  MutexLock lock(&mu_);
  services_.erase({ns, name});
}

std::vector<std::string> ServingEndpoints::Rotation(const std::string& ns,
                                                    const std::string& name) {
  MutexLock lock(&mu_);
  auto it = services_.find({ns, name});
  if (it == services_.end() || it->second.endpoints.empty()) return {};
  Entry& e = it->second;
  std::vector<std::string> out;
  size_t n = e.endpoints.size();
  for (size_t i = 0; i < n; ++i) out.push_back(e.endpoints[(e.next + i) % n]);
  e.next = (e.next + 1) % n;
  return out;
}

}  // namespace skiff::serving
