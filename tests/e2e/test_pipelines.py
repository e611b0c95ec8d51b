"""KFP v2 pipelines end to end: corpus IR files run for real through `skiff run` on a server.

One server (and so one SKIFF_HOME with its cached Python environments) serves the whole module:
the first lightweight component installs kfp into a cached venv, later ones start at once.
"""
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import BINARY, Skiff

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))
import run_corpus  # noqa: E402


def corpus_dir():
    """The corpus's KFP IR folder ($SKIFF_CORPUS, see run_corpus.corpus_root); skips without it."""
    missing = run_corpus.corpus_missing()
    if missing:
        pytest.skip(missing)
    return run_corpus.default_corpus()


def ir(name):
    return os.path.join(corpus_dir(), name)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("pipelines") / "home"
    os.makedirs(home)
    s = Skiff(home)
    s.start()
    yield s
    s.stop()


def run(server, file, *params, name, check=True, extra=()):
    args = ["run", ir(file), "--name", name, *extra]
    for p in params:
        args += ["-p", p]
    res = server.cli(*args, check=check, timeout=300)
    return res


def get_run(server, name):
    return json.loads(server.cli("get", "pipelinerun", name, "-o", "json").stdout)


def tasks(doc):
    return doc["status"]["engine"]["tasks"]


def task(doc, path):
    t = tasks(doc)
    assert path in t, f"{path} not in {sorted(t)}"
    return t[path]


def params_of(doc, path):
    return task(doc, path).get("outputs", {}).get("parameters", {})


def artifact_text(uri):
    assert uri.startswith("file://"), uri
    with open(uri[len("file://"):]) as f:
        return f.read()


def test_add_numbers_outputs_the_sum(server):
    res = run(server, "add_numbers.yaml", "a=3", "b=4", name="add")
    assert re.search(r"Output = 7\b", res.stdout), res.stdout
    doc = get_run(server, "add")
    assert doc["status"]["state"] == "SUCCEEDED"
    assert doc["status"]["engine"]["outputs"]["parameters"]["Output"] == 7
    assert params_of(doc, "root.add-numbers")["Output"] == 7


def test_describe_shows_the_task_tree_and_logs_print_a_task_log(server):
    run(server, "add_numbers.yaml", "a=10", "b=5", name="add-describe", extra=["--no-cache"])
    described = server.cli("describe", "run", "add-describe").stdout
    assert "add-numbers" in described and "SUCCEEDED" in described, described
    logs = server.cli("logs", "run", "add-describe", "add-numbers").stdout
    assert logs.strip(), "empty task log"


def test_only_the_branch_matching_the_coin_runs(server):
    run(server, "flip_coin.yaml", name="coin")
    doc = get_run(server, "coin")
    assert doc["status"]["state"] == "SUCCEEDED"
    coin = params_of(doc, "root.flip-coin")["Output"]
    assert coin in ("heads", "tails")
    heads, tails = "root.condition-1", "root.condition-4"
    ran, skipped = (heads, tails) if coin == "heads" else (tails, heads)
    assert task(doc, ran)["state"] == "SUCCEEDED", tasks(doc)
    assert task(doc, skipped)["state"] == "SKIPPED", tasks(doc)
    # Inside the branch that ran, the nested condition on random-num is decided by its value.
    inner = [p for p in tasks(doc) if p.startswith(ran + ".") and "random-num" in p]
    assert inner, sorted(tasks(doc))


def test_parallel_for_fans_in_with_collected(server):
    run(server, "collected_parameters.yaml", name="collected")
    doc = get_run(server, "collected")
    assert doc["status"]["state"] == "SUCCEEDED"
    assert params_of(doc, "root.collecting-parameters")["Output"] == [
        "model_id_s1", "model_id_s2", "model_id_s3"]
    assert params_of(doc, "root.consume-ids")["Output"] == "completed"


def test_exit_handler_runs_after_a_failure_and_sees_the_final_status(server):
    res = run(server, "pipeline_with_task_final_status.yaml", name="final", check=False)
    assert res.returncode != 0, res.stdout
    doc = get_run(server, "final")
    assert doc["status"]["state"] == "FAILED"
    assert task(doc, "root.exit-op")["state"] == "SUCCEEDED"
    status = task(doc, "root.exit-op")["inputs"]["parameters"]["status"]
    assert status["state"] == "FAILED", status
    log = server.cli("logs", "run", "final", "exit-op").stdout
    assert "Pipeline status:  FAILED" in log, log


def test_retry_reruns_a_flaky_task_until_it_succeeds(server, shared_dir):
    counter = shared_dir / "counter"  # kept across the attempts (each has a /tmp of its own)
    run(server, "local_execution_pipeline_with_retry.yaml", f"counter_path={counter}",
        name="retry")
    doc = get_run(server, "retry")
    assert doc["status"]["state"] == "SUCCEEDED"
    flaky = [t for p, t in tasks(doc).items() if t.get("kind") == "CONTAINER"]
    assert len(flaky) == 1
    assert flaky[0]["attempt"] == 1, flaky[0]  # zero-based: the second attempt succeeded
    assert [a["state"] for a in flaky[0]["attempts"]] == ["FAILED", "SUCCEEDED"]
    assert flaky[0]["outputs"]["parameters"]["Output"] == "attempt=2"
    assert counter.read_text() == "2"


def test_artifacts_pass_between_tasks_through_their_uris(server):
    # mantle (a nested DAG) -> core-comp writes ds1="foo", ds2="bar" -> crust-comp reads them.
    run(server, "multiple_artifacts_namedtuple.yaml", name="artifacts")
    doc = get_run(server, "artifacts")
    assert doc["status"]["state"] == "SUCCEEDED"
    [core] = [t for p, t in tasks(doc).items()
              if t.get("kind") == "CONTAINER" and "ds1" in t.get("outputs", {}).get("artifacts", {})]
    [ds1] = core["outputs"]["artifacts"]["ds1"]
    [ds2] = core["outputs"]["artifacts"]["ds2"]
    assert artifact_text(ds1["uri"]) == "foo"
    assert artifact_text(ds2["uri"]) == "bar"
    crust = task(doc, "root.crust-comp")
    assert crust["state"] == "SUCCEEDED"
    [seen] = crust["inputs"]["artifacts"]["ds1"]
    assert seen["uri"] == ds1["uri"]


def test_nested_pipelines_map_inputs_and_outputs(server):
    run(server, "pipeline_in_pipeline.yaml", name="nested")
    doc = get_run(server, "nested")
    assert doc["status"]["state"] == "SUCCEEDED"
    containers = {p: t for p, t in tasks(doc).items() if t.get("kind") == "CONTAINER"}
    nested = [p for p in containers if p.count(".") >= 2]
    assert nested, sorted(containers)
    assert all(t["state"] == "SUCCEEDED" for t in containers.values())
    inner = [p for p in containers if p.endswith(".print-op1") and p.count(".") >= 2]
    assert inner
    inner_task = task(doc, inner[0])
    assert inner_task["outputs"]["parameters"]["Output"] == inner_task["inputs"]["parameters"]["msg"]


def test_a_rerun_is_cached_and_no_cache_runs_again(server):
    run(server, "add_numbers.yaml", "a=20", "b=22", name="cache-1")
    first = get_run(server, "cache-1")
    assert task(first, "root.add-numbers")["state"] == "SUCCEEDED"
    res = run(server, "add_numbers.yaml", "a=20", "b=22", name="cache-2")
    assert "CACHED" in res.stdout, res.stdout
    second = get_run(server, "cache-2")
    assert task(second, "root.add-numbers")["state"] == "CACHED"
    assert params_of(second, "root.add-numbers")["Output"] == 42
    run(server, "add_numbers.yaml", "a=20", "b=22", name="cache-3", extra=["--no-cache"])
    third = get_run(server, "cache-3")
    assert task(third, "root.add-numbers")["state"] == "SUCCEEDED"
    assert params_of(third, "root.add-numbers")["Output"] == 42


# A representative slice of the corpus, run the way tools/run_corpus.py runs all of it.
FAST_CORPUS = [
    "arguments_parameters.yaml",
    "artifact_crust.yaml",
    "artifacts_complex.yaml",
    "concat_message.yaml",
    "conditional_producer_and_consumers.yaml",
    "if_elif_else_complex.yaml",
    "cross_loop_after_topology.yaml",
    "dict_input.yaml",
    "container_no_input.yaml",
    "component_with_optional_inputs.yaml",
]


def test_createpvc_makes_a_claim_tasks_share_and_deletepvc_removes_it(server):
    # kfp-kubernetes CreatePVC -> producer writes to /data -> consumer reads it -> DeletePVC.
    res = run(server, "create_mount_delete_dynamic_pvc.yaml", name="pvc", extra=["--no-cache"])
    doc = get_run(server, "pvc")
    claim = params_of(doc, "root.createpvc")["name"]
    assert claim.endswith("-my-pvc"), claim
    assert params_of(doc, "root.consumer")["Output"] == "Hello world"
    assert task(doc, "root.deletepvc")["state"] == "SUCCEEDED"
    assert not os.path.exists(os.path.join(server.home, "volumes", "default", claim))
    # What has no local meaning (size, storage class, a snapshot source) is said, once.
    assert res.stdout.count("ignored: size, access_modes, storage_class_name") == 1, res.stdout
    assert "VolumeSnapshot" in res.stdout
    described = server.cli("describe", "pipelinerun", "pvc").stdout
    assert "Notes:\n  createpvc: claim " + claim in described, described


def test_a_busybox_image_runs_its_shell_as_busybox_ash(server):
    # Its command uses `[[ ... ]]`, which busybox's ash has and a POSIX sh such as dash lacks.
    run(server, "pipeline_with_concat_placeholder.yaml", name="ash")
    doc = get_run(server, "ash")
    assert task(doc, "root.component-with-concat-placeholder")["state"] == "SUCCEEDED"


def test_secrets_and_config_maps_come_from_the_store(server, tmp_path):
    fixtures = tmp_path / "fixtures.yaml"
    fixtures.write_text("""
apiVersion: v1
kind: Secret
metadata: {name: test-secret-1}
stringData: {username: user1}
---
apiVersion: v1
kind: Secret
metadata: {name: test-secret-2}
data: {password: cHN3MQ==}  # psw1
---
apiVersion: v1
kind: Secret
metadata: {name: test-secret-3}
stringData: {password: psw2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: my-cm}
data: {foo: bar}
""")
    server.cli("apply", "-f", str(fixtures))
    # The components assert the values: env vars from three Secrets (one named by a task
    # output), a Secret's keys as files, a ConfigMap as env.
    run(server, "pipeline_with_secret_as_env.yaml", name="secret-env")
    run(server, "pipeline_with_secret_as_volume.yaml", name="secret-vol")
    run(server, "config_map_as_env.yaml", name="cm-env")
    # A Secret that does not exist fails the task, naming it.
    res = run(server, "secret_as_env.yaml", name="no-secret", check=False, extra=["--no-cache"])
    assert res.returncode != 0
    assert "Secret 'my-secret'" in res.stdout and "not found" in res.stdout, res.stdout


def test_a_fast_slice_of_the_corpus_runs_to_success(server):
    failures = {}
    for file in FAST_CORPUS:
        docs = run_corpus.load(ir(file))
        reason = run_corpus.classify(docs)
        assert reason is None, f"{file}: {reason}"
        r = run_corpus.run_file(BINARY, server.home, ir(file),
                                run_corpus.parameters_for(file, docs[0]), 120, local=False)
        if r["result"] != "runs":
            failures[file] = r["reason"]
    assert not failures, failures
