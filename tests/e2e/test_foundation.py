"""Issue 4: the platform end to end through the real binary, its CLI and its REST API."""
import json
import os
import signal
import subprocess
import time

import requests

JOB = """
apiVersion: batch/v1
kind: Job
metadata:
  name: hello
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c"]
        args: ["echo hello-from-job $GREETING; echo to-stderr >&2"]
        env:
        - name: GREETING
          value: "skiff"
"""


def job_json(skiff, name, ns="default"):
    return json.loads(skiff.cli("get", "job", name, "-n", ns, "-o", "json").stdout)


def job_finished(skiff, name):
    job = job_json(skiff, name)
    for c in job.get("status", {}).get("conditions", []):
        if c["type"] in ("Complete", "Failed") and c["status"] == "True":
            return job
    return None


def test_apply_runs_a_job_to_completion_and_shows_its_logs(skiff, tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(JOB)
    out = skiff.cli("apply", "-f", str(path)).stdout
    assert "job.batch/hello created" in out
    job = skiff.wait_for(lambda: job_finished(skiff, "hello"), what="job hello to finish")
    assert [c["type"] for c in job["status"]["conditions"] if c["status"] == "True"][-1] == "Complete"
    assert job["status"]["succeeded"] == 1
    assert job["status"]["failed"] == 0
    assert "completionTime" in job["status"]
    logs = skiff.cli("logs", "job/hello").stdout
    assert "hello-from-job skiff" in logs
    assert "to-stderr" in logs
    # Any name of the kind works, as the kind's registration says it runs pods; its pod by name
    # too; a kind that runs no pods is refused by name.
    assert "hello-from-job skiff" in skiff.cli("logs", "jobs.batch/hello").stdout
    pod = skiff.http("GET", "/api/v1/namespaces/default/pods?labelSelector=job-name%3Dhello"
                     ).json()["items"][0]["metadata"]["name"]
    assert "hello-from-job skiff" in skiff.cli("logs", f"pod/{pod}").stdout
    refused = skiff.cli("logs", "configmap/hello", check=False)
    assert refused.returncode != 0 and "runs no pods" in refused.stderr
    table = skiff.cli("get", "jobs").stdout
    assert "hello" in table and "Complete" in table and "1/1" in table
    described = skiff.cli("describe", "job", "hello").stdout
    assert "1 Succeeded" in described and "Complete" in described
    # Applying the same file again changes nothing.
    assert "unchanged" in skiff.cli("apply", "-f", str(path)).stdout
    pods = json.loads(skiff.cli("get", "pods", "-l", "job-name=hello", "-o", "json").stdout)
    assert len(pods["items"]) == 1
    assert pods["items"][0]["status"]["phase"] == "Succeeded"
    skiff.cli("delete", "job", "hello")
    skiff.wait_for(lambda: not json.loads(skiff.cli("get", "pods", "-o", "json").stdout)["items"],
                   what="the job's pods to be deleted with it")


def test_failed_attempts_are_retried_up_to_the_backoff_limit(skiff, tmp_path):
    path = tmp_path / "fail.yaml"
    path.write_text(JOB.replace("name: hello", "name: flaky")
                    .replace("backoffLimit: 2", "backoffLimit: 1")
                    .replace('args: ["echo hello-from-job $GREETING; echo to-stderr >&2"]',
                             'args: ["echo attempt; exit 3"]'))
    skiff.cli("apply", "-f", str(path))
    job = skiff.wait_for(lambda: job_finished(skiff, "flaky"), what="job flaky to fail")
    failed = [c for c in job["status"]["conditions"] if c["type"] == "Failed"]
    assert failed and failed[0]["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 2
    pods = json.loads(skiff.cli("get", "pods", "-l", "job-name=flaky", "-o", "json").stdout)["items"]
    assert len(pods) == 2
    for p in pods:
        assert p["status"]["phase"] == "Failed"
        term = p["status"]["containerStatuses"][0]["state"]["terminated"]
        assert term["exitCode"] == 3


def test_an_on_failure_pod_restarts_in_place_until_it_succeeds(skiff, tmp_path):
    """restartPolicy OnFailure: the container starts again in its pod (after Kubernetes' 10 s
    CrashLoopBackOff), keeping its working directory; the restart shows in the pod's status."""
    path = tmp_path / "retry.yaml"
    path.write_text(JOB.replace("name: hello", "name: retry")
                    .replace("restartPolicy: Never", "restartPolicy: OnFailure")
                    .replace('args: ["echo hello-from-job $GREETING; echo to-stderr >&2"]',
                             'args: ["if [ -f tried ]; then echo second-run; exit 0; fi; '
                             'touch tried; echo first-run; exit 3"]'))
    skiff.cli("apply", "-f", str(path))
    job = skiff.wait_for(lambda: job_finished(skiff, "retry"), timeout=60,
                         what="job retry to finish")
    assert [c["type"] for c in job["status"]["conditions"] if c["status"] == "True"][-1] \
        == "Complete", job["status"]
    assert job["status"].get("failed", 0) == 0
    pods = json.loads(skiff.cli("get", "pods", "-l", "job-name=retry", "-o", "json").stdout)["items"]
    assert len(pods) == 1, "restarted in place, not in a new pod"
    assert pods[0]["status"]["containerStatuses"][0]["restartCount"] == 1
    logs = skiff.cli("logs", "job/retry").stdout
    assert "first-run" in logs and "second-run" in logs, logs


def test_user_without_a_role_is_refused_every_verb(skiff, tmp_path):
    skiff.cli("user", "create", "bob")
    bob = skiff.cli("token", "create", "--user", "bob").stdout.strip()
    assert bob.startswith("skf_")
    path = tmp_path / "job.yaml"
    path.write_text(JOB)
    skiff.cli("apply", "-f", str(path))
    base = "/apis/batch/v1/namespaces/default/jobs"
    body = json.dumps({"apiVersion": "batch/v1", "kind": "Job",
                       "metadata": {"name": "x", "namespace": "default"}, "spec": {}})
    calls = [("GET", base, None), ("GET", base + "/hello", None),
             ("GET", base + "/does-not-exist", None), ("POST", base, body),
             ("PUT", base + "/hello", body), ("DELETE", base + "/hello", None),
             ("PATCH", base + "/hello", json.dumps({"spec": {"suspend": True}})),
             ("GET", base + "?watch=true", None),
             ("GET", "/api/v1/namespaces/default/pods", None)]
    for method, p, data in calls:
        headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
        r = skiff.http(method, p, token=bob, data=data, headers=headers)
        assert r.status_code == 403, (method, p, r.status_code, r.text)
        assert "hello" not in r.text
    for args in (["get", "jobs"], ["get", "job", "hello"], ["describe", "job", "hello"],
                 ["logs", "job/hello"], ["delete", "job", "hello"], ["apply", "-f", str(path)]):
        res = skiff.cli(*args, token=bob, check=False)
        assert res.returncode != 0, args
    # The admin still sees the job: nothing was deleted by bob.
    assert job_json(skiff, "hello")["metadata"]["name"] == "hello"
    # In a profile bob owns, bob may work.
    skiff.cli("profile", "create", "team-bob", "--owner", "bob")
    skiff.cli("apply", "-n", "team-bob", "-f", str(path), token=bob)
    out = skiff.cli("get", "jobs", "-n", "team-bob", token=bob).stdout
    assert "hello" in out
    # A viewer may read but not write.
    skiff.cli("user", "create", "carol")
    carol = skiff.cli("token", "create", "--user", "carol").stdout.strip()
    skiff.cli("role", "grant", "carol", "--role", "view", "-n", "team-bob", token=bob)
    assert skiff.http("GET", "/apis/batch/v1/namespaces/team-bob/jobs", token=carol).status_code == 200
    assert skiff.http("DELETE", "/apis/batch/v1/namespaces/team-bob/jobs/hello",
                      token=carol).status_code == 403


def test_bad_input_gets_clear_4xx_errors(skiff, tmp_path):
    base = "/apis/batch/v1/namespaces/default/jobs"
    r = skiff.http("POST", base, data="metadata: {name: x\nspec: [",
                   headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400 and "line" in r.json()["message"]
    r = skiff.http("POST", "/apis/example.com/v1/namespaces/default/widgets",
                   data=json.dumps({"apiVersion": "example.com/v1", "kind": "Widget",
                                    "metadata": {"name": "w"}}))
    assert r.status_code == 404 and "widgets" in r.json()["message"]
    bad = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "bad"},
           "spec": {"parallelism": "two", "template": {"spec": {"restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "x", "command": ["true"]}]}}}}
    r = skiff.http("POST", base, data=json.dumps(bad))
    # A field of the wrong type is a 422 Invalid naming the field, as Kubernetes answers.
    assert r.status_code == 422 and "spec.parallelism" in r.json()["message"]
    assert r.json()["reason"] == "Invalid"
    assert r.json()["details"]["causes"][0]["field"] == "spec.parallelism"
    r = skiff.http("GET", base, token=None)
    assert r.status_code == 401
    r = skiff.http("GET", base, token="skf_nope_nope")
    assert r.status_code == 401
    # The CLI reports a malformed file with its name and line, and exits non-zero.
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: [x\n")
    res = skiff.cli("apply", "-f", str(path), check=False)
    assert res.returncode != 0 and "broken.yaml" in res.stderr and "line" in res.stderr
    res = skiff.cli("apply", "-f", str(tmp_path / "missing.yaml"), check=False)
    assert res.returncode != 0 and "missing.yaml" in res.stderr


def test_health_and_metrics(skiff):
    assert requests.get(skiff.url + "/healthz", timeout=5).status_code == 200
    assert skiff.http("GET", "/metrics", token=None).status_code == 401
    r = skiff.http("GET", "/metrics")
    assert r.status_code == 200
    assert "skiff_http_requests_total" in r.text
    config = skiff.cli("config").stdout
    assert skiff.url in config and "admin-token" in config
    mode = os.stat(os.path.join(skiff.home, "admin-token")).st_mode & 0o777
    assert mode == 0o600


def test_kill9_mid_job_then_restart_completes_with_history(skiff, tmp_path, shared_dir):
    # Attempts share files through a volume (each has a /tmp of its own).
    shared = shared_dir
    marker = "/tmp/shared/first-attempt-done"
    path = tmp_path / "job.yaml"
    path.write_text(f"""
apiVersion: batch/v1
kind: Job
metadata:
  name: survivor
spec:
  backoffLimit: 3
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c"]
        args: ["if [ -f {marker} ]; then sleep 4; echo second-attempt-finished; else touch {marker}; exit 1; fi"]
        volumeMounts:
        - name: shared
          mountPath: /tmp/shared
      volumes:
      - name: shared
        hostPath:
          path: {shared}
""")
    skiff.cli("apply", "-f", str(path))

    def second_attempt_running():
        pods = json.loads(skiff.cli("get", "pods", "-l", "job-name=survivor", "-o", "json").stdout)["items"]
        return len(pods) == 2 and any(p["status"].get("phase") == "Running" for p in pods)

    skiff.wait_for(second_attempt_running, what="the second attempt to run")
    skiff.kill9()
    skiff.start()
    job = skiff.wait_for(lambda: job_finished(skiff, "survivor"), what="job survivor to finish")
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"])
    assert job["status"]["succeeded"] == 1
    assert job["status"]["failed"] == 1
    pods = json.loads(skiff.cli("get", "pods", "-l", "job-name=survivor", "-o", "json").stdout)["items"]
    assert sorted(p["status"]["phase"] for p in pods) == ["Failed", "Succeeded"]
    assert "second-attempt-finished" in skiff.cli("logs", "job/survivor").stdout


def test_sigterm_stops_cleanly_and_leaves_no_process(skiff, tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text(JOB.replace("name: hello", "name: long")
                    .replace('args: ["echo hello-from-job $GREETING; echo to-stderr >&2"]',
                             'args: ["sleep 300 # skiff-e2e-long-sleeper"]'))
    skiff.cli("apply", "-f", str(path))
    skiff.wait_for(lambda: job_json(skiff, "long").get("status", {}).get("ready") == 1,
                   what="the long job to run")
    assert subprocess.run(["pgrep", "-f", "skiff-e2e-long-sleeper"], capture_output=True).returncode == 0
    assert skiff.stop(signal.SIGTERM) == 0
    assert not os.path.exists(os.path.join(skiff.home, "server.json"))
    time.sleep(0.2)
    assert subprocess.run(["pgrep", "-f", "skiff-e2e-long-sleeper"], capture_output=True).returncode != 0


def test_a_truncated_store_is_refused_not_taken_for_a_new_installation(skiff):
    token = skiff.token
    skiff.stop()
    db = os.path.join(skiff.home, "skiff.db")
    for suffix in ("-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    open(db, "w").close()  # truncated to 0 bytes
    try:
        skiff.start(timeout=20)
        raise AssertionError("skiff up started on an empty store")
    except RuntimeError as e:
        assert "exists but is empty" in str(e), str(e)
    assert os.path.getsize(db) == 0, "nothing was written into it"
    with open(os.path.join(skiff.home, "admin-token")) as f:
        assert f.read().strip() == token, "no new admin token was minted"


def test_a_module_setting_must_be_what_its_module_reads(tmp_path):
    from conftest import BINARY
    help_text = subprocess.run([BINARY, "up", "--help"], capture_output=True, text=True,
                               timeout=30).stdout
    assert "--job-backoff-ms" in help_text and "SKIFF_JOB_BACKOFF_MS" in help_text, help_text
    for bad in ("abc", "-5", "1.5"):
        res = subprocess.run([BINARY, "up", "--port", "0", "--home", str(tmp_path),
                              "--job-backoff-ms", bad], capture_output=True, text=True, timeout=30)
        assert res.returncode != 0, bad
        assert "--job-backoff-ms: not a non-negative integer" in res.stderr, res.stderr
        # The same setting from the environment is checked the same way.
        res = subprocess.run([BINARY, "up", "--port", "0", "--home", str(tmp_path)],
                             env={**os.environ, "SKIFF_JOB_BACKOFF_MS": bad},
                             capture_output=True, text=True, timeout=30)
        assert res.returncode != 0, bad
        assert "not a non-negative integer" in res.stderr, res.stderr
