"""Skiff vs kfp.local on the same compiled pipelines, in one run. See README.md.

    bench/pipelines/.venv/bin/python bench/pipelines/run_bench.py \
        --skiff build/bench/skiff --out /tmp/skiff-bench

Skiff: `skiff run FILE --no-cache --local` (in-process: store, run controller, local backend) in
a fresh SKIFF_HOME per run whose envs/ is a symlink to one python env cache warmed by an untimed
run first. Per-task times come from the local backend's workload records
(<home>/workloads/<id>.json: container startedAt/finishedAt in ns), because the run status's
task start_time/finish_time are RFC 3339 with one-second resolution.

kfp.local: kfp.local.init(runner=SubprocessRunner(use_venv=False)) then the pipeline function
called directly, in a child process with a time limit. kfp.local's SubprocessRunner runs only
lightweight Python components (no container components without docker), so the shell DAG's
kfp.local twin is the same DAG of no-op Python components (pydag_N).
"""
import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_pipelines  # noqa: E402

KFP_LOCAL_CHILD = r"""
import sys, tempfile, time, logging
sys.path.insert(0, sys.argv[1])
import make_pipelines as mp
from kfp import local
logging.disable(logging.INFO)
local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=tempfile.mkdtemp())
pipeline = mp.BUILDERS[sys.argv[2]](int(sys.argv[3]))
t = time.perf_counter()
pipeline()
print("KFP_LOCAL_WALL", time.perf_counter() - t)
"""


# Homes of finished runs, removed at the end: deleting thousands of files right before the next
# timed run makes ext4 slower to create the next run's files (its inode allocator skips recently
# freed inodes), which would charge one run's cleanup to the next.
SPENT_HOMES = []


def skiff_run(skiff, path, env_cache, timeout):
    home = tempfile.mkdtemp(prefix="skiff-bench-home-")
    os.symlink(env_cache, os.path.join(home, "envs"))
    env = dict(os.environ, SKIFF_HOME=home)
    env.pop("SKIFF_SERVER", None)
    t = time.perf_counter()
    try:
        proc = subprocess.run([skiff, "run", path, "--no-cache", "--local"], env=env,
                              capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - t
        ok = proc.returncode == 0
        out = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        wall, ok, out = time.perf_counter() - t, False, "timeout"
    res = {"wall": wall, "ok": ok}
    if not ok:
        res["error"] = out[-2000:]
    res.update(task_times(home))
    res["progress_lines"] = sum(1 for line in out.splitlines() if "tasks done" in line)
    SPENT_HOMES.append(home)
    return res


def task_times(home):
    """Per-task container times from the backend's workload records, grouped into chains."""
    tasks = {}
    for f in glob.glob(os.path.join(home, "workloads", "*.json")):
        with open(f) as fh:
            rec = json.load(fh)
        c = rec["containers"][0]
        if not c.get("finishedAt"):
            continue
        # pychain tasks are named add-one, add-one-2, ...; DAG tasks c<chain>-t<index>.
        name = rec["spec"]["labels"].get("skiff.dev/task", rec["spec"]["id"])
        tasks[name] = (c["startedAt"] / 1e9, c["finishedAt"] / 1e9)
    if not tasks:
        return {"tasks": 0}
    chains = {}
    for name, (s, f) in tasks.items():
        m = re.match(r"c(\d+)-t(\d+)$", name)
        chain, idx = (int(m.group(1)), int(m.group(2))) if m else (0, s)
        chains.setdefault(chain, []).append((idx, s, f))
    own = [f - s for s, f in tasks.values()]
    gaps = []
    for items in chains.values():
        items.sort()
        gaps += [b[1] - a[2] for a, b in zip(items, items[1:])]
    cp_own = max(sum(f - s for _, s, f in items) for items in chains.values())
    return {
        "tasks": len(tasks),
        "own_sum": sum(own),
        "own_median_ms": statistics.median(own) * 1e3,
        "critical_path_own": cp_own,
        "chain_len": max(len(items) for items in chains.values()),
        "hop_gap_median_ms": statistics.median(gaps) * 1e3 if gaps else 0.0,
        "hop_gap_p90_ms": sorted(gaps)[int(len(gaps) * 0.9)] * 1e3 if gaps else 0.0,
        "first_start_to_last_finish": max(f for _, f in tasks.values()) -
                                      min(s for s, _ in tasks.values()),
    }


def kfp_local_run(kind, n, timeout):
    t = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", KFP_LOCAL_CHILD, HERE, kind, str(n)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "wall": time.perf_counter() - t, "error": "timeout"}
    m = re.search(r"KFP_LOCAL_WALL ([0-9.]+)", proc.stdout)
    if proc.returncode != 0 or not m:
        return {"ok": False, "wall": time.perf_counter() - t,
                "error": (proc.stdout + proc.stderr)[-2000:]}
    return {"ok": True, "wall": float(m.group(1)), "process_wall": time.perf_counter() - t}


def direct_shell_cost(count=200):
    t = time.perf_counter()
    for _ in range(count):
        subprocess.run(["sh", "-c", "true"], check=True)
    return (time.perf_counter() - t) / count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skiff", default=os.path.join(HERE, "..", "..", "build", "bench", "skiff"))
    ap.add_argument("--out", default=tempfile.mkdtemp(prefix="skiff-bench-"))
    ap.add_argument("--skiff-timeout", type=int, default=600)
    ap.add_argument("--kfp-local-timeout", type=int, default=600)
    ap.add_argument("--kfp-local-max-tasks", type=int, default=100,
                    help="larger kfp.local runs are extrapolated from this size's per-task time")
    ap.add_argument("--quick", action="store_true", help="10- and 100-task sizes only")
    ap.add_argument("--repeat", type=int, default=3,
                    help="Skiff runs per pipeline; the median one is reported")
    ap.add_argument("--baseline",
                    help="an older skiff binary: run alternately with --skiff, run for run, on "
                         "every pipeline (an A/B on one machine), reported in a second table")
    ap.add_argument("--skip-kfp-local", action="store_true",
                    help="Skiff only (with --baseline: the A/B alone)")
    args = ap.parse_args()
    skiff = os.path.abspath(args.skiff)
    os.makedirs(args.out, exist_ok=True)

    plan = [("shell_dag", 10), ("shell_dag", 100), ("shell_dag", 1000), ("pydag", 10),
            ("pydag", 100), ("pychain", 10), ("pychain", 100)]
    if args.quick:
        plan = [p for p in plan if p[1] <= 100]
    files = {}
    for kind, n in plan + [("pydag", 1000)]:
        files[(kind, n)] = make_pipelines.compile_to(os.path.join(args.out, "ir"), kind, n)

    print(f"machine: {os.cpu_count()} cpus; skiff: {skiff}", flush=True)
    env_cache = os.path.join(args.out, "envs")
    os.makedirs(env_cache, exist_ok=True)
    warm = skiff_run(skiff, files[("pychain", 10)], env_cache, args.skiff_timeout)
    print(f"warm-up (untimed, builds the python env cache): {warm['wall']:.1f}s ok={warm['ok']}",
          flush=True)
    shell_cost = direct_shell_cost()
    print(f"direct `sh -c true` from Python: {shell_cost * 1e3:.2f} ms", flush=True)

    baseline = os.path.abspath(args.baseline) if args.baseline else None
    if baseline:
        # Its own env cache: another version may lay out its cached environments differently.
        base_cache = os.path.join(args.out, "envs-baseline")
        os.makedirs(base_cache, exist_ok=True)
        warm = skiff_run(baseline, files[("pychain", 10)], base_cache, args.skiff_timeout)
        print(f"baseline warm-up (untimed): {warm['wall']:.1f}s ok={warm['ok']}", flush=True)

    results = {"cpus": os.cpu_count(), "direct_sh_true_ms": shell_cost * 1e3, "skiff": {},
               "kfp_local": {}, "baseline": {}}

    def median_run(runs):
        runs.sort(key=lambda r: (not r["ok"], r["wall"]))
        r = dict(runs[len(runs) // 2] if all(x["ok"] for x in runs) else runs[-1])
        r["walls"] = sorted(x["wall"] for x in runs)
        return r

    # Skiff's runs are short, so each is repeated and the run with the median wall time is
    # reported (the walls of all of them are kept): one run is at the mercy of the machine. With
    # a baseline, its runs alternate with Skiff's, so both see the same machine.
    for kind, n in plan:
        runs, base_runs = [], []
        for _ in range(args.repeat):
            runs.append(skiff_run(skiff, files[(kind, n)], env_cache, args.skiff_timeout))
            if baseline:
                base_runs.append(skiff_run(baseline, files[(kind, n)], base_cache,
                                           args.skiff_timeout))
        results["skiff"][f"{kind}_{n}"] = r = median_run(runs)
        print(f"skiff {kind}_{n}: {json.dumps(r)}", flush=True)
        if baseline:
            results["baseline"][f"{kind}_{n}"] = b = median_run(base_runs)
            print(f"baseline {kind}_{n}: {json.dumps(b)}", flush=True)

    for kind, n in plan:
        if args.skip_kfp_local:
            break
        if kind == "shell_dag":
            continue  # kfp.local cannot run container components without docker: see pydag_N
        if n > args.kfp_local_max_tasks:
            continue
        r = kfp_local_run(kind, n, args.kfp_local_timeout)
        results["kfp_local"][f"{kind}_{n}"] = r
        print(f"kfp.local {kind}_{n}: {json.dumps(r)}", flush=True)
    # 1,000-task kfp.local: extrapolated from the largest measured pydag (it runs tasks one by
    # one, so its time is linear in the task count).
    base = results["kfp_local"].get(f"pydag_{args.kfp_local_max_tasks}")
    if base and base["ok"]:
        per = base["wall"] / args.kfp_local_max_tasks
        results["kfp_local"]["pydag_1000"] = {"ok": True, "wall": per * 1000,
                                              "extrapolated_from": args.kfp_local_max_tasks}

    for home in SPENT_HOMES:
        shutil.rmtree(home, ignore_errors=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print_table(results)
    if baseline:
        print_ab_table(results)


def overhead_ms(r, n):
    return (r["wall"] - r.get("critical_path_own", 0)) / n * 1e3


def print_ab_table(results):
    print("\n| pipeline | baseline wall s | skiff wall s | skiff / baseline |"
          " overhead/task ms (baseline, skiff) | hop gap median ms (baseline, skiff) |")
    print("|---|---|---|---|---|---|")
    for key, r in results["skiff"].items():
        b = results["baseline"].get(key)
        if not b:
            continue
        n = int(key.rsplit("_", 1)[1])
        print(f"| {key} | {b['wall']:.2f} | {r['wall']:.2f} | {r['wall'] / b['wall']:.2f} | "
              f"{overhead_ms(b, n):.1f}, {overhead_ms(r, n):.1f} | "
              f"{b.get('hop_gap_median_ms', 0):.0f}, {r.get('hop_gap_median_ms', 0):.0f} |")


def print_table(results):
    print("\n| pipeline | tasks | Skiff wall s | tasks/s | overhead/task ms | hop gap median ms |"
          " kfp.local twin | kfp.local wall s | kfp.local / Skiff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key, r in results["skiff"].items():
        kind, n = key.rsplit("_", 1)
        n = int(n)
        twin = "pydag_" + str(n) if kind == "shell_dag" else key
        k = results["kfp_local"].get(twin)
        over = (r["wall"] - r.get("critical_path_own", 0)) / n * 1e3
        kwall = f"{k['wall']:.1f}" + (" (extrapolated)" if "extrapolated_from" in k else "") \
            if k and k["ok"] else "-"
        ratio = f"{k['wall'] / r['wall']:.1f}x" if k and k["ok"] else "-"
        print(f"| {key} | {n} | {r['wall']:.2f}{'' if r['ok'] else ' FAILED'} | "
              f"{n / r['wall']:.0f} | {over:.1f} | {r.get('hop_gap_median_ms', 0):.0f} | {twin} | "
              f"{kwall} | {ratio} |")


if __name__ == "__main__":
    main()
