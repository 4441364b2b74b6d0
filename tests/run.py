#!/usr/bin/env python3
"""Run every sealgate test against one or more builds and count the results.

Unit tests come from `meson introspect --tests` (cmocka programs speaking
TAP); protocol, end-to-end and bounded load tests are
tests/{protocol,e2e,load}/test_*.py (TAP through tests/lib/tap.py). With
--fuzz BUILD (a clang fuzz build), each libFuzzer target there runs for
SG_FUZZ_SECONDS (default 20) through tests/fuzz/run_fuzz.py and counts as
one test. Each TAP
"ok"/"not ok" line counts once. The last line printed is "N passed, N
failed"; the exit status is non-zero if anything failed.

    tests/run.py --build build --build build-asan [--fuzz build-fuzz] [--jobs 2] [-k substring]
"""
import argparse
import concurrent.futures
import glob
import json
import os
import re
import subprocess
import sys
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAP_LINE = re.compile(r"^(not ok|ok)\b(?:\s+\d+)?\s*(?:-\s*)?(.*)$")
PLAN = re.compile(r"^1\.\.(\d+)")


def unit_tests(build):
    out = subprocess.run(["meson", "introspect", build, "--tests"], capture_output=True,
                         text=True, check=True).stdout
    for t in json.loads(out):
        env = dict(os.environ)
        env.update(t.get("env") or {})
        yield {"name": f"unit/{t['name']}", "cmd": t["cmd"], "env": env,
               "timeout": max(t.get("timeout") or 30, 120), "cwd": t.get("workdir") or build}


def script_tests(build, kinds):
    for kind in kinds:
        for path in sorted(glob.glob(os.path.join(SRC, "tests", kind, "test_*.py"))):
            env = dict(os.environ)
            env["SEALGATE_BIN"] = os.path.join(os.path.abspath(build), "sealgate")
            env["SEALGATE_BUILD"] = os.path.abspath(build)
            env["PYTHONPATH"] = os.path.join(SRC, "tests", "lib")
            env["PYTHONUNBUFFERED"] = "1"
            yield {"name": f"{kind}/{os.path.basename(path)[:-3]}",
                   "cmd": [sys.executable, path], "env": env, "timeout": 900, "cwd": SRC}


def fuzz_tests(build):
    """One test per fuzz target in build; a build without targets fails."""
    runner = os.path.join(SRC, "tests", "fuzz", "run_fuzz.py")
    build = os.path.abspath(build)
    names = subprocess.run([sys.executable, runner, "--build", build, "--list"],
                           capture_output=True, text=True, check=True).stdout.split()
    seconds = int(os.environ.get("SG_FUZZ_SECONDS", "20"))
    for name in names or [None]:
        yield {"name": f"fuzz/{name or 'none'}",
               "cmd": [sys.executable, runner, "--build", build] + ([name] if name else []),
               "env": dict(os.environ), "timeout": seconds + 400, "cwd": SRC}


def parse_tap(text, rc):
    passed, failed, planned, names = 0, 0, None, []
    for line in text.splitlines():
        m = PLAN.match(line)
        if m and planned is None:
            planned = int(m.group(1))
            continue
        m = TAP_LINE.match(line)
        if not m:
            continue
        if m.group(1) == "ok":
            passed += 1
        else:
            failed += 1
            names.append(m.group(2))
    seen = passed + failed
    if planned is not None and seen < planned:
        failed += planned - seen
        names.append(f"{planned - seen} planned tests did not report")
    if rc != 0 and failed == 0:
        failed += 1
        names.append(f"exit status {rc}")
    if seen == 0 and planned is None and rc == 0:
        failed += 1
        names.append("no TAP output")
    return passed, failed, names


def run_one(t, label, logdir):
    t0 = time.monotonic()
    try:
        p = subprocess.run(t["cmd"], env=t["env"], cwd=t["cwd"], capture_output=True,
                           text=True, errors="replace", timeout=t["timeout"])
        out, rc = p.stdout + ("\n" + p.stderr if p.stderr else ""), p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        out += f"\n# TIMEOUT after {t['timeout']}s"
        rc = -1
    passed, failed, names = parse_tap(out, rc)
    safe = t["name"].replace("/", "_")
    with open(os.path.join(logdir, f"{label}-{safe}.log"), "w") as f:
        f.write(out)
    return t, passed, failed, names, out, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="append", required=True)
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("SG_TEST_JOBS", "3")))
    ap.add_argument("-k", dest="filter", default=None, help="only tests whose name has this")
    ap.add_argument("--kinds", default="protocol,e2e,load")
    ap.add_argument("--fuzz", action="append", default=[], help="a fuzz build to run")
    ap.add_argument("--fuzz-jobs", type=int, default=int(os.environ.get("SG_FUZZ_JOBS", "2")))
    args = ap.parse_args()

    total_pass = total_fail = 0
    failures = []
    stages = [(b, False) for b in args.build] + [(b, True) for b in args.fuzz]
    for build, fuzz in stages:
        label = os.path.basename(os.path.normpath(build))
        logdir = os.path.join(build, "testlogs")
        os.makedirs(logdir, exist_ok=True)
        if fuzz:
            tests = list(fuzz_tests(build))
        else:
            tests = list(unit_tests(build)) + list(script_tests(build, args.kinds.split(",")))
        if args.filter:
            tests = [t for t in tests if args.filter in t["name"]]
        print(f"== {label}: {len(tests)} test programs", flush=True)
        jobs = args.fuzz_jobs if fuzz else args.jobs
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            futs = [pool.submit(run_one, t, label, logdir) for t in tests]
            for fut in concurrent.futures.as_completed(futs):
                t, p, f, names, out, took = fut.result()
                total_pass += p
                total_fail += f
                mark = "FAIL" if f else "ok  "
                print(f"{mark} [{label}] {t['name']}: {p} passed, {f} failed ({took:.1f}s)",
                      flush=True)
                if f:
                    failures.append((label, t["name"], names, out))
    for label, name, names, out in failures:
        print(f"\n---- [{label}] {name}: failed: {'; '.join(names)[:500]}")
        tail = out.strip().splitlines()[-60:]
        print("\n".join("    " + x for x in tail))
    print(f"{total_pass} passed, {total_fail} failed", flush=True)
    sys.exit(1 if total_fail else 0)


if __name__ == "__main__":
    main()
