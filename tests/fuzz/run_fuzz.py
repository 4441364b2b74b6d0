#!/usr/bin/env python3
"""Run sealgate's libFuzzer targets for a bounded time and report TAP.

Each target runs once: libFuzzer first replays its committed seed corpus
(tests/fuzz/corpus/<name>/, where fuzz_<a>_<b> falls back to
corpus/<a>/<b>/), then mutates for --seconds. One TAP line per target:
"ok" when the seeds replay clean and no input crashed, leaked, timed out or
ran out of memory during the run. The grown corpus goes to a temporary
folder (or --corpus-out), so the committed seeds never change by accident.
A finding is kept in BUILD/fuzz-artifacts/ and printed as hex, so a CI log
is enough to reproduce it.

    tests/fuzz/run_fuzz.py --build build-fuzz [--seconds 20] [--summary F] [TARGET...]
    tests/fuzz/run_fuzz.py --build build-fuzz --list
    tests/fuzz/run_fuzz.py --build build-fuzz --prepare

--prepare sets the fuzz build up when it is missing (CC=clang meson setup
BUILD -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false) and builds
the fuzz targets only, not the rest of the tree; scripts/test runs it.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ_SRC = os.path.join(SRC, "tests", "fuzz")
DONE = re.compile(r"^#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
STAT = re.compile(r"^stat::(\w+):\s+(\d+)")
HEX_MAX = 4096


def targets(build):
    """Names of the fuzz targets built in build/tests/fuzz/."""
    out = []
    for path in sorted(glob.glob(os.path.join(build, "tests", "fuzz", "fuzz_*"))):
        name = os.path.basename(path)
        if os.access(path, os.X_OK) and os.path.isfile(path) and "." not in name:
            out.append(name)
    return out


def prepare(build):
    """Set up the clang fuzz build if needed and build only its fuzz targets."""
    if not os.path.isfile(os.path.join(build, "build.ninja")):
        env = dict(os.environ, CC="clang")
        subprocess.run(["meson", "setup", build, "-Dfuzz=true", "-Db_sanitize=address,undefined",
                        "-Db_lundef=false"], cwd=SRC, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    # an existing build dir regenerates first, so the target list is current
    subprocess.run(["ninja", "-C", build, "build.ninja"], cwd=SRC, check=True,
                   stdout=subprocess.DEVNULL)
    out = subprocess.run(["meson", "introspect", build, "--targets"], cwd=SRC,
                         capture_output=True, text=True, check=True).stdout
    names = [t["name"] for t in json.loads(out)
             if t["type"] == "executable" and t["name"].startswith("fuzz_")]
    if not names:
        raise SystemExit(f"run_fuzz: no fuzz targets in {build} (configured without -Dfuzz=true?)")
    p = subprocess.run(["ninja", "-C", build] + [f"tests/fuzz/{n}" for n in names], cwd=SRC,
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.stdout.write(p.stdout[-20000:] + p.stderr[-5000:])
        raise SystemExit(f"run_fuzz: building the fuzz targets in {build} failed")
    print(f"run_fuzz: built {len(names)} fuzz targets in {build}")


def corpus_dir(name):
    short = name[len("fuzz_"):]
    d = os.path.join(FUZZ_SRC, "corpus", short)
    if os.path.isdir(d):
        return d
    if "_" in short:
        head, tail = short.split("_", 1)
        d = os.path.join(FUZZ_SRC, "corpus", head, tail)
        if os.path.isdir(d):
            return d
    return None


def fuzz_one(build, name, seconds, corpus_out, timeout_s):
    exe = os.path.join(build, "tests", "fuzz", name)
    seeds = corpus_dir(name)
    dict_path = os.path.join(FUZZ_SRC, name[len("fuzz_"):] + ".dict")
    artifacts = os.path.join(os.path.abspath(build), "fuzz-artifacts", name)
    os.makedirs(artifacts, exist_ok=True)
    work = corpus_out or tempfile.mkdtemp(prefix=f"sg-{name}-")
    os.makedirs(work, exist_ok=True)
    cmd = [exe, f"-max_total_time={seconds}", f"-timeout={timeout_s}", "-rss_limit_mb=2048",
           "-print_final_stats=1", f"-artifact_prefix={artifacts}/", work]
    if os.path.isfile(dict_path):
        cmd.insert(1, f"-dict={dict_path}")
    if seeds:
        cmd.append(seeds)
    env = dict(os.environ)
    # libFuzzer reports leaks itself; UBSan must stop on the first report.
    env.setdefault("ASAN_OPTIONS", "")
    env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    before = set(os.listdir(artifacts))
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, errors="replace",
                           timeout=seconds + 300)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stderr.decode("utf-8", "replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        out += f"\nrun_fuzz: {name} did not stop within {seconds + 300}s"
        rc = -1
    took = time.monotonic() - t0
    found = sorted(set(os.listdir(artifacts)) - before)
    res = {"target": name, "seconds": round(took, 1), "rc": rc, "seeds": seeds,
           "findings": [os.path.join(artifacts, f) for f in found]}
    for line in out.splitlines():
        m = DONE.match(line)
        if m:
            res.update(runs=int(m.group(1)), cov=int(m.group(2)), ft=int(m.group(3)),
                       corpus=int(m.group(4)))
        m = STAT.match(line)
        if m:
            res[m.group(1)] = int(m.group(2))
    if corpus_out is None:
        shutil.rmtree(work, ignore_errors=True)
    return res, out


def report(i, res, out):
    name = res["target"]
    ok = res["rc"] == 0 and not res["findings"] and "runs" in res
    detail = (f"{name}: {res['seconds']:.0f}s, {res.get('runs', 0)} runs, "
              f"cov {res.get('cov', 0)}, corpus {res.get('corpus', 0)}")
    if res["seeds"] is None:
        detail += ", no seed corpus"
    print(f"{'ok' if ok else 'not ok'} {i} - {detail}", flush=True)
    if ok:
        return True
    tail = out.strip().splitlines()[-80:]
    for line in tail:
        print(f"# {line}")
    for path in res["findings"]:
        with open(path, "rb") as f:
            data = f.read()
        print(f"# finding {path} ({len(data)} bytes), hex:")
        h = data[:HEX_MAX].hex()
        for k in range(0, len(h), 96):
            print(f"#   {h[k:k + 96]}")
    print(f"# reproduce: {os.path.join(res.get('build', ''), 'tests/fuzz', name)} FILE",
          flush=True)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, help="the clang fuzz build directory")
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("SG_FUZZ_SECONDS", "20")))
    ap.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    ap.add_argument("--corpus-out", help="keep each target's grown corpus in DIR/<target>")
    ap.add_argument("--summary", help="append one JSON line per target to this file")
    ap.add_argument("--list", action="store_true", help="print the targets and exit")
    ap.add_argument("--prepare", action="store_true", help="set up and build, then exit")
    ap.add_argument("target", nargs="*")
    args = ap.parse_args()

    if args.prepare:
        prepare(args.build)
        return 0
    names = args.target or targets(args.build)
    if args.list:
        print("\n".join(names))
        return 0
    if not names:
        print(f"1..1\nnot ok 1 - no fuzz targets built in {args.build}", flush=True)
        return 1
    print(f"1..{len(names)}", flush=True)
    failed = 0
    for i, name in enumerate(names, 1):
        if not os.path.isfile(os.path.join(args.build, "tests", "fuzz", name)):
            print(f"not ok {i} - {name}: not built in {args.build}", flush=True)
            failed += 1
            continue
        out_dir = os.path.join(args.corpus_out, name) if args.corpus_out else None
        res, out = fuzz_one(args.build, name, args.seconds, out_dir, args.timeout)
        res["build"] = args.build
        if not report(i, res, out):
            failed += 1
        if args.summary:
            with open(args.summary, "a") as f:
                f.write(json.dumps(res) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
