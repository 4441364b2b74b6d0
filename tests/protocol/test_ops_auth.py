"""Operations: abuse limits over IMAP. Failed logins are answered after a
delay that doubles (a timer: other sessions are not held up), a configured
number of failures locks the address and the account, a burst of parallel
guesses gets no more password checks than the lock allows, and a locked
address is turned away before TLS. Acceptance: 1,000 failed logins from
one address cost the daemon no more CPU than 1,000 NOOPs.

Submission and the portal share gw_auth.c with IMAP; their own transcripts
belong with their protocols (not in the tree when this was written)."""
import concurrent.futures
import json
import os
import socket
import ssl
import time

from sgimap import PASSWORD, add_user
from sgtest import Daemon
from tap import run, test

D = None       # delays and locks
C = None       # CPU measurement
TICK = os.sysconf("SC_CLK_TCK")


def setup():
    global D, C
    os.environ.setdefault("SEALGATE_ALLOW_ROOT", "1")
    D = Daemon("ops-auth", conf={"limits": {
        "auth_delay": "1s", "auth_delay_max": "4s", "auth_lock_after": "4",
        "auth_lock_time": "15m"}}).start()
    for u in ("bob", "carol", "erin"):
        add_user(D, f"{u}@ext.test")
    # auth_lock_after 3: each check before the lock is one Argon2id run (about
    # 70 ms of CPU here), the one cost a failed login cannot avoid; 1,000
    # NOOP sessions cost about 0.5 s, mostly TLS handshakes.
    C = Daemon("ops-authcpu", conf={"limits": {
        "auth_delay": "1s", "auth_delay_max": "1s", "auth_lock_after": "3",
        "auth_lock_time": "15m"}, "gateway": {"log_level": "info"}}).start()
    add_user(C, "dave@ext.test")


class Client:
    """One IMAPS connection from a chosen loopback address."""

    def __init__(self, d, source="127.0.0.1", ctx=None):
        raw = socket.create_connection(("127.0.0.1", d.imaps_port), timeout=30,
                                       source_address=(source, 0))
        self.s = (ctx or d.ssl_context()).wrap_socket(raw, server_hostname="localhost")
        self.f = self.s.makefile("rb")
        self.greeting = self.f.readline()
        self.n = 0

    def cmd(self, line):
        self.n += 1
        tag = f"t{self.n}"
        self.s.sendall(f"{tag} {line}\r\n".encode())
        while True:
            r = self.f.readline()
            if not r or r.startswith(tag.encode() + b" "):
                return r

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def timed_login(c, user, pw):
    t0 = time.monotonic()
    r = c.cmd(f'LOGIN "{user}" "{pw}"')
    return r, time.monotonic() - t0


@test
def delays_double_then_the_lock_refuses_even_the_right_password():
    c = Client(D, "127.0.0.3")
    took = []
    for _ in range(4):
        r, t = timed_login(c, "bob@ext.test", "wrong")
        assert b"NO [AUTHENTICATIONFAILED]" in r, r
        took.append(t)
    # 1 s, 2 s, 4 s, 4 s (auth_delay 1s doubling, auth_delay_max 4s)
    for want, got in zip((1, 2, 4, 4), took):
        assert want - 0.1 <= got <= want + 1.5, took
    r, t = timed_login(c, "bob@ext.test", PASSWORD)
    assert b"NO [UNAVAILABLE]" in r, r
    c.close()


@test
def a_waiting_failure_does_not_hold_up_other_sessions():
    slow = Client(D, "127.0.0.7")
    slow.s.sendall(b'x1 LOGIN "carol@ext.test" "wrong"\r\n')
    time.sleep(0.1)
    other = Client(D, "127.0.0.8")
    t0 = time.monotonic()
    for _ in range(20):
        assert other.cmd("NOOP").startswith(b"t")
    assert time.monotonic() - t0 < 1.0, "NOOPs waited for the delayed failure"
    assert b"NO" in slow.f.readline()
    slow.close()
    other.close()


@test
def the_lock_covers_address_and_account_and_is_audited():
    # The locked address is turned away before TLS, even for another account.
    raw = socket.create_connection(("127.0.0.1", D.imap_port), timeout=10,
                                   source_address=("127.0.0.3", 0))
    assert raw.recv(200).startswith(b"* BYE"), "locked address got a session"
    raw.close()
    # The locked account cannot log in from elsewhere either...
    c = Client(D, "127.0.0.4")
    r, _ = timed_login(c, "bob@ext.test", PASSWORD)
    assert b"NO [UNAVAILABLE]" in r, r
    # ...while others log in from there.
    r, _ = timed_login(c, "erin@ext.test", PASSWORD)
    assert b"OK" in r, r
    c.close()
    out = D.cli("audit", "--json", "--account", "bob@ext.test", check=True).stdout
    events = [json.loads(x) for x in out.splitlines()]
    fails = [e for e in events if e["event"] == "auth_failed" and e["ip"] == "127.0.0.3"]
    locks = [e for e in events if e["event"] == "auth_locked" and e["ip"] == "127.0.0.3"]
    assert len(fails) == 4 and len(locks) == 1, events


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])     # utime + stime (fields 14, 15)


def burst(d, source, line, n=1000, workers=50):
    """n connections from source, each: greeting, one command, close.
    "{i}" in line becomes the attempt's number (distinct guesses)."""
    ctx = d.ssl_context()
    answers = {}

    def one(i):
        try:
            c = Client(d, source, ctx)
        except (OSError, ssl.SSLError):
            return "refused"
        try:
            if not c.greeting.startswith(b"* OK"):
                return "refused"
            r = c.cmd(line.replace("{i}", str(i)))
            return r.split(b" ")[1].decode() if r else "closed"
        except (OSError, ssl.SSLError):
            return "refused"
        finally:
            c.close()

    pid = d.proc.pid
    before = cpu_ticks(pid)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for a in pool.map(one, range(n)):
            answers[a] = answers.get(a, 0) + 1
    took = time.monotonic() - t0
    time.sleep(0.5)        # let deferred work (audit writes) finish
    return (cpu_ticks(pid) - before) / TICK, took, answers


@test
def thousand_failed_logins_cost_no_more_cpu_than_thousand_noops():
    noop_cpu, noop_s, noop_ans = burst(C, "127.0.0.5", "NOOP")
    fail_cpu, fail_s, fail_ans = burst(C, "127.0.0.6", 'LOGIN "dave@ext.test" "guess{i}"')
    print(f"# 1000 NOOPs: daemon cpu {noop_cpu:.2f}s in {noop_s:.1f}s wall {noop_ans}")
    print(f"# 1000 failed logins: daemon cpu {fail_cpu:.2f}s in {fail_s:.1f}s wall {fail_ans}")
    assert noop_ans == {"OK": 1000}, noop_ans
    assert "OK" not in fail_ans, fail_ans
    checked = C.log_text().count("event=auth_failed ip=127.0.0.6")
    print(f"# password checks run: {checked} (auth_lock_after 3)")
    assert checked <= 3, checked
    assert "locked=yes" in C.log_text()
    assert fail_cpu <= noop_cpu, (fail_cpu, noop_cpu)


@test
def the_flooding_address_is_locked_as_configured():
    c = None
    try:
        c = Client(C, "127.0.0.6")
        raise AssertionError(f"locked address got a session: {c.greeting!r}")
    except (OSError, ssl.SSLError):
        pass
    finally:
        if c is not None:
            c.close()
    out = C.cli("audit", "--json", "--since", "1h", check=True).stdout
    locks = [json.loads(x) for x in out.splitlines() if '"auth_locked"' in x]
    assert any(e["ip"] == "127.0.0.6" for e in locks), out


def teardown(_):
    for d in (D, C):
        if d is not None:
            rc, _ = d.stop()
            d.cleanup()
            assert rc == 0


if __name__ == "__main__":
    setup()
    run(teardown=teardown)
