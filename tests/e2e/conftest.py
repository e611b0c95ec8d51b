"""Fixtures that start the real `skiff` binary (`skiff up`) on a free port in a temporary home."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import requests

BINARY = os.environ.get("SKIFF_BINARY") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "release", "skiff")


ENV_CACHE = os.environ.get("SKIFF_ENV_CACHE") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "e2e-envs")


class Skiff:
    """One `skiff up` process and a CLI bound to its SKIFF_HOME."""

    def __init__(self, home, extra_args=(), binary=None):
        self.binary = binary or BINARY
        self.home = str(home)
        self.extra_args = list(extra_args)
        self.proc = None
        self.url = None
        self.token = None

    @property
    def env(self):
        env = dict(os.environ)
        env["SKIFF_HOME"] = self.home
        # One cache of Python environments for the whole test session: only the first pipeline
        # task installs kfp, as on a user's machine.
        env.setdefault("SKIFF_ENV_CACHE", ENV_CACHE)
        env.pop("SKIFF_SERVER", None)
        env.pop("SKIFF_TOKEN", None)
        return env

    def start(self, timeout=60):
        server_file = os.path.join(self.home, "server.json")
        if os.path.exists(server_file):
            os.unlink(server_file)
        self.log = open(os.path.join(self.home, "server.log"), "ab")
        self.proc = subprocess.Popen(
            [self.binary, "up", "--port", "0", "--job-backoff-ms", "300", *self.extra_args],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("skiff up exited early:\n" + self.server_log())
            if os.path.exists(server_file):
                with open(server_file) as f:
                    self.url = json.load(f)["url"]
                with open(os.path.join(self.home, "admin-token")) as f:
                    self.token = f.read().strip()
                try:
                    if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                        return self
                except requests.ConnectionError:
                    pass
            time.sleep(0.1)
        raise RuntimeError("skiff up did not become ready:\n" + self.server_log())

    def server_log(self):
        try:
            with open(os.path.join(self.home, "server.log"), errors="replace") as f:
                return f.read()[-5000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def cli(self, *args, token=None, input=None, check=True, timeout=120):
        cmd = [self.binary]
        if token:
            cmd += ["--token", token]
        cmd += list(args)
        res = subprocess.run(cmd, env=self.env, input=input, capture_output=True, text=True,
                             timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"skiff {' '.join(args)} failed ({res.returncode}):\n"
                                 f"stdout: {res.stdout}\nstderr: {res.stderr}\n"
                                 f"server log:\n{self.server_log()}")
        return res

    def http(self, method, path, token="admin", **kw):
        headers = kw.pop("headers", {})
        if token == "admin":
            token = self.token
        if token:
            headers["Authorization"] = "Bearer " + token
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def wait_for(self, predicate, timeout=60, what="condition"):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; server log:\n{self.server_log()}")


def busybox_job_yaml(name, script, namespace="default"):
    """A batch/v1 Job of one busybox container running `script` once; more container fields may
    be appended at its indentation (8 spaces)."""
    return f"""
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  namespace: {namespace}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", {json.dumps(script)}]
"""


@pytest.fixture
def skiff(tmp_path):
    server = Skiff(tmp_path / "home")
    os.makedirs(server.home, exist_ok=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def shared_dir():
    """A folder of the machine that a test and its workloads share: outside /tmp (a sandboxed
    workload has a /tmp of its own) and open to every user (it may run as its profile's own)."""
    path = pathlib.Path(tempfile.mkdtemp(dir="/var/tmp", prefix="skiff-shared-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)
