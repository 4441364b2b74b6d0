"""The event loop keeps answering while a mailbox's state is read: SELECT,
the updates after a command and those during IDLE read every message's
UID, flags and modseq on a worker, not on the loop that serves every other
connection. SEALGATE_TEST_SCAN_DELAY_MS (test only)
makes each such read take that much longer, so a blocked loop shows."""
import os
import time

import sgmail
from sgimap import Raw, add_user
from sgtest import Daemon
from tap import run, test

USER = "loop@ext.test"
DELAY = 1.5
D = None


def setup():
    global D
    os.environ["SEALGATE_TEST_SCAN_DELAY_MS"] = str(int(DELAY * 1000))
    try:
        D = Daemon("imaploop").start()
    finally:
        del os.environ["SEALGATE_TEST_SCAN_DELAY_MS"]
    add_user(D, USER)
    r = Raw(D)
    r.login(USER)
    for i in range(3):
        append(r, sgmail.message(i))
    r.close()


def append(r, m):
    r.send(f"a APPEND INBOX {{{len(m)}+}}\r\n".encode() + m + b"\r\n")
    t = r.line()
    assert t.startswith(b"a OK"), t


def tagged(r, tag):
    lines = []
    while True:
        ln = r.line()
        if ln.startswith(tag + b" "):
            return lines, ln
        lines.append(ln)


def noop_time(r):
    t0 = time.monotonic()
    _, t = r.cmd("NOOP")
    assert b" OK " in t, t
    return time.monotonic() - t0


def while_reading(a, data, tag, other):
    """Send data on a, whose reply waits for a state read; meanwhile time a
    NOOP on other. Returns a's untagged lines and tagged reply, how long
    that took, and how long the NOOP took."""
    t0 = time.monotonic()
    a.send(data)
    time.sleep(0.2)
    noop = noop_time(other)
    lines, t = tagged(a, tag)
    return lines, t, time.monotonic() - t0, noop


@test
def the_loop_answers_while_select_reads_a_mailbox():
    other = Raw(D)
    other.login(USER)
    a = Raw(D)
    a.login(USER)
    lines, t, took, noop = while_reading(a, b"s SELECT INBOX\r\n", b"s", other)
    assert b"s OK [READ-WRITE]" in t, t
    assert b"* 3 EXISTS\r\n" in lines, lines
    assert took >= DELAY * 0.9, took
    # Another connection's NOOP, sent while the state was being read, did
    # not wait for it (it would take DELAY - 0.2 s on a blocked loop).
    assert noop < DELAY / 3, f"NOOP took {noop:.2f} s during a {took:.2f} s SELECT"
    # The state read is shared: a second session's SELECT of the same state
    # reads nothing and answers at once.
    b = Raw(D)
    b.login(USER)
    t0 = time.monotonic()
    lines, t = b.cmd("EXAMINE INBOX")
    assert b"OK [READ-ONLY]" in t and b"* 3 EXISTS\r\n" in lines, (lines, t)
    assert time.monotonic() - t0 < DELAY / 3
    # Selecting the same mailbox again, unchanged, reads nothing either
    # (the state outlives the view it replaces).
    t0 = time.monotonic()
    lines, t = a.cmd("SELECT INBOX")
    assert b"OK [READ-WRITE]" in t and b"* 3 EXISTS\r\n" in lines, (lines, t)
    b.close()
    lines, t = a.cmd("SELECT INBOX")
    assert b"OK [READ-WRITE]" in t and b"* 3 EXISTS\r\n" in lines, (lines, t)
    assert time.monotonic() - t0 < DELAY / 3, "SELECT again read the state again"
    # Both sessions see a new message, and a later SELECT reads the new
    # state, on a worker again.
    append(other, sgmail.message(3))
    lines, t = a.cmd("NOOP")
    assert b"* 4 EXISTS\r\n" in lines, lines
    for r in (a, other):
        r.close()


@test
def a_session_that_leaves_during_select_harms_nothing():
    gone = Raw(D)
    gone.login(USER)
    gone.send(b"s SELECT INBOX\r\ns2 LOGOUT\r\n")
    gone.close()
    other = Raw(D)
    other.login(USER)
    assert noop_time(other) < DELAY / 3
    time.sleep(DELAY + 0.3)      # the worker finishes for a session that is gone
    lines, t = other.cmd("SELECT INBOX")
    assert b"OK [READ-WRITE]" in t and b"* 4 EXISTS\r\n" in lines, (lines, t)
    _, t = other.cmd("LOGOUT")
    assert b" OK " in t, t


def selected(mailbox="INBOX"):
    return Raw.selected(D, USER, mailbox)


def exists(lines):
    return [int(x.split()[1]) for x in lines if x.endswith(b" EXISTS\r\n")]


@test
def updates_after_a_command_are_read_off_the_loop():
    a, lines = selected()
    n = exists(lines)[0]
    other = Raw(D)
    other.login(USER)
    append(other, sgmail.message(10))     # a state nobody has read yet
    # Two commands pipelined: the first's reply waits for the new state,
    # the second is read only after it, and both come in order.
    lines, t, took, noop = while_reading(a, b"x NOOP\r\ny NOOP\r\n", b"x", other)
    assert t.startswith(b"x OK"), t
    assert exists(lines) == [n + 1], lines
    assert took >= DELAY * 0.9, took
    assert noop < DELAY / 3, f"NOOP took {noop:.2f} s during a {took:.2f} s update"
    lines, t = tagged(a, b"y")
    assert t.startswith(b"y OK") and lines == [], (lines, t)
    # FETCH may not announce an expunge; it waits for the state all the same.
    _, t = other.cmd("SELECT INBOX")
    _, t = other.cmd(f"STORE {n + 1} +FLAGS (\\Deleted)")
    _, t = other.cmd("EXPUNGE")
    assert b" OK " in t, t
    lines, t = a.cmd("FETCH 1 (FLAGS)")
    assert b" OK " in t, t
    assert not any(b"EXPUNGE" in x for x in lines), lines
    lines, t = a.cmd("NOOP")
    assert lines == [f"* {n + 1} EXPUNGE\r\n".encode()], lines
    for r in (a, other):
        r.close()


@test
def idle_updates_are_read_off_the_loop():
    a, lines = selected()
    n = exists(lines)[0]
    _, t = a.cmd("NOOP")
    a.send(b"i IDLE\r\n")
    assert a.line().startswith(b"+ "), "no continuation"
    other = Raw(D)
    other.login(USER)
    append(other, sgmail.message(11))
    time.sleep(0.2)
    assert noop_time(other) < DELAY / 3
    # DONE while the state is still being read: the update, then the reply.
    a.send(b"DONE\r\n")
    lines, t = tagged(a, b"i")
    assert t.startswith(b"i OK"), t
    assert exists(lines) == [n + 1], lines
    for r in (a, other):
        r.close()


@test
def sessions_share_one_read_of_a_new_state():
    # After a change every session of the mailbox needs the new state at
    # once: one read serves them all (six reads on two workers would take
    # three times as long).
    sessions = [selected()[0] for _ in range(6)]
    other = Raw(D)
    other.login(USER)
    append(other, sgmail.message(12))
    t0 = time.monotonic()
    for r in sessions:
        r.send(b"n NOOP\r\n")
    counts = []
    for r in sessions:
        lines, t = tagged(r, b"n")
        assert t.startswith(b"n OK"), t
        counts.append(exists(lines))
    took = time.monotonic() - t0
    assert len(set(map(tuple, counts))) == 1 and len(counts[0]) == 1, counts
    assert DELAY * 0.9 <= took < DELAY * 1.8, f"{took:.2f} s for six sessions"
    for r in sessions + [other]:
        r.close()


def teardown(_):
    rc, _ = D.stop()
    D.cleanup()
    assert rc == 0, rc


if __name__ == "__main__":
    setup()
    run(teardown=teardown)
