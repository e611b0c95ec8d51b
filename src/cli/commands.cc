#include "cli/commands.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/api_client.h"
#include "cli/printers.h"
#include "core/clock.h"
#include "core/text.h"
#include "http/http_server.h"
#include "usage/usage.h"

namespace skiff::cli {

int Fail(const Status& st) {
  std::fprintf(stderr, "error: %s\n", st.message().c_str());
  return 1;
}

Result<ApiClient> Connect(const GlobalFlags& g) {
  ASSIGN_OR_RETURN(ClientConfig cfg, LoadClientConfig(g.config));
  return ApiClient(std::move(cfg));
}

namespace {

Result<const ResourceType*> ResolveKind(const std::string& kind) {
  return TypeRegistry::Global().Resolve(kind);
}

// The type of a document from its apiVersion/kind; an unknown one gets a guessed plural so the
// server can answer with its own error.
Result<ResourceType> TypeOfDocument(const Json& doc, const std::string& source) {
  if (!doc.is_object()) return InvalidArgument(source + ": a document must be a mapping");
  if (!doc.contains("apiVersion") || !doc["apiVersion"].is_string()) {
    return InvalidArgument(source + ": apiVersion: required string");
  }
  if (!doc.contains("kind") || !doc["kind"].is_string()) {
    return InvalidArgument(source + ": kind: required string");
  }
  std::string api_version = doc["apiVersion"], kind = doc["kind"];
  if (const ResourceType* t = TypeRegistry::Global().ByKind(api_version, kind)) return *t;
  ResourceType guess;
  SplitApiVersion(api_version, &guess.group, &guess.version);
  guess.kind = kind;
  guess.plural = kind;
  std::transform(guess.plural.begin(), guess.plural.end(), guess.plural.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  guess.plural += "s";
  return guess;
}

std::string Lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// "job.batch/pi", as kubectl names objects in its messages.
std::string ObjectRef(const ResourceType& t, const std::string& name) {
  return Lowercase(t.kind) + (t.group.empty() ? "" : "." + t.group) + "/" + name;
}

Result<std::vector<std::pair<std::string, std::string>>> ReadInputs(
    const std::vector<std::string>& files) {
  std::vector<std::pair<std::string, std::string>> out;  // source, text
  for (const std::string& f : files) {
    if (f == "-") {
      std::ostringstream ss;
      ss << std::cin.rdbuf();
      out.emplace_back("<stdin>", ss.str());
      continue;
    }
    struct stat st;
    if (::stat(f.c_str(), &st) != 0) return NotFound(f + ": no such file or directory");
    if (S_ISDIR(st.st_mode)) {
      std::vector<std::string> entries;
      if (DIR* d = ::opendir(f.c_str())) {
        while (dirent* e = ::readdir(d)) {
          std::string n = e->d_name;
          auto ends = [&](const std::string& suf) {
            return n.size() > suf.size() && n.compare(n.size() - suf.size(), suf.size(), suf) == 0;
          };
          if (ends(".yaml") || ends(".yml") || ends(".json")) entries.push_back(f + "/" + n);
        }
        ::closedir(d);
      }
      std::sort(entries.begin(), entries.end());
      for (const auto& e : entries) {
        ASSIGN_OR_RETURN(std::string text, ReadFile(e));
        out.emplace_back(e, std::move(text));
      }
    } else {
      ASSIGN_OR_RETURN(std::string text, ReadFile(f));
      out.emplace_back(f, std::move(text));
    }
  }
  return out;
}

std::string NamespaceFor(const GlobalFlags& g, const Json& doc, const ResourceType& t) {
  if (!t.namespaced) return "";
  std::string ns = MetaNamespace(doc);
  return ns.empty() ? g.namespace_ : ns;
}

}  // namespace

int CmdConfig(const GlobalFlags& g) {
  auto cfg = LoadClientConfig(g.config);
  if (!cfg.ok()) return Fail(cfg.status());
  std::printf("server: %s\n", cfg->url.c_str());
  std::printf("server from: %s\n", cfg->source.c_str());
  std::printf("token file: %s\n",
              cfg->token_file.empty() ? "<from flag or SKIFF_TOKEN>" : cfg->token_file.c_str());
  std::printf("home: %s\n", SkiffHome().c_str());
  return 0;
}

int CmdApply(const GlobalFlags& g, const std::vector<std::string>& files) {
  auto api = Connect(g);
  if (!api.ok()) return Fail(api.status());
  auto inputs = ReadInputs(files);
  if (!inputs.ok()) return Fail(inputs.status());
  int failures = 0;
  for (const auto& [source, text] : *inputs) {
    auto docs = ParseYamlDocuments(text, source);
    if (!docs.ok()) {
      Fail(docs.status());
      failures++;
      continue;
    }
    for (Json& doc : *docs) {
      auto type = TypeOfDocument(doc, source);
      if (!type.ok()) {
        Fail(type.status());
        failures++;
        continue;
      }
      std::string ns = NamespaceFor(g, doc, *type);
      if (type->namespaced) doc["metadata"]["namespace"] = ns;
      std::string name = MetaName(doc);
      std::string ref = ObjectRef(*type, name);
      auto existing = name.empty() ? Result<Json>(NotFound(""))
                                   : api->Call("GET", ResourcePath(*type, ns, name));
      Result<Json> result = Json();
      const char* verb = "created";
      if (!existing.ok() && existing.status().code() == StatusCode::kNotFound) {
        result = api->Call("POST", ResourcePath(*type, ns), doc.dump());
      } else if (!existing.ok()) {
        result = existing.status();
      } else {
        Json desired = doc;
        desired["metadata"]["resourceVersion"] =
            existing->at("metadata").value("resourceVersion", "");
        if (existing->contains("status")) desired["status"] = (*existing)["status"];
        bool same = desired.value("spec", Json()) == existing->value("spec", Json()) &&
                    MetaLabels(desired) == MetaLabels(*existing);
        // Fields the server defaulted are not in the file: compare what the file sets.
        Json merged = *existing;
        MergePatch(merged, doc);
        if (merged == *existing) same = true;
        if (same) {
          std::printf("%s unchanged\n", ref.c_str());
          continue;
        }
        verb = "configured";
        result = api->Call("PUT", ResourcePath(*type, ns, name), desired.dump());
      }
      if (!result.ok()) {
        std::fprintf(stderr, "error: %s (%s): %s\n", ref.c_str(), source.c_str(),
                     result.status().message().c_str());
        failures++;
        continue;
      }
      std::printf("%s %s\n", ObjectRef(*type, MetaName(*result)).c_str(), verb);
    }
  }
  return failures ? 1 : 0;
}

int CmdGet(const GlobalFlags& g, const std::string& kind, const std::string& name,
           const std::string& output, const std::string& selector, bool show_managed_fields) {
  auto type = ResolveKind(kind);
  if (!type.ok()) return Fail(type.status());
  auto api = Connect(g);
  if (!api.ok()) return Fail(api.status());
  std::vector<Json> items;
  std::string ns = (*type)->namespaced && !g.all_namespaces ? g.namespace_ : "";
  if (!name.empty()) {
    auto obj = api->Call("GET", ResourcePath(**type, ns, name));
    if (!obj.ok()) return Fail(obj.status());
    items.push_back(*obj);
  } else {
    std::string path = ResourcePath(**type, ns);
    if (!selector.empty()) path += "?labelSelector=" + selector;
    auto list = api->Call("GET", path);
    if (!list.ok()) return Fail(list.status());
    for (const Json& item : list->value("items", Json::array())) items.push_back(item);
  }
  if (!show_managed_fields) {  // who set which field: rarely what a reader wants (kubectl's rule)
    for (Json& item : items) {
      if (item.contains("metadata") && item["metadata"].is_object()) {
        item["metadata"].erase("managedFields");
      }
    }
  }
  if (output == "json") {
    std::printf(
        "%s\n",
        (name.empty() ? Json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}} : items[0])
            .dump(2)
            .c_str());
  } else if (output == "yaml") {
    std::printf("%s",
                ToYaml(name.empty() ? Json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}
                                    : items[0])
                    .c_str());
  } else if (output == "name") {
    for (const Json& i : items) std::printf("%s\n", ObjectRef(**type, MetaName(i)).c_str());
  } else if (output.empty() || output == "wide") {
    if (items.empty()) {
      std::fprintf(stderr, "No resources found%s.\n",
                   ns.empty() ? "" : (" in " + ns + " namespace").c_str());
      return 0;
    }
    std::printf("%s", PrintTable(**type, items, SystemClock::Instance().Now(),
                                 g.all_namespaces && (*type)->namespaced)
                          .c_str());
  } else {
    return Fail(InvalidArgument("--output: must be one of yaml, json, name, wide"));
  }
  return 0;
}

// The objects the kind's registration relates to `obj` (ResourceType::related_type and
// related_selector: a Job's pods), oldest first; none when the kind relates none.
Result<std::vector<Json>> RelatedObjects(ApiClient& api, const ResourceType& type,
                                         const std::string& ns, const Json& obj) {
  std::vector<Json> related;
  const ResourceType* rt = TypeRegistry::Global().Lookup(type.related_type);
  if (rt == nullptr) return related;
  std::string selector = type.related_selector;
  if (size_t at = selector.find("{uid}"); at != std::string::npos) {
    selector.replace(at, 5, MetaUid(obj));
  }
  ASSIGN_OR_RETURN(Json list, api.Call("GET", ResourcePath(*rt, ns) +
                                                  "?labelSelector=" + PercentEncode(selector)));
  for (const Json& p : list.value("items", Json::array())) related.push_back(p);
  // Oldest first: by creation time, then by the order they were written.
  std::sort(related.begin(), related.end(), [](const Json& a, const Json& b) {
    return MetaResourceVersion(a) < MetaResourceVersion(b);
  });
  std::stable_sort(related.begin(), related.end(), [](const Json& a, const Json& b) {
    return TextAt(a, {"metadata", "creationTimestamp"}) <
           TextAt(b, {"metadata", "creationTimestamp"});
  });
  return related;
}

int CmdDescribe(const GlobalFlags& g, const std::string& kind, const std::string& name) {
  auto type = ResolveKind(kind);
  if (!type.ok()) return Fail(type.status());
  auto api = Connect(g);
  if (!api.ok()) return Fail(api.status());
  std::string ns = (*type)->namespaced ? g.namespace_ : "";
  auto obj = api->Call("GET", ResourcePath(**type, ns, name));
  if (!obj.ok()) return Fail(obj.status());
  auto related = RelatedObjects(*api, **type, ns, *obj);
  if (!related.ok()) return Fail(related.status());
  std::printf("%s", Describe(**type, *obj, *related, SystemClock::Instance().Now()).c_str());
  // What its workloads used, when the usage module kept a record of it (none: nothing shown).
  if (const ResourceType* records = TypeRegistry::Global().Lookup("usagerecords");
      records != nullptr && (*type)->namespaced && records->StoreType() != (*type)->StoreType()) {
    auto record =
        api->Call("GET", ResourcePath(*records, ns, usage::RecordName((*type)->kind, name)));
    if (record.ok()) std::printf("%s", DescribeUsage(*record).c_str());
  }
  return 0;
}

int CmdDelete(const GlobalFlags& g, const std::string& kind, const std::vector<std::string>& names,
              const std::vector<std::string>& files) {
  auto api = Connect(g);
  if (!api.ok()) return Fail(api.status());
  std::vector<std::tuple<ResourceType, std::string, std::string>> targets;  // type, ns, name
  if (!files.empty()) {
    auto inputs = ReadInputs(files);
    if (!inputs.ok()) return Fail(inputs.status());
    for (const auto& [source, text] : *inputs) {
      auto docs = ParseYamlDocuments(text, source);
      if (!docs.ok()) return Fail(docs.status());
      for (const Json& doc : *docs) {
        auto type = TypeOfDocument(doc, source);
        if (!type.ok()) return Fail(type.status());
        targets.emplace_back(*type, NamespaceFor(g, doc, *type), MetaName(doc));
      }
    }
  } else {
    auto type = ResolveKind(kind);
    if (!type.ok()) return Fail(type.status());
    for (const auto& n : names) {
      targets.emplace_back(**type, (*type)->namespaced ? g.namespace_ : "", n);
    }
  }
  int failures = 0;
  for (const auto& [type, ns, name] : targets) {
    auto r = api->Call("DELETE", ResourcePath(type, ns, name));
    if (!r.ok()) {
      std::fprintf(stderr, "error: %s: %s\n", ObjectRef(type, name).c_str(),
                   r.status().message().c_str());
      failures++;
      continue;
    }
    std::printf("%s deleted\n", ObjectRef(type, name).c_str());
  }
  return failures ? 1 : 0;
}

// The pod `skiff logs TARGET` shows: TARGET itself ("pi-x7k2q", "pod/pi-x7k2q"), or for
// KIND/NAME of a kind that runs pods (its registration relates pods to it, as a Job's does) the
// latest of the object's pods, as a user looking at a Job's logs wants to see.
Result<std::string> LogsPod(ApiClient& api, const GlobalFlags& g, const std::string& target) {
  const size_t slash = target.find('/');
  if (slash == std::string::npos) return target;
  ASSIGN_OR_RETURN(const ResourceType* type, ResolveKind(target.substr(0, slash)));
  const std::string name = target.substr(slash + 1);
  if (type->StoreType() == "pods") return name;
  if (type->related_type != "pods") {
    return InvalidArgument(ObjectRef(*type, name) + ": a " + type->kind +
                           " runs no pods; skiff logs takes a pod or an object that runs pods");
  }
  ASSIGN_OR_RETURN(Json obj, api.Call("GET", ResourcePath(*type, g.namespace_, name)));
  ASSIGN_OR_RETURN(std::vector<Json> pods, RelatedObjects(api, *type, g.namespace_, obj));
  if (pods.empty()) return NotFound(ObjectRef(*type, name) + " has no pods (yet)");
  return MetaName(pods.back());
}

int CmdLogs(const GlobalFlags& g, const std::string& target, const std::string& container,
            bool follow) {
  auto api = Connect(g);
  if (!api.ok()) return Fail(api.status());
  const ResourceType* pods = TypeRegistry::Global().Lookup("pods");
  auto pod = LogsPod(*api, g, target);
  if (!pod.ok()) return Fail(pod.status());
  std::string path = ResourcePath(*pods, g.namespace_, *pod) + "/log";
  if (!container.empty()) path += "?container=" + container;
  size_t printed = 0;
  while (true) {
    auto text = api->CallRaw("GET", path);
    if (!text.ok()) return Fail(text.status());
    if (text->size() > printed) {
      std::fwrite(text->data() + printed, 1, text->size() - printed, stdout);
      std::fflush(stdout);
      printed = text->size();
    }
    if (!follow) return 0;
    auto p = api->Call("GET", ResourcePath(*pods, g.namespace_, *pod));
    if (!p.ok()) return Fail(p.status());
    std::string phase = p->value("status", Json::object()).value("phase", "Pending");
    if (phase == "Succeeded" || phase == "Failed") {
      auto rest = api->CallRaw("GET", path);
      if (rest.ok() && rest->size() > printed)
        std::fwrite(rest->data() + printed, 1, rest->size() - printed, stdout);
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

int CmdUserCreate(const GlobalFlags& g, const std::string& name, bool admin) {
  auto api = Connect(g);
  if (!api.ok()) return Fail(api.status());
  Json user = {{"apiVersion", "skiff.dev/v1"},
               {"kind", "User"},
               {"metadata", {{"name", name}}},
               {"spec", {{"admin", admin}}}};
  auto r =
      api->Call("POST", ResourcePath(*TypeRegistry::Global().Lookup("users"), ""), user.dump());
  if (!r.ok()) return Fail(r.status());
  std::printf("user.skiff.dev/%s created\n", name.c_str());
  return 0;
}

int CmdTokenCreate(const GlobalFlags& g, const std::string& user) {
  auto api = Connect(g);
  if (!api.ok()) return Fail(api.status());
  Json body = Json::object();
  if (!user.empty()) body["user"] = user;
  auto r = api->Call("POST", "/apis/skiff.dev/v1/tokens:mint", body.dump());
  if (!r.ok()) return Fail(r.status());
  std::printf("%s\n", r->value("token", "").c_str());
  return 0;
}

int CmdProfileCreate(const GlobalFlags& g, const std::string& name, const std::string& owner) {
  auto api = Connect(g);
  if (!api.ok()) return Fail(api.status());
  Json profile = {{"apiVersion", "kubeflow.org/v1"},
                  {"kind", "Profile"},
                  {"metadata", {{"name", name}}},
                  {"spec", {{"owner", {{"kind", "User"}, {"name", owner}}}}}};
  auto r = api->Call("POST", ResourcePath(*TypeRegistry::Global().Lookup("profiles"), ""),
                     profile.dump());
  if (!r.ok()) return Fail(r.status());
  std::printf("profile.kubeflow.org/%s created\n", name.c_str());
  return 0;
}

int CmdRoleGrant(const GlobalFlags& g, const std::string& user, const std::string& role) {
  if (role != "admin" && role != "edit" && role != "view") {
    return Fail(InvalidArgument("--role: must be admin, edit or view"));
  }
  auto api = Connect(g);
  if (!api.ok()) return Fail(api.status());
  Json binding = {{"apiVersion", "skiff.dev/v1"},
                  {"kind", "RoleBinding"},
                  {"metadata", {{"name", "user-" + user}, {"namespace", g.namespace_}}},
                  {"spec", {{"user", user}, {"role", role}}}};
  const ResourceType* t = TypeRegistry::Global().Lookup("rolebindings");
  auto existing = api->Call("GET", ResourcePath(*t, g.namespace_, "user-" + user));
  Result<Json> r = existing.ok()
                       ? api->Call("PUT", ResourcePath(*t, g.namespace_, "user-" + user),
                                   [&] {
                                     Json b = binding;
                                     b["metadata"]["resourceVersion"] =
                                         (*existing)["metadata"].value("resourceVersion", "");
                                     return b.dump();
                                   }())
                       : api->Call("POST", ResourcePath(*t, g.namespace_), binding.dump());
  if (!r.ok()) return Fail(r.status());
  std::printf("user %s has role %s in namespace %s\n", user.c_str(), role.c_str(),
              g.namespace_.c_str());
  return 0;
}

}  // namespace skiff::cli

namespace skiff::cli {

int CmdRunLogs(const GlobalFlags& g, const std::string& run, const std::string& task) {
  auto api = Connect(g);
  if (!api.ok()) return Fail(api.status());
  const ResourceType* t = TypeRegistry::Global().Lookup("pipelineruns");
  auto text =
      api->CallRaw("GET", ResourcePath(*t, g.namespace_, run) + "/log?task=" + PercentEncode(task));
  if (!text.ok()) return Fail(text.status());
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

}  // namespace skiff::cli
