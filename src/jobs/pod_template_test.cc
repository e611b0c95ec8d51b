#include "jobs/pod_template.h"

#include <gtest/gtest.h>

namespace skiff::jobs {
namespace {

Json Template(Json volume) {
  return {{"spec",
           {{"containers", {{{"name", "main"}, {"image", "busybox"}, {"command", {"true"}}}}},
            {"volumes", {std::move(volume)}}}}};
}

Json Pod(Json volume) {
  Json pod = Template(std::move(volume));
  pod["metadata"] = {{"name", "p"}, {"namespace", "team-b"}};
  return pod;
}

TEST(PodTemplate, AClaimNameIsANameNotAPath) {
  // Once a claimName of "../../" mounted SKIFF_HOME itself, "../team-a/data" another profile's
  // volume.
  for (const char* claim : {"../../", "../team-a/data", "a/b", "..", "", "Data"}) {
    Json volume = {{"name", "v"}, {"persistentVolumeClaim", {{"claimName", claim}}}};
    Status s = ValidatePodTemplate(Template(volume), "spec.template");
    ASSERT_FALSE(s.ok()) << claim;
    EXPECT_NE(s.message().find("spec.template.spec.volumes[0].persistentVolumeClaim.claimName"),
              std::string::npos)
        << s.message();
    PodEnvironment env;
    env.volumes_dir = "/home/volumes";
    EXPECT_FALSE(PodToWorkload(Pod(volume), "team-b/p", env).ok()) << "stored before the check";
  }
  Json no_name = {{"name", "v"}, {"persistentVolumeClaim", Json::object()}};
  EXPECT_FALSE(ValidatePodTemplate(Template(no_name), "spec.template").ok());
}

TEST(PodTemplate, AClaimIsAFolderOfItsOwnProfilesVolumes) {
  Json volume = {{"name", "v"}, {"persistentVolumeClaim", {{"claimName", "data.v1"}}}};
  EXPECT_TRUE(ValidatePodTemplate(Template(volume), "spec.template").ok());
  PodEnvironment env;
  env.volumes_dir = "/home/volumes";
  auto w = PodToWorkload(Pod(volume), "team-b/p", env);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->volumes.size(), 1u);
  EXPECT_EQ(w->volumes[0].host_path, "/home/volumes/team-b/data.v1");
}

}  // namespace
}  // namespace skiff::jobs
