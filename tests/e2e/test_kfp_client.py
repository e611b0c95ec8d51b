"""The real kfp SDK (kfp.Client from PyPI) against `skiff up`: the KFP v2beta1 REST API."""
import json
import time

import pytest

kfp = pytest.importorskip("kfp")
from kfp import compiler, dsl  # noqa: E402
from kfp.client import Client  # noqa: E402
import kfp_server_api  # noqa: E402

FIRST_RUN_TIMEOUT = 900  # the first lightweight component builds a venv with kfp in it


@dsl.component(base_image="python:3.11")
def add(a: int, b: int) -> int:
    return a + b


@dsl.component(base_image="python:3.11")
def fail_unless(flag_path: str) -> str:
    import os
    if not os.path.exists(flag_path):
        raise RuntimeError("flag file missing: " + flag_path)
    return "ok"


@dsl.component(base_image="python:3.11")
def sleep_for(seconds: int) -> int:
    import time
    time.sleep(seconds)
    return seconds


@dsl.pipeline(name="add-pipeline")
def add_pipeline(a: int = 1, b: int = 2) -> int:
    first = add(a=a, b=b)
    second = add(a=first.output, b=10)
    return second.output


@dsl.pipeline(name="flaky-pipeline")
def flaky_pipeline(flag_path: str):
    before = add(a=1, b=1)
    fail_unless(flag_path=flag_path).after(before)


@dsl.pipeline(name="sleepy-pipeline")
def sleepy_pipeline(seconds: int = 600):
    sleep_for(seconds=seconds)


def client_for(skiff, token=None):
    return Client(host=skiff.url, existing_token=token or skiff.token)


def raw_run(skiff, run_id, token="admin"):
    r = skiff.http("GET", f"/apis/v2beta1/runs/{run_id}", token=token)
    assert r.status_code == 200, r.text
    return r.json()


def task_output(run, task_name, output="Output"):
    for t in run["run_details"]["task_details"]:
        if t["display_name"] == task_name:
            return t["output_parameters"].get(output)
    raise AssertionError(f"no task {task_name} in {[t['display_name'] for t in run['run_details']['task_details']]}")


def wait_state(skiff, run_id, states, timeout):
    return skiff.wait_for(lambda: raw_run(skiff, run_id)["state"] in states and raw_run(skiff, run_id),
                          timeout=timeout, what=f"run {run_id} in {states}")


def test_kfp_client_runs_pipelines_end_to_end(skiff, tmp_path):
    client = client_for(skiff)
    assert client.get_kfp_healthz().multi_user is True

    exp = client.create_experiment("e2e")
    assert client.create_experiment("e2e").experiment_id == exp.experiment_id  # reused by name

    package = tmp_path / "add.yaml"
    compiler.Compiler().compile(add_pipeline, str(package))
    pipeline = client.upload_pipeline(str(package), pipeline_name="add-pipeline")
    assert client.get_pipeline_id("add-pipeline") == pipeline.pipeline_id
    versions = client.list_pipeline_versions(pipeline.pipeline_id).pipeline_versions
    assert len(versions) == 1

    # A run from the package, and one from the function with arguments.
    r1 = client.create_run_from_pipeline_package(str(package), arguments={"a": 3, "b": 4},
                                                 experiment_name="e2e", run_name="from-package")
    r2 = client.create_run_from_pipeline_func(add_pipeline, arguments={"a": 5, "b": 6},
                                              run_name="from-func")
    done1 = client.wait_for_run_completion(r1.run_id, timeout=FIRST_RUN_TIMEOUT, sleep_duration=1)
    assert done1.state == "SUCCEEDED", skiff.server_log()
    done2 = client.wait_for_run_completion(r2.run_id, timeout=300, sleep_duration=1)
    assert done2.state == "SUCCEEDED"
    raw1 = raw_run(skiff, r1.run_id)
    assert task_output(raw1, "add") == 7
    assert task_output(raw1, "add-2") == 17
    assert raw1["runtime_config"]["parameters"] == {"a": 3, "b": 4}
    assert task_output(raw_run(skiff, r2.run_id), "add-2") == 21

    # A run from the uploaded pipeline version.
    r3 = client.run_pipeline(experiment_id=exp.experiment_id, job_name="from-version",
                             params={"a": 100, "b": 1}, pipeline_id=pipeline.pipeline_id,
                             version_id=versions[0].pipeline_version_id)
    assert client.wait_for_run_completion(r3.run_id, timeout=300, sleep_duration=1).state == "SUCCEEDED"
    assert task_output(raw_run(skiff, r3.run_id), "add-2") == 111

    # List, page and filter.
    runs = client.list_runs(experiment_id=exp.experiment_id, page_size=100).runs
    assert {r.run_id for r in runs} >= {r1.run_id, r3.run_id}
    page = client.list_runs(page_size=1, sort_by="created_at desc")
    assert len(page.runs) == 1 and page.next_page_token
    filtered = client.list_runs(page_size=100, filter=json.dumps({"predicates": [
        {"operation": "EQUALS", "key": "display_name", "string_value": "from-func"}]})).runs
    assert [r.run_id for r in filtered] == [r2.run_id]
    with pytest.raises(kfp_server_api.ApiException) as bad:
        client.list_runs(filter="{not json")
    assert bad.value.status == 400

    # Archive, unarchive, delete.
    client.archive_run(r2.run_id)
    assert client.get_run(r2.run_id).storage_state == "ARCHIVED"
    client.unarchive_run(r2.run_id)
    assert client.get_run(r2.run_id).storage_state == "AVAILABLE"
    client.delete_run(r2.run_id)
    with pytest.raises(kfp_server_api.ApiException) as gone:
        client.get_run(r2.run_id)
    assert gone.value.status == 404


def test_terminate_retry_and_recurring_runs(skiff, tmp_path, shared_dir):
    client = client_for(skiff)
    exp = client.create_experiment("ops")

    # Terminate a long run.
    long_run = client.create_run_from_pipeline_func(sleepy_pipeline, arguments={"seconds": 600},
                                                    experiment_name="ops")
    wait_state(skiff, long_run.run_id, {"RUNNING"}, FIRST_RUN_TIMEOUT)
    client.terminate_run(long_run.run_id)
    wait_state(skiff, long_run.run_id, {"CANCELED"}, 120)

    # Retry a failed run: it fails until the flag file exists, then the retry succeeds.
    flag = shared_dir / "flag"
    flaky = client.create_run_from_pipeline_func(flaky_pipeline, arguments={"flag_path": str(flag)},
                                                 experiment_name="ops")
    assert client.wait_for_run_completion(flaky.run_id, timeout=300, sleep_duration=1).state == "FAILED"
    flag.write_text("yes")
    r = skiff.http("POST", f"/apis/v2beta1/runs/{flaky.run_id}:retry")
    assert r.status_code == 200, r.text
    assert client.wait_for_run_completion(flaky.run_id, timeout=300, sleep_duration=1).state == "SUCCEEDED"

    # A recurring run fires.
    package = tmp_path / "add.yaml"
    compiler.Compiler().compile(add_pipeline, str(package))
    rr = client.create_recurring_run(experiment_id=exp.experiment_id, job_name="every-2s",
                                     pipeline_package_path=str(package), params={"a": 1, "b": 1},
                                     interval_second=2, max_concurrency=1)
    rr_id = rr.recurring_run_id

    def fired():
        runs = client.list_runs(experiment_id=exp.experiment_id, page_size=100).runs or []
        return [x for x in runs if x.recurring_run_id == rr_id]
    skiff.wait_for(fired, timeout=120, what="a run fired by the recurring run")
    # Counted by the controller itself (ControllerContext::metrics), exported at /metrics.
    metrics = skiff.http("GET", "/metrics").text
    assert 'skiff_recurring_run_fires_total{result="fired"}' in metrics, metrics[-2000:]
    client.disable_recurring_run(rr_id)
    assert client.get_recurring_run(rr_id).status == "DISABLED"
    client.delete_recurring_run(rr_id)
    bad = skiff.http("POST", "/apis/v2beta1/recurringruns", data=json.dumps({
        "display_name": "bad", "pipeline_spec": json.loads(json.dumps(
            __import__("yaml").safe_load(package.read_text()))),
        "trigger": {"cron_schedule": {"cron": "0 99 * * * *"}}}))
    assert bad.status_code == 400 and "minute" in bad.text

    # Archive and delete the experiment.
    client.archive_experiment(exp.experiment_id)
    assert client.get_experiment(experiment_id=exp.experiment_id).storage_state == "ARCHIVED"
    client.delete_experiment(exp.experiment_id)


def test_second_user_is_refused_every_operation(skiff, tmp_path):
    admin = client_for(skiff)
    exp = admin.create_experiment("private")
    package = tmp_path / "add.yaml"
    compiler.Compiler().compile(add_pipeline, str(package))
    pipeline = admin.upload_pipeline(str(package), pipeline_name="private-add")
    run = admin.run_pipeline(experiment_id=exp.experiment_id, job_name="mine",
                             pipeline_package_path=str(package), params={"a": 1, "b": 2})

    skiff.cli("user", "create", "mallory")
    token = skiff.cli("token", "create", "--user", "mallory").stdout.strip()
    mallory = client_for(skiff, token)
    # Lists and creates in a namespace she has no role in: 403. Another tenant's object by id:
    # 404, the answer for an id that does not exist (no oracle of what exists).
    attempts = [
        (403, lambda: mallory.list_experiments()),
        (404, lambda: mallory.get_experiment(experiment_id=exp.experiment_id)),
        (403, lambda: mallory.create_experiment("x")),
        (404, lambda: mallory.archive_experiment(exp.experiment_id)),
        (404, lambda: mallory.delete_experiment(exp.experiment_id)),
        (403, lambda: mallory.list_pipelines()),
        (404, lambda: mallory.get_pipeline(pipeline.pipeline_id)),
        (403, lambda: mallory.upload_pipeline(str(package), pipeline_name="x")),
        (404, lambda: mallory.delete_pipeline(pipeline.pipeline_id)),
        (403, lambda: mallory.list_runs()),
        (404, lambda: mallory.get_run(run.run_id)),
        (404, lambda: mallory.run_pipeline(experiment_id=exp.experiment_id, job_name="x",
                                           pipeline_package_path=str(package))),
        (404, lambda: mallory.terminate_run(run.run_id)),
        (404, lambda: mallory.archive_run(run.run_id)),
        (404, lambda: mallory.delete_run(run.run_id)),
        (403, lambda: mallory.list_recurring_runs()),
    ]
    for i, (status, attempt) in enumerate(attempts):
        with pytest.raises(kfp_server_api.ApiException) as denied:
            attempt()
        assert denied.value.status == status, (i, denied.value.status, denied.value.body)
        body = json.loads(denied.value.body)
        assert body["code"] == (7 if status == 403 else 5) and body["message"], body
        assert "default" not in body["message"] or status == 403, body
    # Nothing was changed by the refused calls.
    assert admin.get_run(run.run_id).storage_state == "AVAILABLE"
    assert admin.get_experiment(experiment_id=exp.experiment_id).storage_state == "AVAILABLE"
    # Without a token at all: 401.
    assert skiff.http("GET", "/apis/v2beta1/runs", token=None).status_code == 401


def expect_kfp_error(response, status, code):
    """The KFP error shape: {"error", "code" (gRPC), "message", "details": []}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["message"] and body["error"] == body["message"], body
    assert body["details"] == [], body
    return body["message"]


def test_invalid_requests_get_kfp_errors_over_raw_http(skiff, tmp_path):
    package = tmp_path / "add.yaml"
    compiler.Compiler().compile(add_pipeline, str(package))
    pipeline = client_for(skiff).upload_pipeline(str(package), pipeline_name="known")

    def create_run(reference):
        return skiff.http("POST", "/apis/v2beta1/runs",
                          json={"display_name": "r", "pipeline_version_reference": reference})
    msg = expect_kfp_error(create_run({"pipeline_id": "no-such-pipeline"}), 404, 5)
    assert "no-such-pipeline" in msg
    msg = expect_kfp_error(create_run({"pipeline_id": pipeline.pipeline_id,
                                       "pipeline_version_id": "no-such-version"}), 404, 5)
    assert "no-such-version" in msg

    # Over the 32 MiB upload limit: 413 in the KFP shape (below the server's 64 MiB body limit).
    big = package.read_bytes() + b" " * (33 * 1024 * 1024)
    r = skiff.http("POST", "/apis/v2beta1/pipelines/upload?name=big",
                   files={"uploadfile": ("big.yaml", big)})
    expect_kfp_error(r, 413, 8)
    # Not multipart/form-data: 400.
    r = skiff.http("POST", "/apis/v2beta1/pipelines/upload?name=json", data=package.read_bytes(),
                   headers={"Content-Type": "application/json"})
    assert "multipart/form-data" in expect_kfp_error(r, 400, 3)
    assert [p.display_name for p in client_for(skiff).list_pipelines().pipelines] == ["known"]


def test_openapi_document_is_served_and_names_the_routes(skiff):
    r = skiff.http("GET", "/apis/v2beta1/openapi.json")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    doc = r.json()
    assert doc["swagger"] == "2.0"
    assert "get" in doc["paths"]["/apis/v2beta1/runs/{run_id}"]
    assert "post" in doc["paths"]["/apis/v2beta1/runs/{run_id}:terminate"]
    assert skiff.http("GET", "/apis/v2beta1/openapi.json", token=None).status_code == 401


def test_a_bad_token_gets_a_401_on_its_first_real_call(skiff):
    # healthz answers without a token, so the client is made at once (it retries a failing
    # healthz five times, 5 s apart, and then fails with "Failed getting healthz endpoint").
    started = time.time()
    client = Client(host=skiff.url, existing_token="bad")
    assert time.time() - started < 4
    with pytest.raises(kfp_server_api.ApiException) as refused:
        client.list_experiments()
    assert refused.value.status == 401, (refused.value.status, refused.value.body)
    health = skiff.http("GET", "/apis/v2beta1/healthz", token=None)
    assert health.status_code == 200 and health.json()["multi_user"] is True, health.text
    assert skiff.http("GET", "/apis/v2beta1/experiments", token="bad").status_code == 401
