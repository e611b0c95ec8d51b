#include "jobs/job_controller.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <set>

#include "backend/fake_backend.h"
#include "core/text.h"

namespace skiff::jobs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Json MakeJob(const std::string& name, Json spec_overrides = Json::object()) {
  Json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec",
               {{"template",
                 {{"spec",
                   {{"restartPolicy", "Never"},
                    {"containers", Json::array({{{"name", "main"},
                                                 {"image", "busybox"},
                                                 {"command", {"sh", "-c", "echo hi"}}}})}}}}}}}};
  MergePatch(job["spec"], spec_overrides);
  return job;
}

class JobControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("job-controller-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    store_ = OpenStore("sqlite://" + (dir_ / "t.db").string(), clock_).value();
    JobControllerOptions options;
    options.backoff_base = seconds(10);
    controller_ = std::make_unique<JobController>(*store_, backend_, clock_, options);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Json Apply(Json job) {
    EXPECT_TRUE(JobController::ValidateJob(job, true).ok());
    return store_->Create(kJobType, job).value();
  }
  void Reconcile(const std::string& name) {
    auto r = controller_->Reconcile("default", name);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  Json GetJob(const std::string& name) { return store_->Get(kJobType, "default", name).value(); }
  std::vector<Json> Pods(const std::string& job) {
    ListOptions o;
    o.label_selector = "job-name=" + job;
    return store_->List(kPodType, "default", o).value().items;
  }
  std::string Condition(const Json& job) {
    for (const Json& c : job["status"].value("conditions", Json::array())) {
      if ((c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True") {
        return c["type"].get<std::string>() + "/" + c["reason"].get<std::string>();
      }
    }
    return "";
  }
  std::string Id(const Json& pod) { return JobController::WorkloadId(pod); }

  std::filesystem::path dir_;
  FakeClock clock_;
  FakeBackend backend_{clock_};
  std::unique_ptr<Store> store_;
  std::unique_ptr<JobController> controller_;
};

// "TYPE REASON MESSAGE" of every event recorded, sorted.
std::vector<std::string> EventReasonsIn(Store& store) {
  std::vector<std::string> out;
  const ListResult events = store.List(events::kEventType, "", {}).value();
  for (const Json& e : events.items) {
    out.push_back(TextAt(e, {"type"}) + " " + TextAt(e, {"reason"}) + " " + TextAt(e, {"message"}));
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(JobControllerTest, ASucceedingPodCompletesTheJob) {
  Apply(MakeJob("pi"));
  Reconcile("pi");
  auto pods = Pods("pi");
  ASSERT_EQ(pods.size(), 1u);
  ASSERT_EQ(backend_.launched().size(), 1u);
  EXPECT_EQ(backend_.launched()[0].containers[0].command,
            (std::vector<std::string>{"sh", "-c", "echo hi"}));
  EXPECT_EQ(GetJob("pi")["status"]["active"], 1);
  ASSERT_TRUE(backend_.Finish(Id(pods[0]), 0).ok());
  Reconcile("pi");
  Json job = GetJob("pi");
  EXPECT_EQ(Condition(job), "Complete/CompletionsReached");
  EXPECT_EQ(job["status"]["succeeded"], 1);
  EXPECT_EQ(job["status"]["active"], 0);
  EXPECT_EQ(Pods("pi")[0]["status"]["phase"], "Succeeded");
  Reconcile("pi");  // idempotent: nothing more is launched
  EXPECT_EQ(backend_.launched().size(), 1u);
  EXPECT_EQ(EventReasonsIn(*store_),
            (std::vector<std::string>{"Normal Completed Job completed",
                                      "Normal SuccessfulCreate Created pod: " + MetaName(pods[0])}))
      << "what kubectl describe job shows";
}

TEST_F(JobControllerTest, FailedPodsAreRetriedWithBackoffUntilTheLimit) {
  Apply(MakeJob("flaky", {{"backoffLimit", 1}}));
  Reconcile("flaky");
  ASSERT_TRUE(backend_.Finish(Id(Pods("flaky")[0]), 2).ok());
  Reconcile("flaky");
  EXPECT_EQ(Pods("flaky").size(), 1u) << "no retry before the 10 s back-off";
  clock_.Advance(seconds(11));
  Reconcile("flaky");
  auto pods = Pods("flaky");
  ASSERT_EQ(pods.size(), 2u);
  for (const Json& p : pods) {
    if (p["status"]["phase"] != "Failed") {
      ASSERT_TRUE(backend_.Finish(Id(p), 2).ok());
    }
  }
  Reconcile("flaky");
  Json job = GetJob("flaky");
  EXPECT_EQ(Condition(job), "Failed/BackoffLimitExceeded");
  EXPECT_EQ(job["status"]["failed"], 2);
  const std::vector<std::string> reasons = EventReasonsIn(*store_);
  EXPECT_NE(std::find(reasons.begin(), reasons.end(),
                      "Warning BackoffLimitExceeded Job has reached the specified backoff limit"),
            reasons.end());
}

TEST_F(JobControllerTest, OnFailurePodsRestartInPlaceAndTheirRestartsCountAgainstTheLimit) {
  Apply(MakeJob("flaky",
                {{"backoffLimit", 2}, {"template", {{"spec", {{"restartPolicy", "OnFailure"}}}}}}));
  Reconcile("flaky");
  ASSERT_EQ(backend_.launched().size(), 1u);
  EXPECT_EQ(backend_.launched()[0].restart_policy, RestartPolicy::kOnFailure);
  const std::string id = Id(Pods("flaky")[0]);

  ASSERT_TRUE(backend_.Finish(id, 2).ok());  // fails; the backend restarts it after a backoff
  Reconcile("flaky");
  auto pods = Pods("flaky");
  ASSERT_EQ(pods.size(), 1u) << "restarted in place: no new pod";
  EXPECT_EQ(pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
            "CrashLoopBackOff");
  EXPECT_EQ(Condition(GetJob("flaky")), "") << "1 failure, backoffLimit 2";
  ASSERT_TRUE(backend_.Restart(id).ok());
  Reconcile("flaky");
  EXPECT_EQ(Pods("flaky")[0]["status"]["containerStatuses"][0]["restartCount"], 1);
  EXPECT_EQ(Condition(GetJob("flaky")), "");

  ASSERT_TRUE(backend_.Finish(id, 2).ok());
  ASSERT_TRUE(backend_.Restart(id).ok());
  ASSERT_TRUE(backend_.Finish(id, 2).ok());  // the third failure: over the limit of 2
  Reconcile("flaky");
  Json job = GetJob("flaky");
  EXPECT_EQ(Condition(job), "Failed/BackoffLimitExceeded");
  EXPECT_EQ(Pods("flaky").size(), 1u);
  EXPECT_EQ(Pods("flaky")[0]["status"]["phase"], "Failed") << "its restarts are stopped";
  ASSERT_FALSE(backend_.stop_calls().empty());
  EXPECT_EQ(backend_.stop_calls().back().id, id);
}

TEST_F(JobControllerTest, AnOnFailurePodThatSucceedsAfterARestartCompletesTheJob) {
  Apply(MakeJob("once", {{"template", {{"spec", {{"restartPolicy", "OnFailure"}}}}}}));
  Reconcile("once");
  const std::string id = Id(Pods("once")[0]);
  ASSERT_TRUE(backend_.Finish(id, 1).ok());
  ASSERT_TRUE(backend_.Restart(id).ok());
  ASSERT_TRUE(backend_.Finish(id, 0).ok());
  Reconcile("once");
  EXPECT_EQ(Condition(GetJob("once")), "Complete/CompletionsReached");
  EXPECT_EQ(GetJob("once")["status"]["failed"], 0) << "no pod failed";
}

TEST_F(JobControllerTest, ParallelismAndCompletionsRunPodsSideBySide) {
  Apply(MakeJob("par", {{"parallelism", 2}, {"completions", 3}}));
  Reconcile("par");
  EXPECT_EQ(Pods("par").size(), 2u);
  ASSERT_TRUE(backend_.Finish(Id(Pods("par")[0]), 0).ok());
  Reconcile("par");
  EXPECT_EQ(Pods("par").size(), 3u);
  for (const Json& p : Pods("par")) {
    if (p["status"]["phase"] != "Succeeded") {
      ASSERT_TRUE(backend_.Finish(Id(p), 0).ok());
    }
  }
  Reconcile("par");
  EXPECT_EQ(Condition(GetJob("par")), "Complete/CompletionsReached");
  EXPECT_EQ(Pods("par").size(), 3u);
}

TEST_F(JobControllerTest, IndexedJobsGiveEachPodItsCompletionIndex) {
  Apply(MakeJob("idx", {{"parallelism", 2}, {"completions", 2}, {"completionMode", "Indexed"}}));
  Reconcile("idx");
  std::set<std::string> indexes;
  for (const WorkloadSpec& w : backend_.launched()) {
    for (const EnvVar& e : w.containers[0].env) {
      if (e.name == "JOB_COMPLETION_INDEX") indexes.insert(e.value);
    }
  }
  EXPECT_EQ(indexes, (std::set<std::string>{"0", "1"}));
}

TEST_F(JobControllerTest, ActiveDeadlineStopsRunningPodsAndFailsTheJob) {
  Apply(MakeJob("slow", {{"activeDeadlineSeconds", 5}}));
  Reconcile("slow");
  clock_.Advance(seconds(6));
  Reconcile("slow");
  EXPECT_EQ(Condition(GetJob("slow")), "Failed/DeadlineExceeded");
  ASSERT_EQ(backend_.stop_calls().size(), 1u);
  EXPECT_EQ(Pods("slow")[0]["status"]["phase"], "Failed");
}

TEST_F(JobControllerTest, TheLargestActiveDeadlineNeverOverflowsIntoAFailure) {
  Apply(MakeJob("patient", {{"activeDeadlineSeconds", std::numeric_limits<int64_t>::max()}}));
  Reconcile("patient");
  clock_.Advance(std::chrono::hours(24 * 365));
  Reconcile("patient");
  EXPECT_EQ(Condition(GetJob("patient")), "");
  EXPECT_TRUE(backend_.stop_calls().empty());
  EXPECT_EQ(GetJob("patient")["status"]["active"], 1);
}

TEST_F(JobControllerTest, AnEditedCompletionIndexThatIsNoNumberIsIgnored) {
  Apply(MakeJob("idx", {{"parallelism", 1}, {"completions", 1}, {"completionMode", "Indexed"}}));
  Reconcile("idx");
  for (const char* bad : {"x", "-1", "99999999999999999999", ""}) {
    Json pod = Pods("idx")[0];
    pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] = bad;
    ASSERT_TRUE(store_->Update(kPodType, pod).ok());
    Reconcile("idx");
  }
  EXPECT_EQ(Condition(GetJob("idx")), "");
}

TEST_F(JobControllerTest, TtlAfterFinishedDeletesTheJobWhosePodsNameItTheirOwner) {
  Json job = Apply(MakeJob("short", {{"ttlSecondsAfterFinished", 30}}));
  Reconcile("short");
  ASSERT_TRUE(backend_.Finish(Id(Pods("short")[0]), 0).ok());
  Reconcile("short");
  clock_.Advance(seconds(31));
  Reconcile("short");
  EXPECT_EQ(store_->Get(kJobType, "default", "short").status().code(), StatusCode::kNotFound);
  // The garbage collector deletes them (gc/): they name the Job, and block its foreground delete.
  const std::vector<Json> pods = Pods("short");
  ASSERT_EQ(pods.size(), 1u);
  const Json& ref = pods[0]["metadata"]["ownerReferences"][0];
  EXPECT_EQ(ref["uid"], MetaUid(job));
  EXPECT_EQ(ref["blockOwnerDeletion"], true);
}

TEST_F(JobControllerTest, TtlAfterFinishedLeavesAJobWithFinalizersMarkedForThem) {
  Json job = MakeJob("held", {{"ttlSecondsAfterFinished", 30}});
  job["metadata"]["finalizers"] = {"example.com/hold"};
  Apply(job);
  Reconcile("held");
  ASSERT_TRUE(backend_.Finish(Id(Pods("held")[0]), 0).ok());
  Reconcile("held");
  clock_.Advance(seconds(31));
  Reconcile("held");
  Reconcile("held");
  Json marked = GetJob("held");
  EXPECT_FALSE(TextAt(marked, {"metadata", "deletionTimestamp"}).empty());
  EXPECT_EQ(Pods("held").size(), 1u) << "its pods go with it, when its finalizers let it go";
}

TEST_F(JobControllerTest, AJobBeingDeletedStartsNoPods) {
  Json job = MakeJob("going", {{"completions", 2}});
  job["metadata"]["finalizers"] = {"example.com/hold"};
  job = Apply(job);
  Reconcile("going");
  ASSERT_TRUE(backend_.Finish(Id(Pods("going")[0]), 0).ok());
  job = GetJob("going");
  job["metadata"]["deletionTimestamp"] = FormatRfc3339(clock_.Now());
  ASSERT_TRUE(store_->Update(kJobType, job).ok());
  Reconcile("going");
  EXPECT_EQ(Pods("going").size(), 1u);
  EXPECT_EQ(GetJob("going")["status"]["succeeded"], 1);
}

TEST_F(JobControllerTest, AfterARestartRunningPodsAreReadoptedNotRelaunched) {
  Apply(MakeJob("survivor"));
  Reconcile("survivor");
  // A new controller (the server restarted) over the same store and backend.
  JobController restarted(*store_, backend_, clock_, JobControllerOptions());
  ASSERT_TRUE(restarted.Reconcile("default", "survivor").ok());
  EXPECT_EQ(backend_.launched().size(), 1u);
  ASSERT_TRUE(backend_.Finish(Id(Pods("survivor")[0]), 0).ok());
  ASSERT_TRUE(restarted.Reconcile("default", "survivor").ok());
  EXPECT_EQ(Condition(GetJob("survivor")), "Complete/CompletionsReached");
}

TEST_F(JobControllerTest, APodTheBackendLostCountsAsAFailedAttempt) {
  Apply(MakeJob("lost", {{"backoffLimit", 0}}));
  Reconcile("lost");
  auto pods = Pods("lost");
  ASSERT_TRUE(backend_.Remove(Id(pods[0])).ok());
  Reconcile("lost");
  EXPECT_EQ(Pods("lost")[0]["status"]["reason"], "Lost");
  EXPECT_EQ(Condition(GetJob("lost")), "Failed/BackoffLimitExceeded");
}

TEST_F(JobControllerTest, MissingSecretFailsTheAttemptWithAClearReason) {
  Json job = MakeJob("secretive", {{"backoffLimit", 0}});
  job["spec"]["template"]["spec"]["containers"][0]["env"] =
      Json::array({{{"name", "PASSWORD"},
                    {"valueFrom", {{"secretKeyRef", {{"name", "db"}, {"key", "password"}}}}}}});
  Apply(job);
  Reconcile("secretive");
  Json pod = Pods("secretive")[0];
  EXPECT_EQ(pod["status"]["reason"], "CreateContainerConfigError");
  EXPECT_NE(pod["status"]["message"].get<std::string>().find("secretKeyRef"), std::string::npos);
}

TEST(ValidateJob, RefusesWrongTypesNamingTheField) {
  Json job = MakeJob("x", {{"parallelism", "two"}});
  Status st = JobController::ValidateJob(job, true);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("spec.parallelism"), std::string::npos);

  job = MakeJob("x");
  job["spec"]["template"]["spec"]["containers"][0]["command"] = "echo hi";
  st = JobController::ValidateJob(job, true);
  EXPECT_NE(st.message().find("spec.template.spec.containers[0].command"), std::string::npos);

  job = MakeJob("x");
  job["spec"]["template"]["spec"]["restartPolicy"] = "Always";
  EXPECT_FALSE(JobController::ValidateJob(job, true).ok());

  job = MakeJob("x");
  ASSERT_TRUE(JobController::ValidateJob(job, true).ok());
  EXPECT_EQ(job["spec"]["completions"], 1);
  EXPECT_EQ(job["spec"]["parallelism"], 1);
  EXPECT_EQ(job["spec"]["backoffLimit"], 6);
}

}  // namespace
}  // namespace skiff::jobs
