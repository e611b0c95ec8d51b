"""kill -9 of `skiff up` in the middle of a pipeline run, then a restart: the run completes, finished
tasks are not run again and the running one is re-adopted, not started twice.

The tasks are lightweight Python components, so they are forked from the warm interpreter of
their environment; the restarted server watches the task that outlived the old one.
"""
import json
import os

import pytest
import yaml

kfp = pytest.importorskip("kfp")
from kfp import compiler, dsl  # noqa: E402

FIRST_RUN_TIMEOUT = 900  # the first lightweight component builds a venv with kfp in it


@dsl.component(base_image="python:3.11")
def step(x: int, marker_dir: str, seconds: int) -> int:
    import os
    import time
    import uuid
    # One file per execution of this task: the test counts them.
    open(os.path.join(marker_dir, f"ran-{x}-{uuid.uuid4().hex}"), "w").close()
    if seconds:
        open(os.path.join(marker_dir, f"sleeping-{x}"), "w").close()
    time.sleep(seconds)
    return x + 1


@dsl.pipeline(name="restart-chain")
def restart_chain(marker_dir: str) -> int:
    a = step(x=0, marker_dir=marker_dir, seconds=0).set_caching_options(False)
    b = step(x=a.output, marker_dir=marker_dir, seconds=6).set_caching_options(False)
    c = step(x=b.output, marker_dir=marker_dir, seconds=0).set_caching_options(False)
    return c.output


def get_run(skiff, name):
    return json.loads(skiff.cli("get", "pipelinerun", name, "-o", "json").stdout)


def test_kill9_mid_run_then_restart_finishes_without_running_a_task_twice(skiff, tmp_path,
                                                                          shared_dir):
    package = tmp_path / "chain.yaml"
    compiler.Compiler().compile(restart_chain, str(package))
    markers = shared_dir / "markers"
    markers.mkdir()
    markers.chmod(0o777)

    # A warm-up run builds the Python environment, so the timed part below is about the restart.
    skiff.cli("run", str(package), "--name", "warm", "-p", f"marker_dir={shared_dir}",
              timeout=FIRST_RUN_TIMEOUT)

    # The run is applied as a PipelineRun resource, so the CLI does not wait for it.
    run = {"apiVersion": "pipelines.kubeflow.org/v2beta1", "kind": "PipelineRun",
           "metadata": {"name": "chain", "namespace": "default"},
           "spec": {"pipelineSpec": yaml.safe_load(package.read_text()),
                    "parameters": {"marker_dir": str(markers)}, "enableCaching": False}}
    skiff.cli("apply", "-f", "-", input=json.dumps(run))
    skiff.wait_for(lambda: (markers / "sleeping-1").exists(), timeout=120,
                   what="the middle task to be running")
    skiff.kill9()
    skiff.start()

    def finished():
        doc = get_run(skiff, "chain")
        return doc["status"].get("state") in ("SUCCEEDED", "FAILED") and doc

    doc = skiff.wait_for(finished, timeout=120, what="run chain to finish after the restart")
    assert doc["status"]["state"] == "SUCCEEDED", doc["status"]
    tasks = doc["status"]["engine"]["tasks"]
    outputs = {t["name"]: t.get("outputs", {}).get("parameters", {}).get("Output")
               for t in tasks.values() if t.get("kind") == "CONTAINER"}
    assert sorted(outputs.values()) == [1, 2, 3], outputs
    ran = sorted(f.split("-")[1] for f in os.listdir(markers) if f.startswith("ran-"))
    assert ran == ["0", "1", "2"], f"each task runs once: {ran}"
