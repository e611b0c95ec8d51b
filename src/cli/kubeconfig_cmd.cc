// skiff kubeconfig: a kubeconfig for the server and token the CLI uses, so the Kubernetes
// clients (the `kubernetes` Python client and the Kubeflow SDKs on it) reach `skiff up` as they
// reach a cluster: one cluster, one user (the token), a context per namespace the user has.
// The cluster is the server's HTTPS address with the CA of this Skiff home (certificate-authority-
// data) when `skiff up` serves one: kubectl and client-go send a token only over TLS.
#include <cstdio>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "core/files.h"
#include "core/ids.h"
#include "core/text.h"

namespace skiff::cli {

int CmdKubeconfig(const GlobalFlags& g, bool write_file) {
  auto cfg = LoadClientConfig(g.config);
  if (!cfg.ok()) return Fail(cfg.status());
  ApiClient api(*cfg);
  auto listed = api.Call("GET", "/api/v1/namespaces");
  if (!listed.ok()) return Fail(listed.status().WithContext("listing your namespaces"));
  Json contexts = Json::array();
  std::string current;
  for (const Json& ns : (*listed)["items"]) {
    const std::string name = TextAt(ns, {"metadata", "name"});
    if (name.empty()) continue;
    contexts.push_back(
        {{"name", "skiff-" + name},
         {"context", {{"cluster", "skiff"}, {"user", "skiff"}, {"namespace", name}}}});
    if (current.empty() || name == g.namespace_) current = "skiff-" + name;
  }
  if (contexts.empty()) {
    return Fail(
        FailedPrecondition("you have a role in no namespace: ask for one (skiff role grant)"));
  }
  Json cluster = {{"server", cfg->url}};
  if (!cfg->https_url.empty()) {
    cluster["server"] = cfg->https_url;
    if (!cfg->ca_file.empty()) {
      auto ca = ReadFile(cfg->ca_file);
      if (!ca.ok()) return Fail(ca.status().WithContext("reading the server's CA"));
      cluster["certificate-authority-data"] = EncodeBase64(*ca);
    }
  }
  Json kubeconfig = {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"clusters", Json::array({{{"name", "skiff"}, {"cluster", cluster}}})},
      {"users", Json::array({{{"name", "skiff"}, {"user", {{"token", cfg->token}}}}})},
      {"contexts", contexts},
      {"current-context", current},
      {"preferences", Json::object()}};
  const std::string text = ToYaml(kubeconfig);
  if (!write_file) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  const std::string path = SkiffHome() + "/kubeconfig";
  if (Status written = WriteFileAtomically(path, text, {.mode = 0600}); !written.ok()) {
    return Fail(written);
  }
  std::printf("%s\n", path.c_str());
  return 0;
}

}  // namespace skiff::cli
