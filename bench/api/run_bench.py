#!/usr/bin/env python3
"""bench/api: throughput and p99 latency of the KFP v2beta1 get-run and list-runs endpoints.

Starts the real binary (`skiff up --port 0`) in a fresh SKIFF_HOME, stores --runs runs through
the API (POST /apis/v2beta1/runs, an inline one-task pipeline whose task runs `echo`), waits until
every run is terminal, then drives wrk (bench/api/load.lua) at each concurrency level:

  get-run     GET /apis/v2beta1/runs/{id}, ids drawn at random from the stored runs
  list-runs   GET /apis/v2beta1/runs?page_size=N

and prints a table and writes it as JSON. Only the Python standard library and wrk are needed.

  bench/api/run_bench.py --skiff build/bench/skiff --out bench/api/results/mine.json
"""
import argparse
import concurrent.futures
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

# One task, one executor running `echo`: quick to finish, so every stored run is terminal and
# carries a status with one task's details, as a real finished run does.
TINY_IR = {
    "pipelineInfo": {"name": "bench-tiny"},
    "schemaVersion": "2.1.0",
    "sdkVersion": "kfp-2.14.3",
    "root": {"dag": {"tasks": {"echo": {"taskInfo": {"name": "echo"},
                                        "componentRef": {"name": "comp-echo"}}}}},
    "components": {"comp-echo": {"executorLabel": "exec-echo"}},
    "deploymentSpec": {"executors": {"exec-echo": {"container": {
        "image": "alpine", "command": ["echo", "hi"]}}}},
}
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"}


class Server:
    def __init__(self, binary, home):
        self.binary, self.home = binary, home
        self.proc, self.url, self.token, self.token_file = None, None, None, None

    def start(self, timeout=60):
        env = dict(os.environ, SKIFF_HOME=self.home)
        env.pop("SKIFF_SERVER", None)
        env.pop("SKIFF_TOKEN", None)
        self.log = open(os.path.join(self.home, "server.log"), "ab")
        self.proc = subprocess.Popen([self.binary, "up", "--port", "0", "--log-level", "warn"],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        server_file = os.path.join(self.home, "server.json")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit("skiff up exited early; see " + self.home + "/server.log")
            if os.path.exists(server_file):
                try:
                    with open(server_file) as f:
                        self.url = json.load(f)["url"]
                except (ValueError, KeyError):
                    time.sleep(0.1)
                    continue
                self.token_file = os.path.join(self.home, "admin-token")
                with open(self.token_file) as f:
                    self.token = f.read().strip()
                try:
                    self.call("GET", "/healthz", auth=False)
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        sys.exit("skiff up did not become ready")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def call(self, method, path, body=None, auth=True):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", "Bearer " + self.token)
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read() or b"{}")

    def cpu_seconds(self):
        """User + system CPU seconds the server process has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def populate(server, count, parallel, wait_timeout):
    t0 = time.time()

    def create(i):
        return server.call("POST", "/apis/v2beta1/runs",
                           {"display_name": f"bench-{i:04d}", "pipeline_spec": TINY_IR})["run_id"]
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        ids = list(pool.map(create, range(count)))
    created_s = time.time() - t0
    deadline = time.time() + wait_timeout
    states = {}
    while time.time() < deadline:
        runs = server.call("GET", f"/apis/v2beta1/runs?page_size={count}")["runs"]
        states = {}
        for r in runs:
            states[r["state"]] = states.get(r["state"], 0) + 1
        if len(runs) == count and sum(v for k, v in states.items() if k in TERMINAL) == count:
            break
        time.sleep(2)
    else:
        sys.exit(f"runs not terminal after {wait_timeout}s: {states}")
    return ids, {"created_seconds": round(created_s, 1),
                 "terminal_seconds": round(time.time() - t0, 1), "states": states}


def run_wrk(server, mode, arg, connections, threads, duration):
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
           "-s", os.path.join(HERE, "load.lua"), server.url, "--", server.token_file, mode, arg]
    cpu0, t0 = server.cpu_seconds(), time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu1, t1 = server.cpu_seconds(), time.time()
    m = re.search(r"^RESULT (.*)$", out, re.M)
    if not m:
        sys.exit("no RESULT line from wrk:\n" + out)
    result = json.loads(m.group(1))
    result["server_cpu_cores"] = round((cpu1 - cpu0) / (t1 - t0), 2)
    result["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skiff", default=os.path.join(HERE, "..", "..", "build", "release", "skiff"))
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--connections", default="1,8,16,32,64",
                    help="comma-separated wrk connection counts (concurrent requests)")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of untimed load first")
    ap.add_argument("--page-sizes", default="10,100")
    ap.add_argument("--populate-parallel", type=int, default=4)
    ap.add_argument("--wait-timeout", type=int, default=1800)
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--label", default="", help="free text stored with the results")
    ap.add_argument("--keep-home", action="store_true")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found (Debian: apt-get install wrk)")

    home = tempfile.mkdtemp(prefix="skiff-bench-api-")
    server = Server(os.path.abspath(args.skiff), home)
    server.start()
    rows = []
    try:
        print(f"skiff up at {server.url}; storing {args.runs} runs ...", flush=True)
        ids, population = populate(server, args.runs, args.populate_parallel, args.wait_timeout)
        print(f"  stored in {population['created_seconds']} s, all terminal after "
              f"{population['terminal_seconds']} s: {population['states']}", flush=True)
        ids_file = os.path.join(home, "run-ids.txt")
        with open(ids_file, "w") as f:
            f.write("\n".join(ids) + "\n")
        sample = server.call("GET", "/apis/v2beta1/runs/" + ids[0])
        population["get_run_body_bytes"] = len(json.dumps(sample, separators=(",", ":")))
        cases = [("get-run", "get", ids_file, None)]
        cases += [(f"list-runs page_size={p}", "list", p, int(p))
                  for p in args.page_sizes.split(",")]
        for name, mode, arg, _ in cases:
            for c in [int(x) for x in args.connections.split(",")]:
                if args.warmup:
                    run_wrk(server, mode, arg, c, args.wrk_threads, args.warmup)
                r = run_wrk(server, mode, arg, c, args.wrk_threads, args.duration)
                r.update({"endpoint": name, "connections": c})
                rows.append(r)
                print(f"  {name:24s} c={c:3d}  {r['rps']:9.1f} req/s  p50 {r['p50_ms']:7.2f} ms"
                      f"  p99 {r['p99_ms']:7.2f} ms  server cpu {r['server_cpu_cores']:.2f}"
                      f"  errors {r['non_2xx'] + r['socket_errors']}", flush=True)
    finally:
        server.stop()
        if not args.keep_home:
            shutil.rmtree(home, ignore_errors=True)

    print("\n| endpoint | connections | req/s | p50 ms | p99 ms | server CPU (cores) | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['endpoint']} | {r['connections']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | "
              f"{r['p99_ms']:.2f} | {r['server_cpu_cores']:.2f} | "
              f"{r['non_2xx'] + r['socket_errors']} |")
    if args.out:
        doc = {"label": args.label, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "loadavg_at_end": os.getloadavg()},
               "wrk": subprocess.run(["wrk", "--version"], capture_output=True,
                                     text=True).stdout.splitlines()[0:1],
               "settings": {"runs": args.runs, "wrk_threads": args.wrk_threads,
                            "duration_s": args.duration, "warmup_s": args.warmup},
               "population": population, "results": rows}
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print("wrote " + args.out)


if __name__ == "__main__":
    main()
