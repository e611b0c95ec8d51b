"""`skiff serve`: the model server over the Open Inference Protocol (V2) and KServe's V1 protocol,
with XGBoost models trained here by the xgboost package and the inputs and results of KServe's own
end-to-end tests (the shared corpus)."""
import json
import os
import pathlib
import select
import signal
import struct
import subprocess
import time

import numpy as np
import pytest
import requests
import xgboost as xgb
from sklearn.datasets import load_iris

from conftest import BINARY

# XGBoost 3 saves a .bst file as UBJSON (and says so): what users' .bst files are today.
pytestmark = pytest.mark.filterwarnings("ignore:.*UBJSON format as default")

CORPUS = pathlib.Path(os.environ.get("SKIFF_CORPUS") or
                      pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus")
PAYLOADS = CORPUS / "kserve" / "payloads"
WHEEL_LIBRARY = pathlib.Path(xgb.__file__).parent / "lib" / "libxgboost.so"


class Server:
    """One `skiff serve` process on a free port."""

    def __init__(self, model_dir, name, env=None, fmt="xgboost"):
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [BINARY, "serve", str(model_dir), "--format", fmt, "--name", name, "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("serving "):
            self.proc.kill()
            raise RuntimeError("skiff serve did not start: " + line +
                               self.proc.stderr.read().decode(errors="replace")[-3000:])
        self.url = line.split(" at ")[1].strip()
        self.name = name

    def infer(self, body, **kw):
        return requests.post(f"{self.url}/v2/models/{self.name}/infer", data=body, timeout=30, **kw)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0


def train(tmp, name, objective, rows, labels, ext, **params):
    booster = xgb.train({"objective": objective, "max_depth": 3, "eta": 0.3, "seed": 1, **params},
                        xgb.DMatrix(rows, label=labels), num_boost_round=20)
    folder = tmp / name
    folder.mkdir()
    booster.save_model(str(folder / ("model" + ext)))
    return booster, folder


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("models")
    data = load_iris()
    x, y = data.data.astype(np.float32), data.target
    models = {
        "softmax": train(tmp, "softmax", "multi:softmax", x, y, ".json", num_class=3),
        "softprob": train(tmp, "softprob", "multi:softprob", x, y, ".ubj", num_class=3),
        "logistic": train(tmp, "logistic", "binary:logistic", x[y < 2], y[y < 2], ".bst"),
    }
    servers = {name: Server(folder, name) for name, (_, folder) in models.items()}
    yield {"x": x, "models": models, "servers": servers}
    for s in servers.values():
        s.stop()


def payload(name):
    path = PAYLOADS / name
    if not path.exists():
        pytest.skip(f"the shared corpus is not here: {path} is missing (set SKIFF_CORPUS)")
    return path.read_text()


def test_corpus_payloads_give_kserves_asserted_results(iris):
    s = iris["servers"]["softmax"]
    # KServe's test_xgboost.py: iris V2 -> outputs[0].data == [1.0, 1.0].
    r = s.infer(payload("test__e2e__data__iris_input_v2.json"))
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert out["data"] == [1.0, 1.0] and out["datatype"] == "FP32" and out["shape"] == [2]
    assert r.json()["model_name"] == "softmax"
    # V1 -> {"predictions": [1, 1]}.
    r = requests.post(f"{s.url}/v1/models/softmax:predict",
                      data=payload("test__e2e__data__iris_input.json"), timeout=30)
    assert r.status_code == 200 and r.json() == {"predictions": [1, 1]}, r.text
    # The binary forms: the result comes back as a binary tail after the JSON header.
    for name in ("test__e2e__data__iris_input_v2_binary.json",
                 "test__e2e__data__iris_input_v2_all_binary.json"):
        r = s.infer(payload(name))
        assert r.status_code == 200, r.text
        n = int(r.headers["Inference-Header-Content-Length"])
        head = json.loads(r.content[:n])
        assert head["outputs"][0]["parameters"]["binary_data_size"] == 8
        assert list(struct.unpack("<2f", r.content[n:])) == [1.0, 1.0]


@pytest.mark.parametrize("model", ["softmax", "softprob", "logistic"])
def test_predictions_equal_the_librarys_own(iris, model):
    booster, _ = iris["models"][model]
    s = iris["servers"][model]
    rng = np.random.default_rng(7)
    x = (iris["x"][rng.integers(0, 150, 40)] + rng.normal(0, 0.3, (40, 4))).astype(np.float32)
    expected = booster.predict(xgb.DMatrix(x))
    # JSON, and binary both ways.
    r = s.infer(json.dumps({"inputs": [{"name": "input-0", "shape": list(x.shape),
                                        "datatype": "FP32", "data": x.tolist()}]}))
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert out["shape"] == list(expected.shape)
    np.testing.assert_allclose(np.array(out["data"]).reshape(expected.shape), expected, atol=1e-6)

    head = json.dumps({"inputs": [{"name": "input-0", "shape": list(x.shape), "datatype": "FP32",
                                   "parameters": {"binary_data_size": x.nbytes}}],
                       "outputs": [{"name": "output-0", "parameters": {"binary_data": True}}]})
    r = s.infer(head.encode() + x.tobytes(),
                headers={"Inference-Header-Content-Length": str(len(head))})
    assert r.status_code == 200, r.text
    n = int(r.headers["Inference-Header-Content-Length"])
    got = np.frombuffer(r.content[n:], dtype="<f4").reshape(expected.shape)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_xgboost_3_library_serves_the_same(iris):
    """The library the xgboost wheel ships (3.x) in place of the system's (Debian's 1.7)."""
    booster, folder = iris["models"]["softprob"]
    s = Server(folder, "wheel", env={"SKIFF_XGBOOST_LIBRARY": str(WHEEL_LIBRARY)})
    try:
        x = iris["x"][::10]
        r = s.infer(json.dumps({"inputs": [{"name": "input-0", "shape": list(x.shape),
                                            "datatype": "FP32", "data": x.tolist()}]}))
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(np.array(r.json()["outputs"][0]["data"]).reshape(-1, 3),
                                   booster.predict(xgb.DMatrix(x)), atol=1e-6)
    finally:
        s.stop()


TRUNCATED = (b'{"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", '
             b'"parameters": {"binary_data_size": 16}}]}')


def test_malformed_requests_get_4xx_and_the_server_stays_up(iris):
    s = iris["servers"]["softmax"]

    def infer_input(**fields):
        return s.infer(json.dumps({"inputs": [{"name": "input-0", **fields}]}))

    cases = [
        (infer_input(shape=[1, 3], datatype="FP32", data=[1, 2, 3]), 400, "takes 4 features"),
        (infer_input(shape=[1, 4], datatype="BYTES", data=["a", "b", "c", "d"]), 400, "BYTES"),
        (infer_input(shape=[1, 4], datatype="FP32", data=[1, 2]), 400, "2 elements"),
        (infer_input(shape=[1, 4], data=[1, 2, 3, 4]), 400, "datatype: missing"),
        (s.infer(TRUNCATED + b"\0" * 7,  # 16 bytes announced
                 headers={"Inference-Header-Content-Length": str(len(TRUNCATED))}), 400,
         "bytes of binary data are left"),
        (s.infer(b"{" * 100000), 400, "inference request"),
        (s.infer(b"x" * (100 << 20)), 413, ""),
        (requests.post(f"{s.url}/v2/models/other/infer", data="{}", timeout=30), 404, "other"),
    ]
    for r, status, message in cases:
        assert r.status_code == status, r.text
        if message:
            assert message in r.json()["error"], r.text
    assert requests.get(f"{s.url}/v2/health/ready", timeout=5).json() == {"ready": True}
    assert iris["servers"]["softmax"].proc.poll() is None


def test_a_model_that_does_not_load_ends_the_server_with_the_reason(tmp_path):
    (tmp_path / "model.json").write_text('{"learner": 7}')
    proc = subprocess.run([BINARY, "serve", str(tmp_path), "--format", "xgboost", "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "XGBoost could not load" in proc.stderr
    proc = subprocess.run([BINARY, "serve", "s3://bucket/iris", "--format", "xgboost"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "s3:// storage is not reachable" in proc.stderr


def test_metrics_count_requests(iris):
    s = iris["servers"]["logistic"]
    s.infer(json.dumps({"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32",
                                    "data": [5.1, 3.5, 1.4, 0.2]}]}))
    text = requests.get(f"{s.url}/metrics", timeout=5).text
    assert 'skiff_inference_requests_total{code="200",model="logistic",protocol="v2"}' in text


def test_tritonclient_infers_with_binary_tensors(iris):
    """The real Triton HTTP client, as users of Triton and KServe's V2 servers call them."""
    import tritonclient.http as httpclient

    booster, _ = iris["models"]["softprob"]
    s = iris["servers"]["softprob"]
    client = httpclient.InferenceServerClient(url=s.url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("softprob")
    meta = client.get_model_metadata("softprob")
    assert meta["inputs"][0]["name"] == "input-0" and meta["platform"] == "xgboost"
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]

    x = iris["x"][:5]
    for binary_in, binary_out in [(True, True), (False, True), (True, False), (False, False)]:
        inp = httpclient.InferInput("input-0", list(x.shape), "FP32")
        inp.set_data_from_numpy(x, binary_data=binary_in)
        out = httpclient.InferRequestedOutput("output-0", binary_data=binary_out)
        result = client.infer("softprob", [inp], outputs=[out], request_id="r7")
        np.testing.assert_allclose(result.as_numpy("output-0").reshape(-1, 3),
                                   booster.predict(xgb.DMatrix(x)), atol=1e-6)
        assert result.get_response()["id"] == "r7"

    index = client.get_model_repository_index()
    assert {"name": "softprob", "state": "READY"} in index
    client.unload_model("softprob")
    assert not client.is_model_ready("softprob")
    client.load_model("softprob")
    assert client.is_model_ready("softprob")
    # An error is the client's exception with the server's message.
    bad = httpclient.InferInput("input-0", [1, 3], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(Exception, match="takes 4 features"):
        client.infer("softprob", [bad])
