#!/usr/bin/env python3
"""Runs clang-tidy (the checks in .clang-tidy, all of them errors) on every Skiff source file.

    tools/clang_tidy.py BUILD_DIR [--jobs N] [FILE ...]

BUILD_DIR is a clang build directory configured and built with Ninja (./test uses build/clang): its
compile_commands.json gives each file's flags and `ninja -t deps` the headers it includes. A file
is checked again only when it, a project header it includes, .clang-tidy, clang-tidy or its compile
command changed: each clean result is remembered as an empty file named by the hash of all that,
in SKIFF_CLANG_TIDY_CACHE (default ~/.cache/skiff/clang-tidy), with the checkout's and the build
directory's paths left out of the hash, so that every checkout on the machine (CI's fresh clone
too) shares them and a run over unchanged files takes seconds. Prints one line per file it checks
and the findings of those that fail; exits 1 when any file has a finding.
"""

import argparse
import concurrent.futures
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys

SOURCE_SUFFIXES = (".cc",)


def find_clang_tidy():
    for name in ("clang-tidy-14", "clang-tidy"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("clang-tidy not found: ./setup installs clang-tidy-14")


def header_deps(build_dir):
    """Maps each object file to the project files (absolute paths) ninja saw it include."""
    out = subprocess.run(["ninja", "-C", build_dir, "-t", "deps"], check=True,
                         capture_output=True, text=True).stdout
    deps, current = {}, None
    for line in out.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            current = line.split(":", 1)[0]
            deps[current] = []
        elif current is not None:
            path = line.strip()
            if not os.path.isabs(path):
                path = os.path.normpath(os.path.join(build_dir, path))
            deps[current].append(path)
    return deps


def object_of(args):
    """The object file a compile command writes (its -o), as ninja's deps name it."""
    for i, arg in enumerate(args[:-1]):
        if arg == "-o":
            return args[i + 1]
    return ""


def file_digest(path, cache):
    if path not in cache:
        try:
            with open(path, "rb") as f:
                cache[path] = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            cache[path] = "missing"
    return cache[path]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("files", nargs="*", help="only these sources (default: all of src/)")
    args = parser.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = os.path.join(root, "src") + os.sep
    build_dir = os.path.abspath(args.build_dir)
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        commands = json.load(f)
    deps = header_deps(build_dir)
    tidy = find_clang_tidy()
    digests = {}
    config = file_digest(os.path.join(root, ".clang-tidy"), digests)
    version = subprocess.run([tidy, "--version"], capture_output=True, text=True).stdout

    wanted = {os.path.abspath(p) for p in args.files}
    jobs = {}
    for entry in commands:
        path = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
        if not path.startswith(src) or not path.endswith(SOURCE_SUFFIXES):
            continue
        if wanted and path not in wanted:
            continue
        if path in jobs:  # a file in two targets: one check is enough
            continue
        command = entry.get("command", " ".join(entry.get("arguments", [])))
        output = entry.get("output") or object_of(entry.get("arguments") or shlex.split(command))
        h = hashlib.sha256()
        h.update(config.encode())
        h.update(version.encode())
        h.update(command.replace(build_dir, "<build>").replace(root, "<root>").encode())
        h.update(os.path.relpath(path, root).encode())
        h.update(file_digest(path, digests).encode())
        for dep in sorted(deps.get(output, [])):
            if dep.startswith(src):
                h.update(os.path.relpath(dep, root).encode())
                h.update(file_digest(dep, digests).encode())
        jobs[path] = h.hexdigest()

    stamps = os.environ.get("SKIFF_CLANG_TIDY_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "skiff", "clang-tidy")
    os.makedirs(stamps, exist_ok=True)

    def stamp_of(key):
        return os.path.join(stamps, key)

    def is_clean(path, key):
        return os.path.exists(stamp_of(key))

    todo = [(p, k) for p, k in sorted(jobs.items()) if not is_clean(p, k)]
    print(f"clang-tidy: {len(jobs)} files, {len(jobs) - len(todo)} unchanged since their last "
          f"clean check, {len(todo)} to check", flush=True)

    def check(item):
        path, key = item
        result = subprocess.run([tidy, "--quiet", "-p", build_dir, path],
                                capture_output=True, text=True)
        if result.returncode == 0:
            with open(stamp_of(key), "w"):
                pass
        return path, result

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for n, (path, result) in enumerate(pool.map(check, todo), 1):
            rel = os.path.relpath(path, root)
            ok = result.returncode == 0
            print(f"[{n}/{len(todo)}] {rel}: {'ok' if ok else 'FAILED'}", flush=True)
            if not ok:
                failed += 1
                print(result.stdout + result.stderr, flush=True)
    if failed:
        print(f"clang-tidy: {failed} of {len(todo)} files have findings (.clang-tidy)")
        return 1
    print("clang-tidy: no findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
