"""Compiles the benchmark pipelines with the real kfp SDK (kfp==2.14.3) to KFP v2 IR YAML.

    bench/pipelines/.venv/bin/python bench/pipelines/make_pipelines.py OUT_DIR

Writes, for each size used by run_bench.py:
  shell_dag_<N>.yaml  N no-op shell container tasks (image busybox, `sh -c true`) arranged as
                      10 parallel chains of N/10 tasks, each task depending on the one before it
                      in its chain: N tasks, N-10 dependency edges, at most 10 runnable at once.
  pydag_<N>.yaml      the same shape with a no-op lightweight Python component (what kfp.local
                      can run without docker; used as the kfp.local twin of shell_dag_<N>).
  pychain_<N>.yaml    a chain of N lightweight Python "add one" components (data dependencies).

Importable: run_bench.py uses the pipeline functions (build_*) to run the same definitions under
kfp.local.
"""
import os
import sys

from kfp import compiler, dsl

CHAINS = 10


@dsl.container_component
def noop_shell():
    return dsl.ContainerSpec(image="busybox", command=["sh", "-c", "true"])


@dsl.component(base_image="python:3.11")
def noop_py():
    pass


@dsl.component(base_image="python:3.11")
def add_one(x: int) -> int:
    return x + 1


def _chains(make_task, n):
    """n tasks as CHAINS chains of n/CHAINS, each task .after() the previous one in its chain."""
    per_chain = max(1, n // CHAINS)
    chains = min(CHAINS, n)
    for c in range(chains):
        prev = None
        for i in range(per_chain):
            t = make_task()
            t.set_display_name(f"c{c}-t{i}")
            t.set_caching_options(False)
            if prev is not None:
                t.after(prev)
            prev = t


def build_shell_dag(n):
    @dsl.pipeline(name=f"shell-dag-{n}")
    def shell_dag():
        _chains(noop_shell, n)

    return shell_dag


def build_py_dag(n):
    @dsl.pipeline(name=f"py-dag-{n}")
    def py_dag():
        _chains(noop_py, n)

    return py_dag


def build_py_chain(n):
    @dsl.pipeline(name=f"py-chain-{n}")
    def py_chain(start: int = 0) -> int:
        t = add_one(x=start)
        t.set_caching_options(False)
        for _ in range(n - 1):
            t = add_one(x=t.output)
            t.set_caching_options(False)
        return t.output

    return py_chain


BUILDERS = {"shell_dag": build_shell_dag, "pydag": build_py_dag, "pychain": build_py_chain}


def compile_to(out_dir, kind, n):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{kind}_{n}.yaml")
    compiler.Compiler().compile(BUILDERS[kind](n), path)
    return path


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "bench/pipelines/out"
    for kind, n in [("shell_dag", 10), ("shell_dag", 100), ("shell_dag", 1000), ("pydag", 10),
                    ("pydag", 100), ("pydag", 1000), ("pychain", 10), ("pychain", 100)]:
        print(compile_to(out_dir, kind, n))


if __name__ == "__main__":
    main()
