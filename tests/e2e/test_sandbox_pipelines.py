"""A lightweight Python component, forked from a warm interpreter, runs in the same sandbox as a
pod: its own PID namespace, the profile's identity, no SKIFF_HOME."""
import json
import os

import pytest

kfp = pytest.importorskip("kfp")
from kfp import compiler, dsl  # noqa: E402

FIRST_RUN_TIMEOUT = 600  # the first run of a component builds its Python environment


@dsl.component
def snoop(home: str) -> str:
    import os
    found = []
    for name in ("admin-token", "skiff.db"):
        try:
            open(os.path.join(home, name), "rb").read(16)
            found.append("LEAK-" + name)
        except OSError:
            found.append("no-" + name)
    found.append("pid=%d" % os.getpid())
    found.append("uid=%d" % os.getuid())
    return " ".join(found)


@dsl.pipeline(name="snoop")
def snoop_pipeline(home: str) -> str:
    return snoop(home=home).set_caching_options(False).output


def test_a_lightweight_component_runs_confined(skiff, tmp_path):
    package = tmp_path / "snoop.yaml"
    compiler.Compiler().compile(snoop_pipeline, str(package))
    out = skiff.cli("run", str(package), "--name", "snoop", "-p", f"home={skiff.home}",
                    timeout=FIRST_RUN_TIMEOUT).stdout
    doc = json.loads(skiff.cli("get", "pipelinerun", "snoop", "-o", "json").stdout)
    assert doc["status"]["state"] == "SUCCEEDED", out
    [result] = [t["outputs"]["parameters"]["Output"]
                for t in doc["status"]["engine"]["tasks"].values() if t.get("kind") == "CONTAINER"]
    print(result)
    assert "LEAK" not in result and "no-admin-token" in result and "no-skiff.db" in result, result
    assert "pid=2 " in result + " ", "its own PID namespace (1 is the sandbox's init): " + result
    if os.geteuid() == 0:
        assert "uid=0" not in result.split(), result
