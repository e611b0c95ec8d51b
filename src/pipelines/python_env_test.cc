#include "pipelines/python_env.h"

#include <gtest/gtest.h>

#include "pipelines/launcher_testing.h"

namespace skiff::pipelines {
namespace {

using testing::LoadTestIr;

std::vector<std::string> Strings(const Json& list) {
  std::vector<std::string> out;
  for (const Json& s : list) out.push_back(s.get<std::string>());
  return out;
}

struct Cmd {
  std::vector<std::string> command, args;
};

Cmd ContainerOf(const std::string& file, const std::string& executor) {
  Json ir = LoadTestIr(file);
  const Json& c = ir["deploymentSpec"]["executors"][executor]["container"];
  return {Strings(c.value("command", Json::array())), Strings(c.value("args", Json::array()))};
}

TEST(PlanPythonEnvTest, SkipsTheKfpPreludeOfALightweightComponent) {
  Cmd c = ContainerOf("add_numbers.yaml", "exec-add-numbers");
  PythonEnvPlan plan = PlanPythonEnv(c.command, c.args);
  ASSERT_TRUE(plan.recognised);
  EXPECT_EQ(plan.packages,
            (std::vector<std::string>{"kfp==2.14.6",
                                      "typing-extensions>=3.7.4,<5; python_version<\"3.9\""}));
  EXPECT_EQ(plan.no_deps_packages, plan.packages);
  EXPECT_TRUE(plan.index_urls.empty());
  ASSERT_EQ(plan.command.size(), 4u);
  EXPECT_EQ(plan.command[0], "sh");
  EXPECT_EQ(plan.command[1], "-ec");
  EXPECT_NE(plan.command[2].find("kfp.dsl.executor_main"), std::string::npos);
  EXPECT_NE(plan.command[3].find("def add_numbers"), std::string::npos);
  EXPECT_EQ(plan.args, c.args);
}

TEST(PlanPythonEnvTest, ExtractsIndexUrlsAndUserPackages) {
  Cmd c = ContainerOf("component_with_pip_index_urls.yaml", "exec-component-op");
  PythonEnvPlan plan = PlanPythonEnv(c.command, c.args);
  ASSERT_TRUE(plan.recognised);
  EXPECT_EQ(plan.index_urls, (std::vector<std::string>{"https://pypi.org/simple"}));
  EXPECT_EQ(plan.trusted_hosts, (std::vector<std::string>{"https://pypi.org/simple"}));
  ASSERT_GE(plan.packages.size(), 2u);
  EXPECT_EQ(plan.packages[0], "yapf");
  EXPECT_EQ(plan.packages[1], "kfp==2.14.3");
  EXPECT_EQ(plan.no_deps_packages[0], "kfp==2.14.3");
}

TEST(PlanPythonEnvTest, RecognisesTheVenvVariant) {
  Cmd c = ContainerOf("component_with_pip_install_in_venv.yaml", "exec-component-with-pip-install");
  PythonEnvPlan plan = PlanPythonEnv(c.command, c.args);
  ASSERT_TRUE(plan.recognised);
  EXPECT_EQ(plan.packages[0], "yapf");
  EXPECT_EQ(plan.command[0], "sh");
}

TEST(PlanPythonEnvTest, RecognisesKfp18StyleAndDeduplicatesTheUserFallback) {
  Json ir = LoadTestIr("lightweight_python_functions_v2_pipeline.json");
  const Json& c = ir["deploymentSpec"]["executors"]["exec-preprocess"]["container"];
  PythonEnvPlan plan = PlanPythonEnv(Strings(c["command"]), Strings(c["args"]));
  ASSERT_TRUE(plan.recognised);
  EXPECT_EQ(plan.packages, (std::vector<std::string>{"kfp==1.8.0"}));

  const std::string install =
      "(PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet --no-warn-script-location "
      "'pyarrow==0.17.1' || PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet "
      "--no-warn-script-location 'pyarrow==0.17.1' --user) && \"$0\" \"$@\"";
  std::vector<std::string> cmd = {"sh", "-c", install, "python3", "-u", "-c", "print(1)"};
  PythonEnvPlan v1 = PlanPythonEnv(cmd, {"--data", "x"});
  ASSERT_TRUE(v1.recognised);
  EXPECT_EQ(v1.packages, (std::vector<std::string>{"pyarrow==0.17.1"}));
  EXPECT_TRUE(v1.no_deps_packages.empty());
  EXPECT_EQ(v1.command, (std::vector<std::string>{"python3", "-u", "-c", "print(1)"}));
  EXPECT_EQ(v1.args, (std::vector<std::string>{"--data", "x"}));
}

TEST(PlanPythonEnvTest, KeepsPackageOrderAcrossTwoInstalls) {
  Json ir = LoadTestIr("iris_pipeline_compiled.yaml");
  const Json& c = ir["deploymentSpec"]["executors"]["exec-normalize-dataset"]["container"];
  PythonEnvPlan plan = PlanPythonEnv(Strings(c["command"]), Strings(c["args"]));
  ASSERT_TRUE(plan.recognised);
  EXPECT_EQ(plan.packages[0], "kfp==2.14.3");
  EXPECT_EQ(plan.packages[2], "pandas==2.2.0");
  EXPECT_EQ(plan.packages[3], "scikit-learn==1.4.0");
  EXPECT_EQ(plan.no_deps_packages.size(), 2u);
}

TEST(PlanPythonEnvTest, LeavesScriptsItDoesNotUnderstandAlone) {
  EXPECT_FALSE(
      PlanPythonEnv({"sh", "-c", "rm -rf /x; python3 -m pip install a && \"$0\" \"$@\"", "python3"},
                    {})
          .recognised);
  EXPECT_FALSE(
      PlanPythonEnv({"sh", "-c", "python3 -m pip install --pre a && \"$0\" \"$@\"", "x"}, {})
          .recognised);
  EXPECT_FALSE(PlanPythonEnv({"sh", "-c", "python3 -m pip install a"}, {}).recognised);
  EXPECT_FALSE(PlanPythonEnv({"echo", "hi"}, {}).recognised);
  EXPECT_FALSE(PlanPythonEnv({"sh", "-c", "echo '$0"}, {}).recognised);
}

TEST(PlanPythonEnvTest, ArgsBecomeTheCommandWhenTheScriptIsTheLastCommandElement) {
  PythonEnvPlan plan = PlanPythonEnv({"sh", "-c", "python3 -m pip install 'a==1' && \"$0\" \"$@\""},
                                     {"python3", "-c", "print(2)"});
  ASSERT_TRUE(plan.recognised);
  EXPECT_EQ(plan.command, (std::vector<std::string>{"python3", "-c", "print(2)"}));
  EXPECT_TRUE(plan.args.empty());
}

constexpr char kKfpProgram[] =
    "\nprogram_path=$(mktemp -d)\n\nprintf \"%s\" \"$0\" > "
    "\"$program_path/ephemeral_component.py\"\n_KFP_RUNTIME=true python3 -m "
    "kfp.dsl.executor_main                         --component_module_path                      "
    "   \"$program_path/ephemeral_component.py\"                         \"$@\"\n";

TEST(RecogniseKfpExecutorTest, FindsTheSourceAndTheExecutorArguments) {
  KfpExecutorCall call =
      RecogniseKfpExecutor({"sh", "-ec", kKfpProgram, "def f(): pass\n"},
                           {"--executor_input", "{}", "--function_to_execute", "f"});
  ASSERT_TRUE(call.recognised);
  EXPECT_EQ(call.source, "def f(): pass\n");
  EXPECT_EQ(call.args,
            (std::vector<std::string>{"--executor_input", "{}", "--function_to_execute", "f"}));
  // The source may come first in the args, as the compiler puts it for some components.
  call = RecogniseKfpExecutor({"sh", "-ec", kKfpProgram}, {"def g(): pass", "--x"});
  ASSERT_TRUE(call.recognised);
  EXPECT_EQ(call.source, "def g(): pass");
  EXPECT_EQ(call.args, std::vector<std::string>{"--x"});
}

TEST(RecogniseKfpExecutorTest, LeavesAnyOtherProgramAlone) {
  std::string changed = kKfpProgram;
  changed.replace(changed.find("python3"), 7, "python2");
  EXPECT_FALSE(RecogniseKfpExecutor({"sh", "-ec", changed, "src"}, {}).recognised);
  EXPECT_FALSE(RecogniseKfpExecutor({"sh", "-c", kKfpProgram, "src"}, {}).recognised);
  EXPECT_FALSE(RecogniseKfpExecutor({"sh", "-ec", kKfpProgram}, {}).recognised);  // no source
  EXPECT_FALSE(RecogniseKfpExecutor({"python3", "-m", "x"}, {}).recognised);
}

TEST(IsPythonImageTest, MatchesPythonImagesFromAnyRegistry) {
  EXPECT_TRUE(IsPythonImage("python:3.11"));
  EXPECT_TRUE(IsPythonImage("python"));
  EXPECT_TRUE(IsPythonImage("python:3.9-slim"));
  EXPECT_TRUE(IsPythonImage("public.ecr.aws/docker/library/python:3.12"));
  EXPECT_FALSE(IsPythonImage("registry.access.redhat.com/ubi9/python-311:latest"));
  EXPECT_FALSE(IsPythonImage("alpine"));
  EXPECT_FALSE(IsPythonImage("us-docker.pkg.dev/vertex-ai/automl-tabular/kfp-v2-base:1"));
}

}  // namespace
}  // namespace skiff::pipelines
