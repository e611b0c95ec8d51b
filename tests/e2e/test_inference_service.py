"""KServe's InferenceService under `skiff up`: the controller picks the runtime, runs the model
server replicas, reports KServe's status, and the router serves each service at
/serving/NAMESPACE/NAME with the API's tokens and roles."""
import json
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest
import requests
import xgboost as xgb
from sklearn.datasets import load_iris

IRIS_V2 = {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32",
                       "data": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}]}
IRIS_V1 = {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}


def train_iris(folder):
    """An iris classifier as KServe's example (multi:softmax), in a folder every user may read."""
    data = load_iris()
    booster = xgb.train({"objective": "multi:softmax", "num_class": 3, "max_depth": 3, "seed": 1},
                        xgb.DMatrix(data.data.astype(np.float32), label=data.target),
                        num_boost_round=20)
    folder.mkdir()
    booster.save_model(str(folder / "model.json"))
    folder.chmod(0o755)
    (folder / "model.json").chmod(0o644)


def isvc_yaml(name, namespace, predictor):
    return json.dumps({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                       "metadata": {"name": name, "namespace": namespace},
                       "spec": {"predictor": predictor}})


def get_isvc(skiff, namespace, name):
    r = skiff.http("GET", f"/apis/serving.kserve.io/v1beta1/namespaces/{namespace}/"
                          f"inferenceservices/{name}")
    return r.json() if r.status_code == 200 else None


def condition(isvc, kind):
    for c in (isvc or {}).get("status", {}).get("conditions", []):
        if c["type"] == kind:
            return c
    return {}


def wait_ready(skiff, namespace, name, timeout=120):
    return skiff.wait_for(lambda: (lambda o: o if condition(o, "Ready").get("status") == "True"
                                   else None)(get_isvc(skiff, namespace, name)),
                          timeout=timeout, what=f"InferenceService {name} to be Ready")


def replicas(skiff, namespace, name):
    r = skiff.http("GET", f"/api/v1/namespaces/{namespace}/pods",
                   params={"labelSelector": f"serving.kserve.io/inferenceservice={name}"})
    return r.json()["items"]


def server_pids(name):
    """The model server processes of service `name` (not the shims that start them)."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    pids = []
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        words = args.split()
        if len(words) > 1 and words[1] == "serve" and f"--model_name={name}" in words:
            pids.append(int(pid))
    return pids


@pytest.fixture
def team(skiff):
    skiff.cli("user", "create", "alice")
    skiff.cli("user", "create", "bob")
    skiff.cli("profile", "create", "team", "--owner", "alice")
    alice = skiff.cli("token", "create", "--user", "alice").stdout.strip().split()[-1]
    bob = skiff.cli("token", "create", "--user", "bob").stdout.strip().split()[-1]
    return {"alice": alice, "bob": bob}


def test_an_xgboost_service_answers_through_the_router_to_its_profile_only(skiff, shared_dir,
                                                                           team):
    train_iris(shared_dir / "iris")
    skiff.cli("apply", "-f", "-", input=isvc_yaml(
        "iris", "team", {"xgboost": {"storageUri": f"file://{shared_dir}/iris"}}))
    isvc = wait_ready(skiff, "team", "iris")
    url = isvc["status"]["url"]
    assert url == f"{skiff.url}/serving/team/iris"
    assert isvc["status"]["address"]["url"] == url
    assert condition(isvc, "PredictorReady")["status"] == "True"
    assert condition(isvc, "IngressReady")["status"] == "True"
    assert isvc["status"]["modelStatus"]["transitionStatus"] == "UpToDate"
    assert isvc["status"]["modelStatus"]["states"]["activeModelState"] == "Loaded"

    # KServe's assertions: iris V2 on XGBoost -> [1.0, 1.0]; V1 -> {"predictions": [1, 1]}.
    auth = {"Authorization": "Bearer " + team["alice"]}
    r = requests.post(url + "/v2/models/iris/infer", json=IRIS_V2, headers=auth, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == [1.0, 1.0]
    r = requests.post(url + "/v1/models/iris:predict", json=IRIS_V1, headers=auth, timeout=30)
    assert r.status_code == 200 and r.json() == {"predictions": [1, 1]}, r.text
    assert requests.get(url + "/v2/models/iris/ready", headers=auth, timeout=30).json()["ready"]
    # A malformed request is the model server's 400, passed through.
    r = requests.post(url + "/v2/models/iris/infer", json={"inputs": []}, headers=auth, timeout=30)
    assert r.status_code == 400 and "inputs" in r.json()["error"]

    # The API's tokens and roles: none -> 401, a user without a role in the profile -> 403.
    assert requests.post(url + "/v2/models/iris/infer", json=IRIS_V2, timeout=30).status_code == 401
    r = requests.post(url + "/v2/models/iris/infer", json=IRIS_V2, timeout=30,
                      headers={"Authorization": "Bearer " + team["bob"]})
    assert r.status_code == 403, r.text

    # The CLI: columns, describe, the replica's pod.
    out = skiff.cli("get", "isvc", "-n", "team").stdout
    assert "iris" in out and url in out and "True" in out
    pods = replicas(skiff, "team", "iris")
    assert len(pods) == 1 and pods[0]["metadata"]["name"].startswith("iris-predictor-")
    described = skiff.cli("describe", "isvc", "iris", "-n", "team").stdout
    assert "Storage URI:" in described and pods[0]["metadata"]["name"] in described
    assert "serving iris (xgboost)" in skiff.cli("logs", "isvc/iris", "-n", "team").stdout

    # Deleted: its replicas go, and the router no longer knows it.
    skiff.cli("delete", "isvc", "iris", "-n", "team")
    skiff.wait_for(lambda: not replicas(skiff, "team", "iris") and not server_pids("iris"),
                   what="the replicas to go")
    assert requests.post(url + "/v2/models/iris/infer", json=IRIS_V2, headers=auth,
                         timeout=30).status_code == 404


def test_a_killed_replica_restarts_while_the_other_serves(skiff, shared_dir):
    train_iris(shared_dir / "iris")
    skiff.cli("apply", "-f", "-", input=isvc_yaml(
        "pair", "default", {"minReplicas": 2, "model": {
            "modelFormat": {"name": "xgboost"}, "protocolVersion": "v2",
            "runtime": "kserve-xgbserver", "storageUri": f"file://{shared_dir}/iris"}}))
    wait_ready(skiff, "default", "pair")
    skiff.wait_for(lambda: len(server_pids("pair")) == 2 and all(
        all(c.get("ready") for c in p["status"].get("containerStatuses", [{}]))
        for p in replicas(skiff, "default", "pair")), what="both replicas ready")
    url = get_isvc(skiff, "default", "pair")["status"]["url"] + "/v2/models/pair/infer"
    headers = {"Authorization": "Bearer " + skiff.token}

    codes = []
    stop = threading.Event()

    def load():
        with requests.Session() as s:
            while not stop.is_set():
                codes.append(s.post(url, json=IRIS_V2, headers=headers, timeout=30).status_code)

    sender = threading.Thread(target=load)
    sender.start()
    time.sleep(0.5)
    victim = server_pids("pair")[0]
    os.kill(victim, signal.SIGKILL)
    try:
        # Restarted by its restart policy: a new process, ready again.
        skiff.wait_for(lambda: len(server_pids("pair")) == 2 and victim not in server_pids("pair")
                       and any(c.get("restartCount", 0) >= 1
                               for p in replicas(skiff, "default", "pair")
                               for c in p["status"].get("containerStatuses", [])),
                       timeout=90, what="the killed replica to restart")
        time.sleep(1)
    finally:
        stop.set()
        sender.join()
    assert len(codes) > 10 and set(codes) == {200}, codes


def test_what_cannot_run_here_is_refused_on_the_status(skiff):
    skiff.cli("apply", "-f", "-", input=isvc_yaml(
        "flowers", "default", {"tensorflow": {"storageUri": "gs://kfserving-examples/models/x"}}))
    skiff.cli("apply", "-f", "-", input=isvc_yaml(
        "remote", "default", {"xgboost": {"storageUri": "s3://bucket/iris"}}))
    skiff.cli("apply", "-f", "-", input=isvc_yaml(
        "odd", "default", {"model": {"modelFormat": {"name": "mystery"}}}))
    for name, reason, text in [("flowers", "RuntimeNotRunnable", "which this machine does not run"),
                               ("remote", "StorageNotSupported", "not s3://"),
                               ("odd", "NoSupportingRuntime", "mystery")]:
        isvc = skiff.wait_for(lambda: (lambda o: o if condition(o, "Ready").get("reason")
                                       else None)(get_isvc(skiff, "default", name)),
                              what=f"{name}'s status")
        ready = condition(isvc, "Ready")
        assert ready["status"] == "False" and ready["reason"] == reason, ready
        assert text in isvc["status"]["modelStatus"]["lastFailureInfo"]["message"]
        assert not replicas(skiff, "default", name)
    # KServe's runtimes are there to choose from.
    names = skiff.cli("get", "clusterservingruntimes", "-o", "name").stdout
    assert "kserve-xgbserver" in names and "kserve-tritonserver" in names
