"""A Profile's resourceQuotaSpec is held: object counts at every create (403 exceeded quota, as
Kubernetes answers), and a quota that is not one is refused naming its field."""
import json

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

JOB = """
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  namespace: team-q
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "{command}"]
"""


def apply(skiff, tmp_path, text, check=True):
    path = tmp_path / "obj.yaml"
    path.write_text(text)
    return skiff.cli("apply", "-f", str(path), check=check)


def profile(hard):
    return PROFILE.format(hard="\n".join(f"      {k}: \"{v}\"" for k, v in hard.items()))


def test_a_create_past_a_count_is_forbidden_through_the_api_and_the_cli(skiff, tmp_path):
    apply(skiff, tmp_path, profile({"count/jobs.batch": 1, "requests.nvidia.com/gpu": 1}))
    apply(skiff, tmp_path, JOB.format(name="first", command="true"))

    res = apply(skiff, tmp_path, JOB.format(name="second", command="true"), check=False)
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
