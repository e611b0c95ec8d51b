#include "pipelines/volume_ops.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "pipelines/launcher_testing.h"

namespace skiff::pipelines {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

Json Executor(const std::string& image) { return {{"container", {{"image", image}}}}; }

TaskInvocation Op(const std::string& image, std::map<std::string, Json> params) {
  TaskInvocation inv;
  inv.run_id = "run-1";
  inv.namespace_ = "team-a";
  inv.task_path = "root.createpvc";
  inv.workload_id = "run-1.root.createpvc.0";
  inv.executor_spec = Executor(image);
  inv.parameter_inputs = std::move(params);
  return inv;
}

bool Mentions(const std::vector<std::string>& lines, const std::string& text) {
  for (const std::string& l : lines) {
    if (l.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(VolumeOpsTest, OnlyThePlaceholderImagesAreVolumeOps) {
  EXPECT_EQ(VolumeOpOf(Executor("argostub/createpvc")), VolumeOp::kCreate);
  EXPECT_EQ(VolumeOpOf(Executor("argostub/deletepvc")), VolumeOp::kDelete);
  EXPECT_EQ(VolumeOpOf(Executor("python:3.11")), VolumeOp::kNone);
  EXPECT_EQ(VolumeOpOf(Json{{"importer", Json::object()}}), VolumeOp::kNone);
  EXPECT_EQ(VolumeOpOf(Json()), VolumeOp::kNone);
}

TEST(VolumeOpsTest, CreateWithASuffixMakesAStableNameAndItsFolder) {
  TempDir root;
  TaskInvocation inv = Op("argostub/createpvc", {{"pvc_name_suffix", "-my-pvc"},
                                                 {"size", "5Mi"},
                                                 {"access_modes", Json::array({"ReadWriteOnce"})},
                                                 {"storage_class_name", "standard"}});
  TaskOutcome out = RunVolumeOp(VolumeOp::kCreate, inv, root.path());
  ASSERT_EQ(out.state, TaskOutcome::State::kSucceeded) << out.message;
  std::string name = out.output_parameters.at("name").get<std::string>();
  EXPECT_TRUE(name.ends_with("-my-pvc")) << name;
  EXPECT_EQ(name.size(), 36 + 7) << "a UUID and the suffix, as the KFP driver names it";
  EXPECT_TRUE(fs::is_directory(ClaimDir(root.path(), "team-a", name)));
  EXPECT_TRUE(Mentions(out.warnings, "ignored: size, access_modes, storage_class_name"));
  // Again (a restart re-runs it): the same claim.
  TaskOutcome again = RunVolumeOp(VolumeOp::kCreate, inv, root.path());
  EXPECT_EQ(again.output_parameters.at("name"), name);
  // Another task: another claim.
  inv.workload_id = "run-2.root.createpvc.0";
  EXPECT_NE(RunVolumeOp(VolumeOp::kCreate, inv, root.path()).output_parameters.at("name"), name);
}

TEST(VolumeOpsTest, CreateRefusesBadInputsNamingTheTask) {
  TempDir root;
  auto fails = [&](std::map<std::string, Json> params, const std::string& why) {
    TaskOutcome out =
        RunVolumeOp(VolumeOp::kCreate, Op("argostub/createpvc", std::move(params)), root.path());
    EXPECT_EQ(out.state, TaskOutcome::State::kFailed) << why;
    EXPECT_NE(out.message.find("root.createpvc"), std::string::npos) << out.message;
    EXPECT_NE(out.message.find(why), std::string::npos) << out.message;
  };
  fails({{"pvc_name", "a"}, {"pvc_name_suffix", "-b"}, {"size", "1Gi"}}, "at most one of");
  fails({{"pvc_name", "data"}}, "size is required");
  fails({{"pvc_name", "data"}, {"size", "lots"}}, "size");
  fails({{"pvc_name", "../etc"}, {"size", "1Gi"}}, "not a valid claim name");
  fails({{"pvc_name", "Data"}, {"size", "1Gi"}}, "not a valid claim name");
  EXPECT_TRUE(fs::is_empty(root.path())) << "nothing is created for a refused claim";
}

TEST(VolumeOpsTest, ADataSourceClaimIsClonedAndASnapshotIsReported) {
  TempDir root;
  std::string src = ClaimDir(root.path(), "team-a", "origin");
  fs::create_directories(src + "/sub");
  std::ofstream(src + "/sub/f") << "kept";
  TaskOutcome out =
      RunVolumeOp(VolumeOp::kCreate,
                  Op("argostub/createpvc",
                     {{"pvc_name", "copy"},
                      {"size", "1Gi"},
                      {"data_source", {{"kind", "PersistentVolumeClaim"}, {"name", "origin"}}}}),
                  root.path());
  ASSERT_EQ(out.state, TaskOutcome::State::kSucceeded) << out.message;
  std::ifstream copied(ClaimDir(root.path(), "team-a", "copy") + "/sub/f");
  std::string text;
  copied >> text;
  EXPECT_EQ(text, "kept");

  out = RunVolumeOp(VolumeOp::kCreate,
                    Op("argostub/createpvc", {{"pvc_name", "snap"},
                                              {"size", "1Gi"},
                                              {"data_source",
                                               {{"apiGroup", "snapshot.storage.k8s.io"},
                                                {"kind", "VolumeSnapshot"},
                                                {"name", "my-snap"}}}}),
                    root.path());
  ASSERT_EQ(out.state, TaskOutcome::State::kSucceeded) << out.message;
  EXPECT_TRUE(Mentions(out.warnings, "VolumeSnapshot")) << "reported, not silently dropped";

  out = RunVolumeOp(VolumeOp::kCreate,
                    Op("argostub/createpvc",
                       {{"pvc_name", "orphan"},
                        {"size", "1Gi"},
                        {"data_source", {{"kind", "PersistentVolumeClaim"}, {"name", "missing"}}}}),
                    root.path());
  EXPECT_EQ(out.state, TaskOutcome::State::kFailed);
  EXPECT_NE(out.message.find("'missing' does not exist"), std::string::npos) << out.message;
}

TEST(VolumeOpsTest, DeleteRemovesTheClaimAndToleratesOneAlreadyGone) {
  TempDir root;
  std::string dir = ClaimDir(root.path(), "team-a", "data");
  fs::create_directories(dir);
  std::ofstream(dir + "/f") << "x";
  TaskInvocation inv = Op("argostub/deletepvc", {{"pvc_name", "data"}});
  TaskOutcome out = RunVolumeOp(VolumeOp::kDelete, inv, root.path());
  ASSERT_EQ(out.state, TaskOutcome::State::kSucceeded) << out.message;
  EXPECT_FALSE(fs::exists(dir));
  out = RunVolumeOp(VolumeOp::kDelete, inv, root.path());
  EXPECT_EQ(out.state, TaskOutcome::State::kSucceeded);
  EXPECT_TRUE(Mentions(out.warnings, "did not exist"));
  out = RunVolumeOp(VolumeOp::kDelete, Op("argostub/deletepvc", {}), root.path());
  EXPECT_EQ(out.state, TaskOutcome::State::kFailed);
  EXPECT_NE(out.message.find("pvc_name is required"), std::string::npos) << out.message;
}

}  // namespace
}  // namespace skiff::pipelines
