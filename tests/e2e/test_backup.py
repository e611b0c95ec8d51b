"""`skiff backup` while the platform runs, `skiff restore` into a fresh home elsewhere: the
restored platform has every object (same uids and versions), its Secrets read, its users' tokens
work, its pods' logs read, and its artifacts are where its runs say."""
import json
import os
import stat

from conftest import Skiff
from test_lineage import PIPELINE

KINDS = ["profiles", "users", "apitokens", "rolebindings", "secrets", "jobs", "pods",
         "pipelineruns", "usagerecords"]

SECRET = """
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: team-b}
stringData: {password: s3cret-value}
"""

JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: hello, namespace: team-b}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox, command: [sh, -c, echo hello-from-the-job]}
"""


def everything(server):
    """(kind, namespace, name) -> (uid, resourceVersion) of every object of KINDS."""
    seen = {}
    for kind in KINDS:
        items = json.loads(server.cli("get", kind, "-A", "-o", "json").stdout)["items"]
        for o in items:
            m = o["metadata"]
            seen[(kind, m.get("namespace", ""), m["name"])] = (m["uid"], m["resourceVersion"])
    return seen


def test_a_backup_taken_online_restores_into_a_fresh_home_with_everything(skiff, tmp_path):
    skiff.cli("user", "create", "bob")
    skiff.cli("profile", "create", "team-b", "--owner", "bob")
    for text, name in ((SECRET, "secret.yaml"), (JOB, "job.yaml")):
        (tmp_path / name).write_text(text)
        skiff.cli("apply", "-f", str(tmp_path / name))
    bob = skiff.cli("token", "create", "--user", "bob").stdout.strip().split()[-1]
    ir = tmp_path / "lineage.yaml"
    ir.write_text(PIPELINE)
    skiff.cli("run", str(ir), "--name", "lin-1", timeout=300)
    skiff.wait_for(lambda: "hello-from-the-job" in skiff.cli(
        "logs", "job/hello", "-n", "team-b", check=False).stdout, what="the job's output")
    before = everything(skiff)
    assert len(before) >= 8, before

    # Online: the server is up while the backup is taken.
    backup = tmp_path / "backup"
    out = skiff.cli("backup", str(backup)).stdout
    assert "store:" in out and "artifacts:" in out and "backup complete" in out, out
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o700
    manifest = json.loads((backup / "backup.json").read_text())
    assert manifest["store"]["objects"] >= len(before)
    skiff.stop()

    home = tmp_path / "elsewhere" / "home"
    out = skiff.cli("restore", str(backup), "--home", str(home)).stdout
    assert "restore complete" in out, out
    again = skiff.cli("restore", str(backup), "--home", str(home), check=False)
    assert again.returncode != 0 and "holds files already" in again.stderr, again.stderr

    restored = Skiff(home)
    restored.start()
    try:
        after = everything(restored)
        missing = {k: v for k, v in before.items() if after.get(k) != v}
        assert not missing, missing
        secret = json.loads(restored.cli("get", "secret", "db", "-n", "team-b", "-o",
                                         "json").stdout)
        assert secret["stringData"]["password"] == "s3cret-value"
        assert restored.http("GET", "/apis/batch/v1/namespaces/team-b/jobs",
                             token=bob).status_code == 200
        assert "hello-from-the-job" in restored.cli("logs", "job/hello", "-n", "team-b").stdout

        listed = json.loads(restored.cli("get", "artifacts", "-o", "json").stdout)
        [artifact] = [a for a in listed["items"] if a["type"] == "system.Dataset"]
        assert artifact["uri"].startswith(f"file://{home}/artifacts/"), artifact
        with open(artifact["uri"][len("file://"):]) as f:
            assert f.read() == "hello\n"
        # The restored platform runs pipelines (in a home elsewhere the cache starts afresh: its
        # keys hold the artifacts' paths).
        second = restored.cli("run", str(ir), "--name", "lin-2", timeout=300)
        assert "run default/lin-2 SUCCEEDED" in second.stdout, second.stdout
    finally:
        restored.stop()
