"""Tenancy through the CLI and below the object API, generated from the served kinds as
test_schemas' API test is (a kind added later is covered): a user with no role in a profile, and
a viewer, get nothing of it by `skiff get/describe/delete`, by a list across all namespaces, by
the logs of its pods and runs, or by its artifacts' lineage."""
import json

from test_lineage import PIPELINE
from test_schemas import CRDS, collection_path, creatable

JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: private-job, namespace: default}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox, command: [sh, -c, echo private-output-marker]}
"""


def users(skiff):
    skiff.cli("user", "create", "outsider")
    skiff.cli("user", "create", "viewer")
    outsider = skiff.cli("token", "create", "--user", "outsider").stdout.strip()
    viewer = skiff.cli("token", "create", "--user", "viewer").stdout.strip()
    skiff.cli("role", "grant", "viewer", "--role", "view", "-n", "default")
    return outsider, viewer


def test_every_namespaced_kind_is_kept_from_outsiders_through_the_cli(skiff):
    outsider, viewer = users(skiff)
    crds = skiff.http("GET", CRDS).json()["items"]
    made = [(crd, url) for crd, url in creatable(skiff, crds, "cli-target")
            if crd["spec"]["scope"] == "Namespaced"]
    assert len(made) >= 5, [c["metadata"]["name"] for c, _ in made]
    failures = []
    for crd, url in made:
        kind = crd["spec"]["names"]["kind"]
        plural = crd["spec"]["names"]["plural"]
        if crd["spec"]["group"]:
            plural += "." + crd["spec"]["group"]
        # Across all namespaces: refused, or a list without the object.
        everywhere = collection_path(crd, "x").replace("/namespaces/x", "")
        for who, token in (("outsider", outsider), ("viewer", viewer)):
            r = skiff.http("GET", everywhere, token=token)
            if r.status_code not in (200, 403) or "cli-target" in r.text:
                failures.append(f"{kind} {who} list everywhere: {r.status_code} {r.text[:120]}")
        for args in (("get", plural, "cli-target", "-n", "default"),
                     ("get", plural, "-n", "default"),
                     ("describe", plural, "cli-target", "-n", "default"),
                     ("delete", plural, "cli-target", "-n", "default")):
            res = skiff.cli(*args, token=outsider, check=False)
            if res.returncode == 0 or "cli-target" in res.stdout:
                failures.append(f"{kind} outsider skiff {' '.join(args)}: {res.returncode} "
                                f"{res.stdout[:120]} {res.stderr[:120]}")
        res = skiff.cli("get", plural, "-A", token=outsider, check=False)
        if "cli-target" in res.stdout:
            failures.append(f"{kind} outsider skiff get -A: {res.stdout[:120]}")
        res = skiff.cli("delete", plural, "cli-target", "-n", "default", token=viewer, check=False)
        if res.returncode == 0:
            failures.append(f"{kind} viewer skiff delete: deleted")
        if skiff.http("GET", url).status_code != 200:
            failures.append(f"{kind}: gone after the refused deletes")
    assert not failures, "\n".join(failures[:40])


def test_logs_and_artifacts_are_kept_from_outsiders(skiff, tmp_path):
    outsider, viewer = users(skiff)
    (tmp_path / "job.yaml").write_text(JOB)
    skiff.cli("apply", "-f", str(tmp_path / "job.yaml"))
    skiff.wait_for(lambda: "private-output-marker" in skiff.cli(
        "logs", "job/private-job", check=False).stdout, what="the job's log")
    ir = tmp_path / "lineage.yaml"
    ir.write_text(PIPELINE)
    skiff.cli("run", str(ir), "--name", "private-run", timeout=300)
    pod = json.loads(skiff.cli("get", "pods", "-o", "json").stdout)["items"][0]["metadata"]["name"]

    attempts = [
        ("logs", "job/private-job"), ("logs", pod), ("logs", "run", "private-run", "producer"),
        ("get", "artifacts"), ("get", "executions", "producer"),
    ]
    for args in attempts:
        res = skiff.cli(*args, "-n", "default", token=outsider, check=False)
        assert res.returncode != 0, (args, res.stdout)
        assert "private-output-marker" not in res.stdout and "hello" not in res.stdout, args
    for path in (f"/api/v1/namespaces/default/pods/{pod}/log",
                 "/apis/pipelines.kubeflow.org/v2beta1/namespaces/default/pipelineruns/"
                 "private-run/log?task=producer"):
        r = skiff.http("GET", path, token=outsider)
        assert r.status_code == 403 and "private-output-marker" not in r.text, (path, r.text)
    # A viewer of the profile reads its logs, as Kubernetes' view role reads pods/log.
    assert "private-output-marker" in skiff.cli("logs", "job/private-job", "-n", "default",
                                               token=viewer).stdout
