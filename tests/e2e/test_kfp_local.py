"""Skiff against the reference: the same pipelines run by `kfp.local` and by `skiff run`.

Each pipeline is a Python function here, compiled with kfp's compiler to IR, run by skiff on a
server, and run by kfp.local's SubprocessRunner; their outputs must be equal. kfp.local (2.14)
refuses dsl.If and dsl.ParallelFor, so for those the components' own Python functions are the
oracle, and the test checks that kfp.local still refuses them (so the comparison can be switched
to kfp.local when it learns them).
"""
import json
import os
from typing import List, NamedTuple

import pytest

from conftest import Skiff

kfp = pytest.importorskip("kfp")
import kfp.compiler  # noqa: E402
import kfp.local  # noqa: E402
from kfp import dsl  # noqa: E402
from kfp.dsl import Dataset, Input, Output  # noqa: E402


@dsl.component
def add(a: int, b: int) -> int:
    return a + b


@dsl.component
def write_lines(n: int, out: Output[Dataset]):
    with open(out.path, "w") as f:
        f.write("\n".join(f"line {i}" for i in range(n)))


@dsl.component
def count_lines(data: Input[Dataset]) -> NamedTuple("Counts", [("lines", int), ("chars", int)]):
    with open(data.path) as f:
        text = f.read()
    from collections import namedtuple
    return namedtuple("Counts", ["lines", "chars"])(len(text.splitlines()), len(text))


@dsl.component
def parity(n: int) -> str:
    return "even" if n % 2 == 0 else "odd"


@dsl.component
def shout(s: str) -> str:
    return s.upper() + "!"


@dsl.component
def square(x: int) -> int:
    return x * x


@dsl.component
def total(xs: List[int]) -> int:
    return sum(xs)


@dsl.pipeline(name="add-twice")
def add_twice(a: int, b: int) -> int:
    first = add(a=a, b=b)
    return add(a=first.output, b=b).output


@dsl.pipeline(name="inner-lines")
def inner_lines(n: int) -> int:
    return count_lines(data=write_lines(n=n).outputs["out"]).outputs["chars"]


@dsl.pipeline(name="artifacts-nested")
def artifacts_nested(n: int) -> int:
    return add(a=inner_lines(n=n).output, b=n).output


@dsl.pipeline(name="condition")
def condition(n: int) -> str:
    p = parity(n=n)
    with dsl.If(p.output == "even"):
        a = shout(s="even-branch")
    with dsl.Else():
        b = shout(s="odd-branch")
    return dsl.OneOf(a.output, b.output)


@dsl.pipeline(name="loop")
def loop(xs: List[int]) -> int:
    with dsl.ParallelFor(xs) as x:
        s = square(x=x)
    return total(xs=dsl.Collected(s.output)).output


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("kfp-local") / "home"
    os.makedirs(home)
    s = Skiff(home)
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def local_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("kfp-local-root")
    kfp.local.init(runner=kfp.local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    return root


def skiff_output(server, tmp_path, pipeline, name, **params):
    path = str(tmp_path / f"{name}.yaml")
    kfp.compiler.Compiler().compile(pipeline, path)
    args = ["run", path, "--name", name]
    for k, v in params.items():
        args += ["-p", f"{k}={json.dumps(v)}"]
    server.cli(*args, timeout=300)
    doc = json.loads(server.cli("get", "pipelinerun", name, "-o", "json").stdout)
    assert doc["status"]["state"] == "SUCCEEDED", doc["status"]
    return doc["status"]["engine"]["outputs"]["parameters"]["Output"]


def test_add_numbers_matches_kfp_local(server, local_root, tmp_path):
    expected = add_twice(a=3, b=4).output
    assert expected == 11
    assert skiff_output(server, tmp_path, add_twice, "add-twice", a=3, b=4) == expected


def test_artifacts_through_a_nested_pipeline_match_kfp_local(server, local_root, tmp_path):
    expected = artifacts_nested(n=3).output
    assert expected == len("line 0\nline 1\nline 2") + 3
    assert skiff_output(server, tmp_path, artifacts_nested, "artifacts-nested", n=3) == expected


@pytest.mark.parametrize("n", [4, 7])
def test_condition_matches_the_components_own_functions(server, local_root, tmp_path, n):
    with pytest.raises(NotImplementedError):
        condition(n=n)
    expected = shout.python_func(s=parity.python_func(n=n) + "-branch")
    assert skiff_output(server, tmp_path, condition, f"condition-{n}", n=n) == expected


def test_loop_with_collected_matches_the_components_own_functions(server, local_root, tmp_path):
    xs = [1, 2, 3, 4]
    with pytest.raises(NotImplementedError):
        loop(xs=xs)
    expected = total.python_func(xs=[square.python_func(x=x) for x in xs])
    assert skiff_output(server, tmp_path, loop, "loop", xs=xs) == expected == 30
