// `skiff run PIPELINE.yaml [-p name=value]...`: runs a compiled KFP pipeline, on the server when
// one is up (through the API, so the run is visible to everyone), otherwise in this process on
// the same SKIFF_HOME. Shows a line per task state change and a progress count, prints the
// outputs, and exits non-zero when the run did not succeed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/platform.h"
#include "core/admission.h"
#include "core/ids.h"
#include "core/log.h"
#include "pipelines/ir.h"
#include "pipelines/run_controller.h"

namespace skiff::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;

// "-p n=v": the text as a JSON value unless the parameter is declared a STRING.
Result<std::map<std::string, Json>> ParseParameters(const pipelines::PipelineSpec& spec,
                                                    const std::vector<std::string>& args) {
  std::map<std::string, Json> out;
  for (const std::string& a : args) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument("-p " + a + ": expected name=value");
    }
    std::string name = a.substr(0, eq), text = a.substr(eq + 1);
    auto def = spec.root.inputs.parameters.find(name);
    if (def == spec.root.inputs.parameters.end()) {
      std::string known;
      for (const auto& [n, d] : spec.root.inputs.parameters)
        known += (known.empty() ? "" : ", ") + n;
      return InvalidArgument("-p " + name + ": the pipeline has no such parameter" +
                             (known.empty() ? "" : " (it has: " + known + ")"));
    }
    if (def->second.type == pipelines::ParameterType::kString) {
      out[name] = text;
      continue;
    }
    Json v = Json::parse(text, nullptr, false);
    if (v.is_discarded()) v = text;  // the engine's type check names the parameter
    out[name] = v;
  }
  return out;
}

// Prints the task state changes between two engine status documents.
class ProgressPrinter {
 public:
  void Update(const Json& run) {
    const Json engine = run.value("status", Json::object()).value("engine", Json::object());
    const Json tasks = engine.value("tasks", Json::object());
    int total = 0, done = 0, running = 0;
    for (auto it = tasks.begin(); it != tasks.end(); ++it) {
      const Json& t = it.value();
      std::string kind = t.value("kind", "");
      if (kind != "CONTAINER" && kind != "IMPORTER") continue;
      total++;
      std::string state = t.value("state", "PENDING");
      if (pipelines::IsTerminalState(state)) done++;
      if (state == "RUNNING") running++;
      std::string key = it.key() + "#" + std::to_string(t.value("attempt", 0));
      if (seen_[key] == state) continue;
      seen_[key] = state;
      std::string path = it.key().rfind("root.", 0) == 0 ? it.key().substr(5) : it.key();
      std::string extra;
      if (t.value("attempt", 0) > 0)
        extra += " (attempt " + std::to_string(t["attempt"].get<int>() + 1) + ")";
      if (state == "FAILED" && !t.value("message", "").empty())
        extra += ": " + t["message"].get<std::string>();
      std::printf("[%6.1fs] %-40s %s%s\n", Elapsed(), path.c_str(), state.c_str(), extra.c_str());
      // Settings without effect here (node selectors, PVC sizes, ...): each said once per run.
      for (const Json& w : t.value("warnings", Json::array())) {
        if (w.is_string() && warned_.insert(w.get<std::string>()).second) {
          std::printf("[%6.1fs] %-40s note: %s\n", Elapsed(), path.c_str(),
                      w.get<std::string>().c_str());
        }
      }
    }
    std::string run_state = run.value("status", Json::object()).value("state", "PENDING");
    if (total != last_total_ || done != last_done_ || running != last_running_ ||
        run_state != last_state_) {
      std::printf("[%6.1fs] run %s: %d/%d tasks done, %d running\n", Elapsed(), run_state.c_str(),
                  done, total, running);
      last_total_ = total;
      last_done_ = done;
      last_running_ = running;
      last_state_ = run_state;
    }
    std::fflush(stdout);
  }

 private:
  double Elapsed() const {
    return std::chrono::duration<double>(SteadyClock::now() - start_).count();
  }
  SteadyClock::time_point start_ = SteadyClock::now();
  std::map<std::string, std::string> seen_;
  std::set<std::string> warned_;
  int last_total_ = -1, last_done_ = -1, last_running_ = -1;
  std::string last_state_;
};

void PrintOutputs(const Json& run) {
  const Json status = run.value("status", Json::object());
  const Json engine = status.value("engine", Json::object());
  std::printf("run %s/%s %s", MetaNamespace(run).c_str(), MetaName(run).c_str(),
              status.value("state", "?").c_str());
  if (!status.value("message", "").empty())
    std::printf(": %s", status["message"].get<std::string>().c_str());
  std::printf("\n");
  const Json outputs = engine.value("outputs", Json::object());
  bool any = false;
  for (const char* kind : {"parameters", "artifacts"}) {
    const Json section = outputs.value(kind, Json::object());
    for (auto it = section.begin(); it != section.end(); ++it) {
      if (!any) std::printf("pipeline outputs:\n");
      any = true;
      std::printf("  %s = %s\n", it.key().c_str(), it.value().dump().c_str());
    }
  }
  std::printf("task outputs:\n");
  const Json tasks = engine.value("tasks", Json::object());
  for (auto it = tasks.begin(); it != tasks.end(); ++it) {
    const Json& t = it.value();
    std::string kind = t.value("kind", "");
    if (kind != "CONTAINER" && kind != "IMPORTER") continue;
    std::string path = it.key().rfind("root.", 0) == 0 ? it.key().substr(5) : it.key();
    std::printf("  %s [%s]\n", path.c_str(), t.value("state", "").c_str());
    const Json params = t.value("outputs", Json::object()).value("parameters", Json::object());
    for (auto p = params.begin(); p != params.end(); ++p) {
      std::printf("    %s = %s\n", p.key().c_str(), p.value().dump().c_str());
    }
    const Json arts = t.value("outputs", Json::object()).value("artifacts", Json::object());
    for (auto a = arts.begin(); a != arts.end(); ++a) {
      for (const Json& art : a.value().is_array() ? a.value() : Json::array({a.value()})) {
        std::printf("    %s -> %s\n", a.key().c_str(), art.value("uri", "").c_str());
      }
    }
  }
}

bool Finished(const Json& run) {
  std::string s = run.value("status", Json::object()).value("state", "");
  return s == "SUCCEEDED" || s == "FAILED" || s == "CANCELED";
}

}  // namespace

int CmdRun(const GlobalFlags& g, const std::string& file, const std::vector<std::string>& params,
           bool no_cache, const std::string& name_flag, bool local) {
  auto text = ReadFile(file);
  if (!text.ok()) return Fail(NotFound(file + ": no such file"));
  auto docs = ParseYamlDocuments(*text, file);
  if (!docs.ok()) return Fail(docs.status());
  auto spec = pipelines::PipelineSpecFromDocuments(*docs, file);
  if (!spec.ok()) return Fail(spec.status());
  auto parameters = ParseParameters(*spec, params);
  if (!parameters.ok()) return Fail(parameters.status());
  if (auto resolved = pipelines::ResolvePipelineParameters(*spec, *parameters); !resolved.ok()) {
    return Fail(resolved.status());
  }
  std::string base = spec->name.empty() ? "run" : spec->name;
  for (char& c : base) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') c = '-';
  }
  if (base.size() > 50) base = base.substr(0, 50);
  std::string name = name_flag.empty() ? GenerateName(base + "-") : name_flag;
  Json platform_doc = docs->size() > 1 ? (*docs)[1] : Json::object();
  Json run = pipelines::MakePipelineRun(g.namespace_, name, spec->raw, platform_doc, *parameters,
                                        !no_cache);

  ProgressPrinter progress;
  Json final_run;
  auto config = LoadClientConfig(g.config);
  if (!local && config.ok()) {
    ApiClient api(*config);
    const ResourceType* t = TypeRegistry::Global().Lookup("pipelineruns");
    auto created = api.Call("POST", ResourcePath(*t, g.namespace_), run.dump());
    if (!created.ok()) return Fail(created.status());
    std::printf("run %s/%s created on %s\n", g.namespace_.c_str(), name.c_str(),
                config->url.c_str());
    while (true) {
      auto got = api.Call("GET", ResourcePath(*t, g.namespace_, name));
      if (!got.ok()) return Fail(got.status());
      progress.Update(*got);
      if (Finished(*got)) {
        final_run = *got;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  } else {
    std::printf("no server found: running in this process (SKIFF_HOME=%s)\n", SkiffHome().c_str());
    InitLogging("", "warn");
    // The sandbox as `skiff up` has it: on unless SKIFF_SANDBOX=off.
    const char* sandbox = std::getenv("SKIFF_SANDBOX");
    auto platform = Platform::Create(
        {SkiffHome(), "", {}, sandbox == nullptr || std::string(sandbox) != "off"});
    if (!platform.ok()) return Fail(platform.status());
    // The same admission as a run created through the API (core/admission.h).
    Json validated = run;
    if (Status st = Admit(TypeRegistry::Global(), pipelines::kPipelineRunType,
                          {.op = WriteOp::kCreate}, validated, nullptr);
        !st.ok()) {
      return Fail(st);
    }
    auto created = (*platform)->store().Create(pipelines::kPipelineRunType, validated);
    if (!created.ok()) return Fail(created.status());
    (*platform)->Start();
    while (true) {
      auto got = (*platform)->store().Get(pipelines::kPipelineRunType, g.namespace_, name);
      if (!got.ok()) return Fail(got.status());
      progress.Update(*got);
      if (Finished(*got)) {
        final_run = *got;
        break;
      }
      (*platform)->store().WaitForChange((*platform)->store().CurrentVersion(),
                                         std::chrono::milliseconds(200));
    }
    (*platform)->Stop();
  }
  PrintOutputs(final_run);
  return final_run["status"].value("state", "") == "SUCCEEDED" ? 0 : 1;
}

}  // namespace skiff::cli
