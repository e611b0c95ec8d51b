#include "pipelines/launcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "backend/fake_backend.h"
#include "pipelines/cache.h"
#include "pipelines/executor_io.h"
#include "pipelines/launcher_testing.h"
#include "store/store.h"

namespace skiff::pipelines {
namespace {

using testing::InvocationFor;
using testing::LoadTestIr;
using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

// An in-memory TaskCache, to watch what the launcher records and looks up.
class MemoryTaskCache : public TaskCache {
 public:
  Result<std::optional<TaskOutcome>> Lookup(const std::string& ns,
                                            const std::string& fingerprint) override {
    ++lookups;
    auto it = entries.find(ns + "/" + fingerprint);
    if (it == entries.end()) return std::optional<TaskOutcome>();
    TaskOutcome o = it->second;
    o.state = TaskOutcome::State::kCached;
    return std::optional<TaskOutcome>(o);
  }
  Status Record(const TaskInvocation& inv, const std::string& fingerprint,
                const TaskOutcome& outcome) override {
    entries[inv.namespace_ + "/" + fingerprint] = outcome;
    return Status::Ok();
  }
  std::map<std::string, TaskOutcome> entries;
  int lookups = 0;
};

class LauncherTest : public ::testing::Test {
 protected:
  LauncherTest() : backend_(clock_) {}
  void SetUp() override { launcher_ = MakeLauncher(); }
  std::unique_ptr<Launcher> MakeLauncher(ConfigResolver resolver = nullptr) {
    LauncherOptions options;
    options.artifacts_root = dir_.path() + "/artifacts";
    options.work_dir = dir_.path() + "/work";
    options.resolve_config = std::move(resolver);
    return std::make_unique<Launcher>(options, backend_, &cache_);
  }
  TaskInvocation AddNumbers(int a, int b) {
    return InvocationFor(LoadTestIr("add_numbers.yaml"), "comp-add-numbers", {{"a", a}, {"b", b}},
                         dir_.path() + "/artifacts");
  }
  TempDir dir_;
  FakeClock clock_;
  FakeBackend backend_;
  MemoryTaskCache cache_;
  std::unique_ptr<Launcher> launcher_;
};

TEST_F(LauncherTest, StartLaunchesOneContainerWithTheSubstitutedCommandAndPythonPackages) {
  TaskInvocation inv = AddNumbers(1, 2);
  ASSERT_TRUE(launcher_->Start(inv).ok());
  auto launched = backend_.launched();
  ASSERT_EQ(launched.size(), 1u);
  const WorkloadSpec& w = launched[0];
  EXPECT_EQ(w.id, inv.workload_id);
  EXPECT_EQ(w.labels.at("skiff.dev/run"), "run-1");
  EXPECT_EQ(w.labels.at("skiff.dev/run-name"), "my-run");
  EXPECT_EQ(w.labels.at("skiff.dev/namespace"), "team-a");
  EXPECT_EQ(w.labels.at("skiff.dev/task"), "add-numbers");
  ASSERT_EQ(w.containers.size(), 1u);
  const ContainerSpec& c = w.containers[0];
  EXPECT_EQ(c.name, "main");
  EXPECT_EQ(c.image, "python:3.11");
  // The pip prelude is skipped and KFP's shell program replaced by what it does: the component
  // source in a file, then python3 -m kfp.dsl.executor_main, which a warm interpreter may fork.
  ASSERT_EQ(c.command.size(), 5u);
  EXPECT_EQ(c.command[0], "python3");
  EXPECT_EQ(c.command[1], "-m");
  EXPECT_EQ(c.command[2], "kfp.dsl.executor_main");
  EXPECT_EQ(c.command[3], "--component_module_path");
  std::ifstream source(c.command[4]);
  std::stringstream text;
  text << source.rdbuf();
  EXPECT_NE(text.str().find("def add_numbers(a: int, b: int) -> int:"), std::string::npos)
      << c.command[4];
  EXPECT_EQ(std::filesystem::path(c.command[4]).filename(), "ephemeral_component.py");
  EXPECT_EQ(c.python_preload, std::vector<std::string>{"kfp.dsl.executor_main"});
  ASSERT_FALSE(c.env.empty());
  EXPECT_EQ(c.env.back().name, "_KFP_RUNTIME");
  EXPECT_EQ(c.env.back().value, "true");
  EXPECT_EQ(c.python_packages[0], "kfp==2.14.6");
  ASSERT_EQ(c.args.size(), 4u);
  Json ei = Json::parse(c.args[1]);
  EXPECT_EQ(ei["inputs"]["parameterValues"]["a"], 1);
  std::string out_file = ei["outputs"]["parameters"]["Output"]["outputFile"];
  EXPECT_EQ(out_file, launcher_->OutputParameterPath(inv, "Output"));
  EXPECT_TRUE(std::filesystem::is_directory(
      std::filesystem::path(launcher_->OutputParameterPath(inv, "Output")).parent_path()));
}

TEST_F(LauncherTest, AnOldKfpExecutorSeesArtifactsThroughMinioUrisAndTheirMount) {
  // kfp 1.8.0's executor gives an artifact a path only for gs://, minio:// and s3:// URIs.
  Json ir = LoadTestIr("lightweight_python_functions_v2_pipeline.json");
  const std::string root = dir_.path() + "/artifacts";
  TaskInvocation inv = InvocationFor(ir, "comp-train", {{"message", "hi"}, {"num_steps", 1}}, root);
  inv.artifact_inputs["dataset_one_path"] = {
      {.name = "output_dataset_one",
       .uri = "file://" + root + "/run-1/root/preprocess/s/output_dataset_one",
       .schema_title = "system.Dataset"}};
  ASSERT_TRUE(launcher_->Start(inv).ok());
  const WorkloadSpec w = backend_.launched().back();
  const ContainerSpec& c = w.containers[0];
  std::string executor_input;
  for (size_t i = 0; i + 1 < c.args.size(); ++i) {
    if (c.args[i] == "--executor_input") executor_input = c.args[i + 1];
  }
  Json ei = Json::parse(executor_input);
  EXPECT_EQ(ei["inputs"]["artifacts"]["dataset_one_path"]["artifacts"][0]["uri"],
            "minio://skiff-artifacts/run-1/root/preprocess/s/output_dataset_one");
  std::string model = ei["outputs"]["artifacts"]["model"]["artifacts"][0]["uri"];
  ASSERT_EQ(model.rfind("minio://skiff-artifacts/run-1/root/train/", 0), 0u) << model;
  ASSERT_EQ(w.volumes.size(), 1u);
  EXPECT_EQ(w.volumes[0].host_path, root);
  ASSERT_EQ(c.volume_mounts.size(), 1u);
  EXPECT_EQ(c.volume_mounts[0].mount_path, "/minio/skiff-artifacts");

  // What the executor reports in minio:// form is recorded as the file:// URI it stands for.
  std::string output_file = ei["outputs"]["outputFile"];
  WriteText(output_file,
            Json{{"artifacts",
                  {{"model", {{"artifacts", Json::array({{{"name", "model"}, {"uri", model}}})}}}}}}
                .dump());
  ASSERT_TRUE(backend_.Finish(inv.workload_id, 0).ok());
  auto done = launcher_->Poll(inv);
  ASSERT_TRUE(done.ok() && done->has_value()) << done.status().ToString();
  EXPECT_EQ((*done)->output_artifacts.at("model")[0].uri,
            "file://" + root + model.substr(std::string("minio://skiff-artifacts").size()));

  // A current kfp executor gets plain paths and no mount.
  TaskInvocation current = AddNumbers(1, 2);
  ASSERT_TRUE(launcher_->Start(current).ok());
  EXPECT_TRUE(backend_.launched().back().volumes.empty());
}

TEST(PinsKfpWithoutLocalPathsTest, KfpBefore25Only) {
  EXPECT_TRUE(PinsKfpWithoutLocalPaths({"kfp==1.8.9"}));
  EXPECT_TRUE(PinsKfpWithoutLocalPaths({"'kfp==2.0.0-beta.16'"}));
  EXPECT_TRUE(PinsKfpWithoutLocalPaths({"numpy", "kfp==2.4.0"}));
  EXPECT_FALSE(PinsKfpWithoutLocalPaths({"kfp==2.5.0"}));
  EXPECT_FALSE(PinsKfpWithoutLocalPaths({"kfp==2.14.3"}));
  EXPECT_FALSE(PinsKfpWithoutLocalPaths({"kfp"}));
  EXPECT_FALSE(PinsKfpWithoutLocalPaths({"kfp-kubernetes==1.0.0"}));
}

TEST_F(LauncherTest, PollWaitsForTheWorkloadThenReadsTypedOutputsAndRecordsThemInTheCache) {
  TaskInvocation inv = AddNumbers(1, 2);
  ASSERT_TRUE(launcher_->Start(inv).ok());
  auto running = launcher_->Poll(inv);
  ASSERT_TRUE(running.ok());
  EXPECT_FALSE(running->has_value());

  WriteText(launcher_->OutputParameterPath(inv, "Output"), "3");
  ASSERT_TRUE(backend_.Finish(inv.workload_id, 0).ok());
  auto done = launcher_->Poll(inv);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ((*done)->state, TaskOutcome::State::kSucceeded);
  EXPECT_EQ((*done)->output_parameters.at("Output"), 3);
  EXPECT_EQ(cache_.entries.size(), 1u);
}

TEST_F(LauncherTest, ACacheHitReturnsCachedOutputsWithoutLaunching) {
  TaskInvocation first = AddNumbers(1, 2);
  ASSERT_TRUE(launcher_->Start(first).ok());
  WriteText(launcher_->OutputParameterPath(first, "Output"), "3");
  ASSERT_TRUE(backend_.Finish(first.workload_id, 0).ok());
  ASSERT_TRUE(launcher_->Poll(first).ok());

  TaskInvocation again = AddNumbers(1, 2);
  again.run_id = "run-2";
  again.workload_id = "run-2.root.add-numbers.0";
  ASSERT_TRUE(launcher_->Start(again).ok());
  EXPECT_EQ(backend_.launched().size(), 1u);
  auto outcome = launcher_->Poll(again);
  ASSERT_TRUE(outcome.ok() && outcome->has_value());
  EXPECT_EQ((*outcome)->state, TaskOutcome::State::kCached);
  EXPECT_EQ((*outcome)->output_parameters.at("Output"), 3);
  auto logs = launcher_->Logs(again);
  ASSERT_TRUE(logs.ok());
  EXPECT_NE(logs->find("cache"), std::string::npos);

  TaskInvocation changed = AddNumbers(1, 5);
  changed.workload_id = "run-3.root.add-numbers.0";
  ASSERT_TRUE(launcher_->Start(changed).ok());
  EXPECT_EQ(backend_.launched().size(), 2u);

  TaskInvocation disabled = AddNumbers(1, 2);
  disabled.workload_id = "run-4.root.add-numbers.0";
  disabled.enable_cache = false;
  ASSERT_TRUE(launcher_->Start(disabled).ok());
  EXPECT_EQ(backend_.launched().size(), 3u);
}

// Through the StoreTaskCache, as `skiff up` and `skiff run` cache.
TEST_F(LauncherTest, ATaskWithMetricsOutputsIsACacheHitTheSecondTimeWithItsMetricsRestored) {
  auto store = OpenStore("sqlite://" + dir_.path() + "/cache.db", clock_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  StoreTaskCache cache(**store);
  LauncherOptions options;
  options.artifacts_root = dir_.path() + "/artifacts";
  options.work_dir = dir_.path() + "/work";
  Launcher launcher(options, backend_, &cache);
  const Json ir = LoadTestIr("metrics_visualization_v2.yaml");
  auto run = [&](const std::string& component, const std::string& run_id, const Json& reported) {
    TaskInvocation inv = InvocationFor(ir, component, {}, dir_.path() + "/artifacts");
    inv.run_id = run_id;
    inv.workload_id = run_id + "." + inv.task_path + ".0";
    EXPECT_TRUE(launcher.Start(inv).ok());
    if (backend_.Observe(inv.workload_id).ok()) {
      // The component reports its metrics through the executor output and writes no file.
      WriteText(launcher.ExecutorOutputPath(inv), reported.dump());
      EXPECT_TRUE(backend_.Finish(inv.workload_id, 0).ok());
    }
    auto outcome = launcher.Poll(inv);
    EXPECT_TRUE(outcome.ok() && outcome->has_value()) << outcome.status().ToString();
    return outcome.ok() && outcome->has_value() ? **outcome : TaskOutcome{};
  };
  const Json metrics = {
      {"artifacts",
       {{"metrics",
         {{"artifacts", {{{"name", "metrics"}, {"metadata", {{"accuracy", 0.97}}}}}}}}}}};
  TaskOutcome first = run("comp-digit-classification", "run-1", metrics);
  EXPECT_EQ(first.state, TaskOutcome::State::kSucceeded);
  const Artifact& produced = first.output_artifacts.at("metrics").at(0);
  EXPECT_FALSE(std::filesystem::exists(LocalPathForUri(produced.uri))) << produced.uri;

  TaskOutcome second = run("comp-digit-classification", "run-2", metrics);
  EXPECT_EQ(second.state, TaskOutcome::State::kCached) << second.message;
  EXPECT_EQ(backend_.launched().size(), 1u);
  const Artifact& restored = second.output_artifacts.at("metrics").at(0);
  EXPECT_EQ(restored.schema_title, "system.Metrics");
  EXPECT_EQ(restored.uri, produced.uri);
  EXPECT_EQ(restored.metadata["accuracy"], 0.97);

  const Json roc = {
      {"artifacts",
       {{"metrics",
         {{"artifacts",
           {{{"name", "metrics"}, {"metadata", {{"confidenceMetrics", {1, 2}}}}}}}}}}}};
  EXPECT_EQ(run("comp-iris-sgdclassifier", "run-1", roc).state, TaskOutcome::State::kSucceeded);
  TaskOutcome classification = run("comp-iris-sgdclassifier", "run-2", roc);
  EXPECT_EQ(classification.state, TaskOutcome::State::kCached);
  EXPECT_EQ(classification.output_artifacts.at("metrics").at(0).metadata["confidenceMetrics"],
            Json({1, 2}));
  EXPECT_EQ(backend_.launched().size(), 2u);

  // An HTML artifact is a file: gone (never written here), the entry is a miss.
  EXPECT_EQ(run("comp-html-visualization", "run-1", Json::object()).state,
            TaskOutcome::State::kSucceeded);
  EXPECT_EQ(run("comp-html-visualization", "run-2", Json::object()).state,
            TaskOutcome::State::kSucceeded);
  EXPECT_EQ(backend_.launched().size(), 4u);
}

TEST_F(LauncherTest, StartAfterARestartReadoptsTheRunningWorkload) {
  TaskInvocation inv = AddNumbers(1, 2);
  ASSERT_TRUE(launcher_->Start(inv).ok());
  std::unique_ptr<Launcher> restarted = MakeLauncher();
  ASSERT_TRUE(restarted->Start(inv).ok());
  EXPECT_EQ(backend_.launched().size(), 1u);
  WriteText(restarted->OutputParameterPath(inv, "Output"), "3");
  ASSERT_TRUE(backend_.Finish(inv.workload_id, 0).ok());
  auto done = restarted->Poll(inv);
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->state, TaskOutcome::State::kSucceeded);
}

TEST_F(LauncherTest, AMissingOutputFileFailsTheTaskNamingTheParameter) {
  TaskInvocation inv = AddNumbers(1, 2);
  ASSERT_TRUE(launcher_->Start(inv).ok());
  ASSERT_TRUE(backend_.Finish(inv.workload_id, 0).ok());
  auto done = launcher_->Poll(inv);
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->state, TaskOutcome::State::kFailed);
  EXPECT_NE((*done)->message.find("'Output'"), std::string::npos);
  EXPECT_TRUE(cache_.entries.empty());
}

TEST_F(LauncherTest, ANonZeroExitFailsWithTheExitCode) {
  TaskInvocation inv = AddNumbers(1, 2);
  ASSERT_TRUE(launcher_->Start(inv).ok());
  ASSERT_TRUE(backend_.Finish(inv.workload_id, 2).ok());
  auto done = launcher_->Poll(inv);
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->state, TaskOutcome::State::kFailed);
  EXPECT_EQ((*done)->exit_code, 2);
  EXPECT_NE((*done)->message.find("exit code 2"), std::string::npos);
}

TEST_F(LauncherTest, CancelStopsTheWorkloadAndTheTaskEndsCancelled) {
  TaskInvocation inv = AddNumbers(1, 2);
  ASSERT_TRUE(launcher_->Start(inv).ok());
  ASSERT_TRUE(launcher_->Cancel(inv).ok());
  ASSERT_EQ(backend_.stop_calls().size(), 1u);
  EXPECT_EQ(backend_.stop_calls()[0].id, inv.workload_id);
  auto done = launcher_->Poll(inv);
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->state, TaskOutcome::State::kFailed);
  EXPECT_EQ((*done)->message, "cancelled");
}

TEST_F(LauncherTest, LogsComeFromTheBackend) {
  TaskInvocation inv = AddNumbers(1, 2);
  ASSERT_TRUE(launcher_->Start(inv).ok());
  ASSERT_TRUE(backend_.SetLogs(inv.workload_id, "main", "hello\n").ok());
  auto logs = launcher_->Logs(inv);
  ASSERT_TRUE(logs.ok());
  EXPECT_EQ(*logs, "hello\n");
}

TEST_F(LauncherTest, ContainerEnvAndResourcesMapOntoTheContainerSpec) {
  Json ir = LoadTestIr("pipeline_with_env.yaml");
  std::string comp = ir["components"].begin().key();
  TaskInvocation inv = InvocationFor(ir, comp, {}, dir_.path());
  std::vector<std::string> warnings;
  auto w = launcher_->BuildWorkload(inv, &warnings);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  const auto& env = w->containers[0].env;
  ASSERT_FALSE(env.empty());
  EXPECT_EQ(env[0].name, "ENV1");
  EXPECT_EQ(env[0].value, "val0");

  Json k8s = LoadTestIr("local_execution_pipeline_with_k8s_only_methods.yaml");
  std::string k8s_comp;
  for (auto it = k8s["components"].begin(); it != k8s["components"].end(); ++it) {
    std::string label = it.value().value("executorLabel", "");
    if (k8s["deploymentSpec"]["executors"][label]["container"].contains("resources")) {
      k8s_comp = it.key();
    }
  }
  ASSERT_FALSE(k8s_comp.empty());
  TaskInvocation gpu = InvocationFor(k8s, k8s_comp, {}, dir_.path());
  for (auto p = gpu.component_spec["inputDefinitions"]["parameters"].begin();
       gpu.component_spec.contains("inputDefinitions") &&
       p != gpu.component_spec["inputDefinitions"]["parameters"].end();
       ++p) {
    gpu.parameter_inputs[p.key()] = "x";
  }
  warnings.clear();
  auto gw = launcher_->BuildWorkload(gpu, &warnings);
  ASSERT_TRUE(gw.ok()) << gw.status().ToString();
  EXPECT_EQ(gw->containers[0].cpu_millis, 1000);
  EXPECT_EQ(gw->containers[0].memory_bytes, 256 * 1024 * 1024);
  bool accelerator_warned = false;
  for (const auto& line : warnings) {
    if (line.find("accelerator") != std::string::npos) accelerator_warned = true;
  }
  EXPECT_TRUE(accelerator_warned);
}

TEST_F(LauncherTest, SecretsBecomeEnvThroughTheResolverAndEmptyDirsBecomeVolumes) {
  Json ir = LoadTestIr("secret_as_env.yaml");
  TaskInvocation inv = InvocationFor(ir, "comp-comp", {}, dir_.path());
  std::vector<std::string> warnings;
  auto no_resolver = launcher_->BuildWorkload(inv, &warnings);
  ASSERT_FALSE(no_resolver.ok());
  EXPECT_NE(no_resolver.status().message().find("my-secret"), std::string::npos);

  std::string asked;
  auto launcher =
      MakeLauncher([&](const std::string& ns, const std::string& kind,
                       const std::string& name) -> Result<std::map<std::string, std::string>> {
        asked = ns + "/" + kind + "/" + name;
        return std::map<std::string, std::string>{{"password", "hunter2"}};
      });
  auto w = launcher->BuildWorkload(inv, &warnings);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(asked, "team-a/Secret/my-secret");
  bool found = false;
  for (const EnvVar& e : w->containers[0].env) {
    if (e.name == "SECRET_VAR" && e.value == "hunter2") found = true;
  }
  EXPECT_TRUE(found);

  Json ed = LoadTestIr("empty_dir_mounts.yaml");
  TaskInvocation edi = InvocationFor(ed, "comp-comp", {}, dir_.path());
  auto ew = launcher_->BuildWorkload(edi, &warnings);
  ASSERT_TRUE(ew.ok()) << ew.status().ToString();
  ASSERT_EQ(ew->volumes.size(), 1u);
  EXPECT_EQ(ew->volumes[0].name, "emptydir-vol-1");
  EXPECT_TRUE(ew->volumes[0].host_path.empty());
  EXPECT_EQ(ew->containers[0].volume_mounts[0].mount_path, "/mnt/my_vol_1");
}

TEST_F(LauncherTest, SettingsNamedByAnInputWithoutValueAreLeftOut) {
  Json ir = LoadTestIr("secret_as_env.yaml");
  TaskInvocation inv = InvocationFor(ir, "comp-comp", {}, dir_.path());
  // What the engine hands over when the naming pipeline input is optional and has no value.
  inv.platform_config = Json::parse(R"({
    "secretAsEnv": [{"secretNameParameter": {"componentInputParameter": "s", "resolved": null},
                     "keyToEnv": [{"secretKey": "password", "envVar": "PASSWORD"}]}],
    "configMapAsVolume": [{"configMapNameParameter": {"componentInputParameter": "c",
                                                      "resolved": null},
                           "mountPath": "/mnt/config"}],
    "pvcMount": [{"mountPath": "/data", "componentInputParameter": "p", "resolved": null}]})");
  int asked = 0;
  auto launcher =
      MakeLauncher([&](const std::string&, const std::string&,
                       const std::string&) -> Result<std::map<std::string, std::string>> {
        ++asked;
        return std::map<std::string, std::string>{};
      });
  std::vector<std::string> warnings;
  auto w = launcher->BuildWorkload(inv, &warnings);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(asked, 0);
  EXPECT_TRUE(w->volumes.empty());
  for (const EnvVar& e : w->containers[0].env) EXPECT_NE(e.name, "PASSWORD");
}

TEST_F(LauncherTest, FieldPathEnvReadsPodMetadataAndIsEmptyForAbsentKeys) {
  Json ir = LoadTestIr("secret_as_env.yaml");
  TaskInvocation inv = InvocationFor(ir, "comp-comp", {}, dir_.path());
  inv.platform_config = Json::parse(R"({
    "podMetadata": {"annotations": {"a": "one"}, "labels": {"l": "two"}},
    "fieldPathAsEnv": [{"name": "A", "fieldPath": "metadata.annotations['a']"},
                       {"name": "L", "fieldPath": "metadata.labels['l']"},
                       {"name": "NONE", "fieldPath": "metadata.labels['missing']"}]})");
  std::vector<std::string> warnings;
  auto w = launcher_->BuildWorkload(inv, &warnings);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  std::map<std::string, std::string> env;
  for (const EnvVar& e : w->containers[0].env) env[e.name] = e.value;
  EXPECT_EQ(env["A"], "one");
  EXPECT_EQ(env["L"], "two");
  ASSERT_TRUE(env.count("NONE"));
  EXPECT_EQ(env["NONE"], "");
}

TEST_F(LauncherTest, AnUnknownPlaceholderFailsStartNamingTaskAndPlaceholder) {
  TaskInvocation inv = AddNumbers(1, 2);
  inv.executor_spec["container"]["args"].push_back("{{$.json_escape[1]}}");
  Status s = launcher_->Start(inv);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("root.add-numbers"), std::string::npos);
  EXPECT_NE(s.message().find("{{$.json_escape[1]}}"), std::string::npos);
  EXPECT_TRUE(backend_.launched().empty());
}

TEST_F(LauncherTest, IllTypedIrFieldsAreErrorsNotCrashes) {
  TaskInvocation inv = AddNumbers(1, 2);
  inv.platform_config =
      Json::parse(R"({"emptyDirMounts": [{"volumeName": 3, "mountPath": "/x"}]})");
  Status s = launcher_->Start(inv);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("root.add-numbers"), std::string::npos);

  TaskInvocation bad_defs = AddNumbers(1, 2);
  bad_defs.workload_id = "run-1.root.bad.0";
  bad_defs.component_spec["outputDefinitions"]["parameters"]["Output"]["parameterType"] = 7;
  Status bad = launcher_->Start(bad_defs);  // the cache key reads the output types
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument) << bad.ToString();
}

// A minimal real Backend for one test: fork/exec of the container's command+args, wait on
// Observe. Volumes, env and images are not its business.
class SubprocessBackend : public Backend {
 public:
  explicit SubprocessBackend(std::string log_dir) : log_dir_(std::move(log_dir)) {}
  ~SubprocessBackend() override {
    for (auto& [id, w] : workloads_) {
      if (!w.done) ::waitpid(w.pid, nullptr, 0);
    }
  }
  Status Launch(const WorkloadSpec& spec) override {
    if (workloads_.count(spec.id)) return Status::Ok();
    std::vector<std::string> argv = spec.containers[0].command;
    argv.insert(argv.end(), spec.containers[0].args.begin(), spec.containers[0].args.end());
    std::string log = log_dir_ + "/" + std::to_string(workloads_.size()) + ".log";
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) return Internal("fork failed");
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execvp(cargv[0], cargv.data());
      ::_exit(127);
    }
    workloads_[spec.id] = {pid, log, false, 0};
    return Status::Ok();
  }
  Result<WorkloadStatus> Observe(const std::string& id) override {
    auto it = workloads_.find(id);
    if (it == workloads_.end()) return NotFound("workload " + id);
    Proc& p = it->second;
    if (!p.done) {
      int status = 0;
      if (::waitpid(p.pid, &status, 0) == p.pid) {  // blocks: the test has nothing else to do
        p.done = true;
        p.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    WorkloadStatus st;
    st.id = id;
    st.phase = p.exit_code == 0 ? WorkloadPhase::kSucceeded : WorkloadPhase::kFailed;
    st.containers.push_back({.name = "main", .exit_code = p.exit_code});
    return st;
  }
  std::vector<WorkloadStatus> List() override { return {}; }
  Status Stop(const std::string&, std::chrono::milliseconds) override { return Status::Ok(); }
  Status Remove(const std::string&) override { return Status::Ok(); }
  Result<std::string> ReadLogs(const std::string& id, const std::string&, int64_t) override {
    auto it = workloads_.find(id);
    if (it == workloads_.end()) return NotFound("workload " + id);
    return ReadText(it->second.log);
  }
  Result<ResourceUsage> Usage(const std::string&) override { return ResourceUsage{}; }

 private:
  struct Proc {
    pid_t pid;
    std::string log;
    bool done;
    int exit_code;
  };
  std::string log_dir_;
  std::map<std::string, Proc> workloads_;
};

// The corpus producer (`sh -c 'echo "$0, this is an output parameter" > "$1"'`) really runs; its
// output parameter file is read back. Then the same with the SDK's pip prelude in front of it,
// which the launcher strips so the rest runs directly.
TEST(LauncherRealProcessTest, AShellComponentFromTheCorpusRunsAndItsOutputIsReadBack) {
  TempDir dir;
  SubprocessBackend backend(dir.path());
  LauncherOptions options{.artifacts_root = dir.path() + "/artifacts",
                          .work_dir = dir.path() + "/w"};
  Launcher launcher(options, backend, nullptr);
  Json ir = LoadTestIr("producer_consumer_param_pipeline.yaml");
  TaskInvocation inv = InvocationFor(ir, "comp-producer", {{"input_text", "Hello world"}},
                                     dir.path() + "/artifacts");
  ASSERT_TRUE(launcher.Start(inv).ok());
  auto done = launcher.Poll(inv);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ((*done)->state, TaskOutcome::State::kSucceeded) << (*done)->message;
  EXPECT_EQ((*done)->output_parameters.at("output_value"),
            "Hello world, this is an output parameter\n");

  Json add = LoadTestIr("add_numbers.yaml");
  Json prelude = add["deploymentSpec"]["executors"]["exec-add-numbers"]["container"]["command"][2];
  TaskInvocation python = inv;
  python.workload_id = "run-1.root.producer-python.0";
  python.executor_spec["container"]["image"] = "python:3.11";
  Json& cmd = python.executor_spec["container"]["command"];
  cmd = Json::array({"sh", "-c", prelude, "sh", "-c", cmd[2], cmd[3], cmd[4]});
  std::vector<std::string> warnings;
  auto w = launcher.BuildWorkload(python, &warnings);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->containers[0].command[0], "sh");
  EXPECT_EQ(w->containers[0].python_packages[0], "kfp==2.14.6");
  ASSERT_TRUE(launcher.Start(python).ok());
  auto py_done = launcher.Poll(python);
  ASSERT_TRUE(py_done.ok() && py_done->has_value());
  EXPECT_EQ((*py_done)->state, TaskOutcome::State::kSucceeded) << (*py_done)->message;
  EXPECT_EQ((*py_done)->output_parameters.at("output_value"),
            "Hello world, this is an output parameter\n");
}

}  // namespace
}  // namespace skiff::pipelines
