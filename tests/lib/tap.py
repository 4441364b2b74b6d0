"""A tiny TAP producer for sealgate's protocol and end-to-end tests.

Each test is a plain function decorated with @test; run() prints a TAP plan,
one "ok"/"not ok" line per test, and the failure's traceback as comments.
tests/run.py reads the output and counts the results.
"""
import sys
import time
import traceback

_tests = []


def test(fn):
    _tests.append(fn)
    return fn


def run(setup=None, teardown=None):
    """setup() -> ctx is passed to each test (when given); teardown(ctx) runs
    last and counts as a failure if it raises."""
    print(f"1..{len(_tests)}", flush=True)
    failed = 0
    ctx = setup() if setup else None
    try:
        for i, fn in enumerate(_tests, 1):
            name = fn.__name__
            t0 = time.monotonic()
            try:
                fn(ctx) if setup else fn()
                print(f"ok {i} - {name} ({time.monotonic() - t0:.2f}s)", flush=True)
            except BaseException as e:  # noqa: BLE001 - report everything, go on
                failed += 1
                print(f"not ok {i} - {name}", flush=True)
                for line in traceback.format_exception(e):
                    for sub in line.rstrip().splitlines():
                        print(f"# {sub}", flush=True)
                if isinstance(e, KeyboardInterrupt):
                    break
    finally:
        if teardown:
            try:
                teardown(ctx)
            except BaseException as e:  # noqa: BLE001
                failed += 1
                print("not ok - teardown", flush=True)
                for line in traceback.format_exception(e):
                    print(f"# {line.rstrip()}", flush=True)
    sys.exit(1 if failed else 0)
