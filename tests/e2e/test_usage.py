"""Usage accounting end to end: a Job that burns a known amount of CPU is accounted to its
profile within 20 % (its own measure of its CPU time is the reference), the figures survive a
server restart and the Job's deletion, /metrics exposes them, `skiff usage` and `skiff describe`
report them (with their cost once SKIFF_HOME has a price table), and a user cannot write them."""
import json

BURN = """
apiVersion: batch/v1
kind: Job
metadata:
  name: burn
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["python3", "-c"]
        args:
        - |
          import time
          block = bytearray(48 << 20)
          for i in range(0, len(block), 4096): block[i] = 1
          start = time.process_time()
          while time.process_time() - start < 1.5: pass
          print("cpu", time.process_time())
"""

RECORDS = "/apis/skiff.dev/v1alpha1/namespaces/default/usagerecords"


def record(skiff, name="job.burn"):
    r = skiff.http("GET", f"{RECORDS}/{name}")
    return r.json() if r.status_code == 200 else None


def test_a_jobs_cpu_and_memory_are_accounted_to_its_profile(skiff, tmp_path):
    path = tmp_path / "burn.yaml"
    path.write_text(BURN)
    skiff.cli("apply", "-f", str(path))
    skiff.wait_for(lambda: "cpu " in skiff.cli("logs", "job/burn", check=False).stdout,
                   timeout=90, what="the job to print its CPU time")
    measured = float(skiff.cli("logs", "job/burn").stdout.split("cpu ")[1].split()[0])
    done = skiff.wait_for(
        lambda: (r := record(skiff)) and r["status"].get("running") == 0
        and r["status"].get("cpuSeconds", 0) > 0 and r,
        timeout=60, what="the usage record of the finished job")
    status = done["status"]
    print(f"CPU measured by the job {measured:.3f} s, recorded {status['cpuSeconds']:.3f} s; "
          f"peak memory {status['peakMemoryBytes'] >> 20} MiB")
    assert done["spec"]["owner"] == {"kind": "Job", "name": "burn"}
    assert abs(status["cpuSeconds"] - measured) <= 0.2 * measured, (status, measured)
    assert status["peakMemoryBytes"] >= 48 << 20, status
    assert status["wallSeconds"] >= 1.0, status

    # Per resource, kind and profile, as a table and as JSON.
    table = skiff.cli("usage").stdout
    assert table.split()[:3] == ["PROFILE", "KIND", "NAME"] and "burn" in table, table
    by_profile = json.loads(skiff.cli("usage", "--by", "profile", "-o", "json").stdout)
    assert by_profile["items"][0]["profile"] == "default"
    assert abs(by_profile["items"][0]["cpuSeconds"] - status["cpuSeconds"]) < 1e-6
    by_kind = json.loads(skiff.cli("usage", "--by", "kind", "-A", "-o", "json").stdout)
    assert [i["kind"] for i in by_kind["items"]] == ["Job"]
    assert "--since" in skiff.cli("usage", "--since", "banana", check=False).stderr

    described = skiff.cli("describe", "job", "burn").stdout
    assert "Usage:" in described and "CPU-seconds" in described and "Cost:" not in described, \
        described

    # The figures outlive a restart and the job itself, and /metrics shows them. A price table
    # given before the restart turns them into cost.
    skiff.stop()
    with open(f"{skiff.home}/prices.yaml", "w") as f:
        f.write("currency: EUR\ncpuHour: 36\nmemoryGiBHour: 0.5\n")
    skiff.start()
    skiff.cli("delete", "job", "burn")
    skiff.wait_for(lambda: skiff.http("GET", "/apis/batch/v1/namespaces/default/jobs/burn")
                   .status_code == 404, what="the job to go")
    kept = skiff.wait_for(lambda: (r := record(skiff)) and "cost" in r["status"] and r,
                          what="the record priced after the restart")
    assert abs(kept["status"]["cpuSeconds"] - status["cpuSeconds"]) < 1e-6, kept["status"]
    expected = (status["cpuSeconds"] / 3600 * 36
                + status["memoryByteSeconds"] / (1 << 30) / 3600 * 0.5)
    assert abs(kept["status"]["cost"] - expected) < 1e-9 and kept["status"]["currency"] == "EUR"
    table = skiff.cli("usage").stdout
    assert table.split("\n")[0].split()[-1] == "COST" and " EUR" in table, table
    priced = json.loads(skiff.cli("usage", "-o", "json").stdout)["items"][0]
    assert abs(priced["cost"] - expected) < 1e-9, priced
    line = skiff.wait_for(lambda: next(
        (l for l in skiff.http("GET", "/metrics").text.splitlines()
         if l.startswith("skiff_usage_cpu_seconds_total") and 'name="burn"' in l), None),
        what="the usage counter in /metrics")
    assert 'profile="default"' in line and 'kind="Job"' in line, line
    assert abs(float(line.split()[-1]) - status["cpuSeconds"]) < 0.01, line

    # Usage is the platform's to write: a profile's own editor cannot change or delete it.
    skiff.cli("user", "create", "eve")
    eve = skiff.cli("token", "create", "--user", "eve").stdout.strip()
    skiff.cli("role", "grant", "eve", "--role", "edit", "-n", "default")
    forged = dict(kept, status={**kept["status"], "cpuSeconds": 0})
    for method, url, body in (("PUT", f"{RECORDS}/job.burn", forged),
                              ("DELETE", f"{RECORDS}/job.burn", None),
                              ("POST", RECORDS, {**forged, "metadata": {"name": "job.fake"}})):
        r = skiff.http(method, url, token=eve, json=body) if body else \
            skiff.http(method, url, token=eve)
        assert r.status_code == 403 and "written by the platform" in r.json()["message"], r.text
    assert skiff.http("GET", f"{RECORDS}/job.burn", token=eve).status_code == 200


def burner_ir(seconds):
    """A two-task pipeline whose tasks each burn `seconds` of CPU in a shell image."""
    burn = ("import time\nstart = time.process_time()\n"
            f"while time.process_time() - start < {seconds}: pass\n"
            "print('cpu', time.process_time())\n")
    executor = {"container": {"image": "alpine", "command": ["python3", "-c", burn]}}
    return {
        "pipelineInfo": {"name": "burner"},
        "schemaVersion": "2.1.0", "sdkVersion": "kfp-2.14.3",
        "root": {"dag": {"tasks": {
            "first": {"taskInfo": {"name": "first"}, "componentRef": {"name": "comp-burn"}},
            "second": {"taskInfo": {"name": "second"}, "componentRef": {"name": "comp-burn"},
                       "dependentTasks": ["first"]}}}},
        "components": {"comp-burn": {"executorLabel": "exec-burn"}},
        "deploymentSpec": {"executors": {"exec-burn": executor}},
    }


def test_a_pipeline_runs_tasks_are_accounted_to_the_run(skiff):
    run = {"apiVersion": "pipelines.kubeflow.org/v2beta1", "kind": "PipelineRun",
           "metadata": {"name": "burner"},
           "spec": {"pipelineSpec": burner_ir(0.6), "enableCaching": False}}
    r = skiff.http("POST", "/apis/pipelines.kubeflow.org/v2beta1/namespaces/default/pipelineruns",
                   json=run)
    assert r.status_code == 201, r.text
    done = skiff.wait_for(
        lambda: (r := record(skiff, "pipelinerun.burner")) and r["status"].get("workloads") == 2
        and r["status"].get("running") == 0 and r,
        timeout=90, what="the run's usage record with both tasks ended")
    status = done["status"]
    assert done["spec"]["owner"] == {"kind": "PipelineRun", "name": "burner"}
    # Each task's own measure of its CPU time is the reference.
    measured = sum(float(skiff.cli("logs", "run", "burner", task).stdout.split("cpu ")[1].split()[0])
                   for task in ("first", "second"))
    print(f"pipeline run: tasks measured {measured:.3f} s, recorded {status['cpuSeconds']:.3f} s")
    assert abs(status["cpuSeconds"] - measured) <= 0.2 * measured, (status, measured)
    rows = json.loads(skiff.cli("usage", "-o", "json").stdout)["items"]
    assert {"kind": "PipelineRun", "name": "burner"}.items() <= \
        next(i for i in rows if i["kind"] == "PipelineRun").items()
