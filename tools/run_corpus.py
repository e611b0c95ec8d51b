#!/usr/bin/env python3
"""Runs the KFP IR corpus through `skiff run --local` and records which files run to success.

Each file is first classified by its executors: containers on a Python image (lightweight
components) or a small POSIX-shell image (alpine, busybox, bash, ubuntu) can run on the local
backend; anything else (Vertex/GCP images, GPUs, Kubernetes-only volumes, placeholder images) is
"not runnable locally" with the reason. Runnable files run one after another with one SKIFF_HOME
shared by all of them (so the cached Python environments are reused), a per-file timeout, and
pipeline parameters without a default filled from PARAMETERS below (or a typed sample value).

    tools/run_corpus.py --skiff build/runs/skiff --out tests/conformance/kfp_runs.json
    tools/run_corpus.py --only add_numbers.yaml flip_coin.yaml   # a subset, printed

The JSON maps file name -> {"result": "runs" | "fails" | "not runnable", "reason": str,
"seconds": float}. The conformance test (src/pipelines/conformance_test.cc) reads it to fill the
"runs to success" column of tests/conformance/kfp_ir.md.
"""
import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def corpus_root():
    """The shared corpus: $SKIFF_CORPUS, else <source dir>/../shared/corpus, the source dir being
    $SKIFF_SOURCE_DIR or this checkout. The C++ tests find it the same way (CorpusDir() in
    src/pipelines/engine_testing.h), the e2e tests through this function."""
    if os.environ.get("SKIFF_CORPUS"):
        return os.path.normpath(os.environ["SKIFF_CORPUS"])
    source = os.environ.get("SKIFF_SOURCE_DIR") or REPO
    return os.path.normpath(os.path.join(source, "..", "shared", "corpus"))


def default_corpus():
    return os.path.join(corpus_root(), "kfp", "ir")


def corpus_missing():
    """Why the KFP IR corpus cannot be read ("" when it can): a message naming the folder."""
    ir = default_corpus()
    if os.path.isdir(ir):
        return ""
    return f"the shared corpus is not here: {ir} is missing (set SKIFF_CORPUS to the corpus folder)"


FRESH_FILE = object()  # parameter value: a path that does not exist yet

# Parameters without a default, per file: sensible values so the pipeline does real work.
PARAMETERS = {
    "add_numbers.yaml": {"a": 3, "b": 4},
    "pipeline_with_retry.yaml": {"a": 1.0, "b": 7.0},
    "backend-test-v2_env-var.yaml": {"env_var": "PATH"},
    "env-var.yaml": {"env_var": "PATH"},
    # The flaky task counts its attempts in this file (fresh per run, so it fails once).
    "local_execution_pipeline_with_retry.yaml": {"counter_path": FRESH_FILE},
}

def _config(kind, name, **data):
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "stringData": data}


# Secrets and ConfigMaps that pipelines read, created in the run's namespace before it runs (KFP's
# own tests create them in the cluster first). Values are those the components assert.
FIXTURES = {
    "config_map_as_env.yaml": [_config("ConfigMap", "my-cm", foo="bar")],
    "config_map_as_vol.yaml": [_config("ConfigMap", "my-cm", foo="bar")],
    "secret_as_env.yaml": [_config("Secret", "my-secret", password="s3cret")],
    "secret_as_vol.yaml": [_config("Secret", "my-secret", password="s3cret")],
    "parallel_for_secret.yaml": [_config("Secret", "test-secret-1", username="user1")],
    "nested_parallel_for_secret.yaml": [_config("Secret", "test-secret-1", username="user1")],
    "pipeline_with_secret_as_volume.yaml": [_config("Secret", "test-secret-1", username="user1")],
    "pipeline_with_secret_as_env.yaml": [
        _config("Secret", "test-secret-1", username="user1"),
        _config("Secret", "test-secret-2", password="psw1"),
        _config("Secret", "test-secret-3", password="psw2"),
    ],
}

# Pipelines whose run is meant to fail (KFP's own tests use them for failure handling).
# file -> the task that must be the one failing.
FAILS_BY_DESIGN = {
    "fail_v2.yaml": "fail",
    "local_execution_pipeline_with_ignore_upstream_failure.yaml": "fail-always",
    "pipeline_as_exit_task.yaml": "exit-handler-1.fail-op",
    "pipeline_with_exit_handler.yaml": "exit-handler-1.fail-op",
    "pipeline_with_multiple_exit_handlers.yaml": "exit-handler-1.fail-op",
    "pipeline_with_task_final_status.yaml": "exit-handler-1.fail-op",
    "pipeline_with_task_using_ignore_upstream_failure.yaml": "fail-op",
}


# Files that cannot run to success here for a reason outside Skiff, found by running them: each
# also fails on Kubeflow Pipelines itself (compile-only samples), or needs a service or package
# this machine cannot reach. They count as "not runnable", with the reason.
OUTSIDE_SKIFF = {
    "component_with_task_final_status_GH-12033.yaml":
        "compile-only sample: its task needs a PipelineTaskFinalStatus, which only an exit "
        "handler supplies (kfp's executor fails on None, on KFP too)",
    "create_pod_metadata_complex.yaml":
        "compile-only sample: validate-no-pod-metadata expects an unset env var to read as \"\" "
        "(os.getenv gives None, on KFP too)",
    "embedded_artifact.yaml":
        "pins kfp 2.14.3, which has no dsl.EmbeddedInput (compiled by a newer SDK; fails on KFP too)",
    "pipeline_with_artifact_custom_path.yaml":
        "pins kfp 2.14.6, which has no Artifact.set_path (compiled by a newer SDK; fails on KFP too)",
    "pipeline_with_artifact_upload_download.yaml":
        "downloads a dataset from the Hugging Face Hub, which this machine cannot reach",
    "ray_integration_compiled.yaml": "needs a Ray cluster",
    "upload_download_compiled.yaml":
        "reads its artifact back from KFP's MinIO object store with the minio client",
    "modelcar.yaml": "needs an OCI model registry (oci:// model image)",
    "pipelinespec.yaml": "pins kfp 2.14.0, which the package index here does not have",
    "frontend-test_lightweight_python_functions_v2_pipeline_rev.yaml":
        "pins kfp 2.0.0-alpha.1, whose PyYAML<6 does not build on Python 3.11 with Cython 3",
    "lightweight_python_functions_v2_pipeline.json":
        "pins kfp 1.8.0, whose PyYAML<6 does not build on Python 3.11 with Cython 3",
    "pipeline_with_loops_and_conditions.json":
        "pins kfp 1.8.9, whose PyYAML<6 does not build on Python 3.11 with Cython 3",
    "protobuf_value_params_v2.json":
        "pins kfp 1.8.6, whose PyYAML<6 does not build on Python 3.11 with Cython 3",
}


def by_design(file, result):
    """A failed run of a fails-by-design file whose designated task failed counts as a success."""
    task = FAILS_BY_DESIGN.get(file)
    if result["result"] == "fails" and task and result["reason"].startswith(task + ":"):
        return {"result": "runs", "reason": f"fails by design ({task}), as it should",
                "seconds": result["seconds"]}
    return result

PYTHON_IMAGE = re.compile(
    r"^((docker\.io/)?(library/)?python|public\.ecr\.aws/docker/library/python|"
    r"registry\.access\.redhat\.com/ubi\d+/python-\d+)(:|@|$)")
SHELL_IMAGE = re.compile(
    r"^((docker\.io/)?(library/)?(alpine|busybox|bash|ubuntu|debian)|"
    r"ghcr\.io/containerd/busybox)(:|@|$)")
SHELL_PROGRAMS = {"sh", "bash", "/bin/sh", "/bin/bash", "echo", "cat", "ls", "sleep", "true",
                  "false", "printf", "mkdir", "touch", "test", "env"}
# Binaries that the local machine (or a small image) does not have.
FOREIGN_BINARIES = re.compile(r"\b(gsutil|gcloud|bq|kubectl|nvidia-smi|curl|jq|docker)\b")


def sample(parameter_type):
    return {"NUMBER_INTEGER": 1, "NUMBER_DOUBLE": 1.5, "BOOLEAN": True, "LIST": ["a", "b"],
            "STRUCT": {"a": "1"}}.get(parameter_type, "hello")


def load(path):
    with open(path) as f:
        if path.endswith(".json"):
            return [json.load(f)]
        return [d for d in yaml.safe_load_all(f) if d is not None]


def platform_entries(platform, key):
    """The `key` entries (e.g. secretAsEnv) of every executor in a `platforms:` document."""
    executors = (platform.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {})
                 .get("executors", {}))
    return [e for ex in executors.values() for e in ex.get(key, []) if isinstance(e, dict)]


def classify(docs, file=None):
    """Returns None when the file can run locally, else the reason it cannot."""
    if file in OUTSIDE_SKIFF:
        return OUTSIDE_SKIFF[file]
    spec = docs[0] if docs else None
    if not isinstance(spec, dict) or "root" not in spec:
        return "not a pipeline spec"
    root_artifacts = spec["root"].get("inputDefinitions", {}).get("artifacts", {})
    if root_artifacts:
        return (f"needs pipeline input artifacts ({', '.join(sorted(root_artifacts))}), "
                "which `skiff run -p` cannot supply")
    platform = docs[1] if len(docs) > 1 and isinstance(docs[1], dict) else {}
    k8s = json.dumps(platform)
    # pvcMount, emptyDir, nodeAffinity and the like the launcher handles locally; Secrets and
    # ConfigMaps come from Skiff's store, where FIXTURES puts those the pipelines read.
    if file not in FIXTURES:
        for key, why in (("secretAsVolume", "mounts a Secret the runner has no fixture for"),
                         ("secretAsEnv", "reads a Secret the runner has no fixture for"),
                         ("configMapAsVolume", "mounts a ConfigMap the runner has no fixture for"),
                         ("configMapAsEnv", "reads a ConfigMap the runner has no fixture for")):
            if any(not e.get("optional", False) for e in platform_entries(platform, key)):
                return why
    if '"createPvc"' in k8s:
        return "creates a Kubernetes PVC"
    executors = spec.get("deploymentSpec", {}).get("executors", {})
    for name, ex in sorted(executors.items()):
        if "importer" in ex:
            uri = json.dumps(ex["importer"].get("artifactUri", {}))
            if "gs://" in uri or "s3://" in uri or "minio://" in uri:
                return f"{name}: imports from object storage ({uri.strip('{}')[:60]})"
            continue
        if "resolver" in ex:
            return f"{name}: resolver executors need ML Metadata"
        if "customJob" in ex:
            return f"{name}: Vertex AI custom job"
        c = ex.get("container")
        if c is None:
            return f"{name}: unsupported executor kind {sorted(ex)}"
        image = c.get("image", "")
        if image in ("argostub/createpvc", "argostub/deletepvc"):
            continue  # kfp-kubernetes' PVC operations: the launcher carries them out
        if "/gcs/" in json.dumps(c):
            return f"{name}: reads gs:// artifacts through Cloud Storage FUSE at /gcs (Vertex AI)"
        text = " ".join(str(x) for x in c.get("command", []) + c.get("args", []))
        res = c.get("resources", {})
        if "accelerator" in res or "nvidia" in json.dumps(res).lower():
            return f"{name}: needs a GPU"
        if "google_cloud_pipeline_components" in text or "google.cloud" in text:
            return f"{name}: uses Google Cloud (google_cloud_pipeline_components)"
        if PYTHON_IMAGE.match(image):
            prog = (c.get("command") or c.get("args") or [""])[0]
            if (isinstance(prog, str) and prog not in SHELL_PROGRAMS and
                    not re.match(r"^(/usr/bin/|/bin/)?(sh|bash|python3?)$", prog)):
                return f"{name}: {image} runs {prog!r}, which only the real image has"
            if FOREIGN_BINARIES.search(text) and "executor_main" not in text:
                return f"{name}: runs {FOREIGN_BINARIES.search(text).group(1)}"
            continue
        if SHELL_IMAGE.match(image):
            prog = (c.get("command") or c.get("args") or [""])[0]
            if isinstance(prog, str) and prog not in SHELL_PROGRAMS:
                return f"{name}: {image} runs {prog!r}, not a POSIX shell command"
            if FOREIGN_BINARIES.search(text):
                return f"{name}: runs {FOREIGN_BINARIES.search(text).group(1)}"
            continue
        if "gcr.io" in image or "pkg.dev" in image or "google" in image:
            return f"{name}: Google Cloud image {image}"
        return f"{name}: image {image} is neither Python nor a POSIX shell"
    return None


def parameters_for(file, spec):
    values = dict(PARAMETERS.get(file, {}))
    for name, v in values.items():
        if v is FRESH_FILE:
            fd, fresh = tempfile.mkstemp(prefix="skiff-corpus-")
            os.close(fd)
            os.unlink(fresh)
            values[name] = fresh
    for name, d in spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {}).items():
        if name in values or "defaultValue" in d or d.get("isOptional"):
            continue
        values[name] = sample(d.get("parameterType", "STRING"))
    return values


def failure_reason(out):
    """The most telling line of `skiff run` output: the first task failure, else the run's."""
    lines = out.splitlines()
    for line in lines:
        m = re.search(r"\s(\S+)\s+FAILED(?: \(attempt \d+\))?: (.*)$", line)
        if m:
            return f"{m.group(1)}: {m.group(2)}"[:300]
    for line in lines:
        if line.startswith("run ") and " FAILED" in line:
            return line[:300]
        if line.startswith("error: "):
            return line[7:300]
    return (lines[-1] if lines else "no output")[:300]


def skiff_env(home):
    """The environment of a `skiff` command bound to `home`, not to a server named elsewhere."""
    env = dict(os.environ, SKIFF_HOME=home, ASAN_OPTIONS="detect_leaks=0")
    env.pop("SKIFF_SERVER", None)
    return env


def run_file(skiff, home, path, params, timeout, local=True):
    """Runs one file in-process (local) or on the server whose SKIFF_HOME is `home`."""
    cmd = [skiff, "run"] + (["--local"] if local else []) + [path]
    for k, v in params.items():
        cmd += ["-p", f"{k}={v if isinstance(v, str) else json.dumps(v)}"]
    env = skiff_env(home)
    start = time.time()
    # Its own session, so that a timeout stops the run and every task process it started.
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, _ = proc.communicate()
        return {"result": "fails", "reason": f"timed out after {timeout}s",
                "seconds": round(time.time() - start, 1), "output": (stdout or "")[-2000:]}
    res = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    seconds = round(time.time() - start, 1)
    out = res.stdout + res.stderr
    if res.returncode == 0:
        return {"result": "runs", "reason": "", "seconds": seconds}
    reason = failure_reason(out)
    log_tail = failed_task_log(home, out)
    if log_tail:
        reason += " | log: " + log_tail
    return by_design(os.path.basename(path), {"result": "fails", "reason": reason[:400],
                                              "seconds": seconds, "output": out[-2000:]})


def run_with_fixtures(skiff, home, path, params, timeout, objects):
    """Starts `skiff up` in `home`, applies `objects` (Secrets, ConfigMaps) to the default
    namespace, runs the file on that server and stops it."""
    env = skiff_env(home)
    server_file = os.path.join(home, "server.json")
    if os.path.exists(server_file):
        os.unlink(server_file)
    with open(os.path.join(home, "server.log"), "ab") as log:
        server = subprocess.Popen([skiff, "up", "--port", "0"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 60
        while not os.path.exists(server_file):
            if server.poll() is not None or time.time() > deadline:
                return {"result": "fails", "reason": "skiff up did not start (see server.log)",
                        "seconds": 0}
            time.sleep(0.1)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump_all(objects, f)
            f.flush()
            applied = subprocess.run([skiff, "apply", "-f", f.name], env=env,
                                     capture_output=True, text=True, timeout=60)
        if applied.returncode != 0:
            return {"result": "fails", "reason": "applying fixtures: " + applied.stderr[-300:],
                    "seconds": 0}
        return run_file(skiff, home, path, params, timeout, local=False)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def failed_task_log(home, out):
    """The last line of the first failed task's log (the exception, usually), or "".

    Logs of in-process runs live in $SKIFF_HOME/logs/<run uid>.root.<task path>.<attempt>.<container>.log."""
    task = re.search(r"^\[\s*[\d.]+s\] (\S+)\s+FAILED", out, re.M)
    if not task:
        return ""
    logs = glob.glob(os.path.join(home, "logs", f"*.root.{task.group(1)}.*.log"))
    if not logs:
        return ""
    with open(max(logs, key=os.path.getmtime), errors="replace") as f:
        lines = [l.strip() for l in f.read().splitlines() if l.strip()]
    return lines[-1][:200] if lines else ""


def merge(inputs, corpus, out):
    results = {}
    for path in inputs:
        with open(path) as f:
            results.update(json.load(f))
    for file in sorted(os.listdir(corpus)):
        if file not in results:
            print(f"{file}: missing from the results", file=sys.stderr)
            continue
        reason = classify(load(os.path.join(corpus, file)), file) if not file.startswith(
            "invalid_") else "negative vector (refused by the parser)"
        if reason is not None:
            results[file] = {"result": "not runnable", "reason": reason, "seconds": 0}
        results[file] = by_design(file, results[file])
        results[file].pop("output", None)
    if out:
        with open(out, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
            f.write("\n")
    counts = {}
    for r in results.values():
        counts[r["result"]] = counts.get(r["result"], 0) + 1
    print(json.dumps(counts, sort_keys=True))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skiff", default=os.environ.get("SKIFF_BINARY",
                                                      os.path.join(REPO, "build/runs/skiff")))
    ap.add_argument("--corpus", default=default_corpus())
    ap.add_argument("--home", default="/tmp/skiff-corpus-home")
    ap.add_argument("--out", help="write results as JSON here")
    ap.add_argument("--timeout", type=int, default=180)
    ap.add_argument("--only", nargs="*", help="run only these files")
    ap.add_argument("--keep-output", action="store_true", help="keep run output in the JSON")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="combine earlier results (e.g. from runs split over several homes), "
                         "re-classifying each file with the current rules, into --out")
    args = ap.parse_args()
    if not os.path.isdir(args.corpus):
        print(f"run_corpus: {args.corpus} is missing (set SKIFF_CORPUS or pass --corpus)",
              file=sys.stderr)
        return 2
    if args.merge:
        return merge(args.merge, args.corpus, args.out)
    os.makedirs(args.home, exist_ok=True)
    files = args.only or sorted(os.listdir(args.corpus))
    results = {}
    for i, file in enumerate(files):
        path = os.path.join(args.corpus, file)
        try:
            docs = load(path)
            reason = classify(docs, file)
        except Exception as e:  # an unreadable file is a result, not a crash of the tool
            docs, reason = [], f"cannot read: {e}"
        if file.startswith("invalid_"):
            reason = "negative vector (refused by the parser)"
        if reason is not None:
            results[file] = {"result": "not runnable", "reason": reason, "seconds": 0}
        else:
            params = parameters_for(file, docs[0])
            if file in FIXTURES:
                results[file] = run_with_fixtures(args.skiff, args.home, path, params,
                                                  args.timeout, FIXTURES[file])
            else:
                results[file] = run_file(args.skiff, args.home, path, params, args.timeout)
        r = results[file]
        print(f"[{i + 1}/{len(files)}] {file}: {r['result']} {r['reason']} ({r['seconds']}s)",
              flush=True)
        if not args.keep_output:
            r.pop("output", None)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(results, f, indent=1, sort_keys=True)
                f.write("\n")
    counts = {}
    for r in results.values():
        counts[r["result"]] = counts.get(r["result"], 0) + 1
    print(json.dumps(counts, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
