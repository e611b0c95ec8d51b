"""A Profile's resourceQuotaSpec is held: object counts at every create (403 exceeded quota, as
Kubernetes answers), and a quota that is not one is refused naming its field."""
import json

from conftest import busybox_job_yaml

PROFILE = """
apiVersion: kubeflow.org/v1
kind: Profile
metadata:
  name: team-q
spec:
  owner: {{kind: User, name: quinn}}
  resourceQuotaSpec:
    hard:
{hard}
"""



def apply(skiff, tmp_path, text, check=True):
    path = tmp_path / "obj.yaml"
    path.write_text(text)
    return skiff.cli("apply", "-f", str(path), check=check)


def profile(hard):
    return PROFILE.format(hard="\n".join(f"      {k}: \"{v}\"" for k, v in hard.items()))


def test_a_create_past_a_count_is_forbidden_through_the_api_and_the_cli(skiff, tmp_path):
    apply(skiff, tmp_path, profile({"count/jobs.batch": 1, "requests.nvidia.com/gpu": 1}))
    apply(skiff, tmp_path, busybox_job_yaml("first", "true", "team-q"))

    res = apply(skiff, tmp_path, busybox_job_yaml("second", "true", "team-q"), check=False)
    assert res.returncode != 0
    assert "exceeded quota: profile team-q" in res.stderr, res.stderr
    assert "limited: count/jobs.batch=1" in res.stderr, res.stderr

    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "third", "namespace": "team-q"},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
               {"name": "main", "image": "busybox", "command": ["true"]}]}}}}
    r = skiff.http("POST", "/apis/batch/v1/namespaces/team-q/jobs", json=job)
    assert r.status_code == 403, r.text
    assert r.json()["reason"] == "Forbidden"
    assert "used: count/jobs.batch=1" in r.json()["message"]

    # Another namespace is not limited; a deleted job makes room.
    other = dict(job, metadata={"name": "third", "namespace": "default"})
    assert skiff.http("POST", "/apis/batch/v1/namespaces/default/jobs", json=other).status_code == 201
    skiff.cli("delete", "job", "first", "-n", "team-q")
    skiff.wait_for(lambda: skiff.http("POST", "/apis/batch/v1/namespaces/team-q/jobs",
                                      json=job).status_code == 201,
                   what="room for a job once the first is deleted")


def test_a_quota_that_is_not_one_is_refused_naming_the_field(skiff, tmp_path):
    res = apply(skiff, tmp_path, profile({"cpu": "lots"}), check=False)
    assert res.returncode != 0
    assert "spec.resourceQuotaSpec.hard[cpu]" in res.stderr, res.stderr
    r = skiff.http("POST", "/apis/kubeflow.org/v1/profiles", json={
        "apiVersion": "kubeflow.org/v1", "kind": "Profile", "metadata": {"name": "team-r"},
        "spec": {"owner": {"kind": "User", "name": "r"},
                 "resourceQuotaSpec": {"hard": {"../../x": "1"}}}})
    assert r.status_code == 422, r.text
    assert json.loads(r.text)["details"]["causes"][0]["field"].startswith(
        "spec.resourceQuotaSpec.hard")


def pods(skiff, ns):
    return json.loads(skiff.cli("get", "pods", "-n", ns, "-o", "json").stdout)["items"]


def pod_of(skiff, ns, job):
    for pod in pods(skiff, ns):
        if pod["metadata"].get("labels", {}).get("job-name") == job:
            return pod
    return None


def test_a_profile_at_its_pods_quota_waits_while_another_profile_runs(skiff, tmp_path,
                                                                      shared_dir):
    apply(skiff, tmp_path, profile({"pods": 1, "requests.storage": "5Gi"}))
    gate = shared_dir / "gate"
    apply(skiff, tmp_path, busybox_job_yaml(
        "holder", f"while [ ! -f {gate} ]; do sleep 0.1; done; echo held", "team-q"))
    skiff.wait_for(lambda: (pod_of(skiff, "team-q", "holder") or {}).get("status", {})
                   .get("phase") == "Running", what="the first job to run")
    apply(skiff, tmp_path, busybox_job_yaml("waiter", "echo waited", "team-q"))
    apply(skiff, tmp_path, busybox_job_yaml("elsewhere", "echo elsewhere"))

    # The other profile's job runs to the end while this profile's second job waits for its quota.
    skiff.wait_for(lambda: "elsewhere" in skiff.cli("logs", "job/elsewhere", check=False).stdout,
                   what="the other profile's job")
    waiting = skiff.wait_for(lambda: pod_of(skiff, "team-q", "waiter"), what="the waiter's pod")
    assert waiting["status"]["phase"] == "Pending", waiting["status"]
    assert "waiting for the quota of profile team-q: 1 of 1 workloads running" in \
        waiting["status"]["message"], waiting["status"]

    # The Profile says what is held and what is not.
    prof = json.loads(skiff.cli("get", "profile", "team-q", "-o", "json").stdout)
    cond = [c for c in prof["status"]["conditions"] if c["type"] == "QuotaEnforced"][0]
    assert cond["status"] == "False" and cond["message"] == "not held: requests.storage", cond

    gate.write_text("go")
    skiff.wait_for(lambda: "waited" in skiff.cli("logs", "job/waiter", "-n", "team-q",
                                                 check=False).stdout,
                   what="the waiting job to run once the first ended")


def test_under_a_memory_quota_a_pod_without_a_memory_limit_is_refused(skiff, tmp_path):
    apply(skiff, tmp_path, profile({"memory": "1Gi"}))
    apply(skiff, tmp_path, busybox_job_yaml("unbounded", "true", "team-q"))
    pod = skiff.wait_for(
        lambda: (p := pod_of(skiff, "team-q", "unbounded")) and
        p.get("status", {}).get("phase") == "Failed" and p, what="the pod to fail")
    assert "must set a memory limit" in pod["status"]["message"], pod["status"]
    bounded = busybox_job_yaml("bounded", "echo bounded", "team-q") + \
        "        resources: {limits: {memory: 256Mi}}\n"
    apply(skiff, tmp_path, bounded)
    skiff.wait_for(lambda: "bounded" in skiff.cli("logs", "job/bounded", "-n", "team-q",
                                                  check=False).stdout,
                   what="a job with a memory limit to run")
