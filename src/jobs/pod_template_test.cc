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

TEST(PodTemplate, ThePodsRestartPolicyIsTheWorkloadsWithKubernetesDefault) {
  Json pod = Pod({{"name", "v"}, {"emptyDir", Json::object()}});
  PodEnvironment env;
  EXPECT_EQ(PodToWorkload(pod, "team-b/p", env)->restart_policy, RestartPolicy::kAlways)
      << "a pod that says nothing restarts always";
  for (const auto& [name, policy] :
       std::vector<std::pair<std::string, RestartPolicy>>{{"Never", RestartPolicy::kNever},
                                                          {"OnFailure", RestartPolicy::kOnFailure},
                                                          {"Always", RestartPolicy::kAlways}}) {
    pod["spec"]["restartPolicy"] = name;
    EXPECT_EQ(PodToWorkload(pod, "team-b/p", env)->restart_policy, policy) << name;
  }
}

TEST(PodTemplate, AReadinessProbeIsRunAsKubernetesDescribesIt) {
  Json pod = Pod({{"name", "v"}, {"emptyDir", Json::object()}});
  Json& c = pod["spec"]["containers"][0];
  c["ports"] = {{{"name", "http"}, {"containerPort", 8080}}};
  c["readinessProbe"] = {{"httpGet", {{"path", "/ready"}, {"port", "http"}}},
                         {"periodSeconds", 2},
                         {"failureThreshold", 5}};
  PodEnvironment env;
  auto w = PodToWorkload(pod, "team-b/p", env);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE(w->containers[0].readiness_probe.has_value());
  const Probe& probe = *w->containers[0].readiness_probe;
  EXPECT_EQ(probe.kind, Probe::Kind::kHttpGet);
  EXPECT_EQ(probe.http_path, "/ready");
  EXPECT_EQ(probe.port, "http");
  EXPECT_EQ(probe.period, std::chrono::seconds(2));
  EXPECT_EQ(probe.timeout, std::chrono::seconds(1)) << "Kubernetes' default";
  EXPECT_EQ(probe.failure_threshold, 5);

  c["readinessProbe"] = {{"exec", {{"command", {"cat", "/tmp/ready"}}}}};
  w = PodToWorkload(pod, "team-b/p", env);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->containers[0].readiness_probe->kind, Probe::Kind::kExec);
  EXPECT_EQ(w->containers[0].readiness_probe->exec,
            (std::vector<std::string>{"cat", "/tmp/ready"}));

  c["readinessProbe"] = {{"tcpSocket", {{"port", 8080}}}};
  w = PodToWorkload(pod, "team-b/p", env);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->containers[0].readiness_probe->port, "8080");

  c["readinessProbe"] = {{"grpc", {{"port", 9000}}}};
  w = PodToWorkload(pod, "team-b/p", env);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("spec.containers[0].readinessProbe: needs one of"),
            std::string::npos)
      << w.status().message();
}

}  // namespace
}  // namespace skiff::jobs
