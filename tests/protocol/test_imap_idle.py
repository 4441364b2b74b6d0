"""IDLE: new mail committed by another session reaches an idling client
within a second; keepalives; DONE; autologout rules."""
import time

from sgimap import Raw, add_user, imaps, message
from sgtest import Daemon
from tap import run, test

USER = "dave@ext.test"
D = None


def setup():
    global D
    D = Daemon("imapidle", conf={"imap": {"keepalive": "1s"}}).start()
    add_user(D, USER)


@test
def idle_hears_of_new_mail_within_a_second():
    r = Raw(D)
    r.login(USER)
    r.cmd("SELECT INBOX")
    r.send(b"i1 IDLE\r\n")
    assert r.line().startswith(b"+ "), "no continuation"
    m = imaps(D, USER)
    t0 = time.monotonic()
    m.append("INBOX", None, None, message("wake up"))
    while True:
        ln = r.line()
        if ln.endswith(b"EXISTS\r\n"):
            break
    took = time.monotonic() - t0
    assert took < 1.0, took
    m.logout()
    r.send(b"DONE\r\n")
    while not r.line().startswith(b"i1 OK"):
        pass
    r.close()


@test
def idle_sends_keepalives_and_done_ends_it():
    r = Raw(D)
    r.login(USER)
    r.cmd("SELECT INBOX")
    r.send(b"i2 IDLE\r\n")
    r.line()
    ln = r.line()
    assert ln == b"* OK Still here\r\n", ln
    r.send(b"done\r\n")
    ln = r.line()
    while not ln.startswith(b"i2 "):
        ln = r.line()
    assert ln.startswith(b"i2 OK"), ln
    _, t = r.cmd("NOOP")
    assert b"OK" in t
    r.close()


@test
def idle_sees_flag_changes_and_expunges():
    r = Raw(D)
    r.login(USER)
    r.cmd("SELECT INBOX")
    r.send(b"i3 IDLE\r\n")
    r.line()
    m = imaps(D, USER)
    m.select("INBOX")
    m.store("1", "+FLAGS", "(\\Deleted)")
    m.expunge()
    seen = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not any(b"EXPUNGE" in x for x in seen):
        seen.append(r.line())
    assert any(b"* 1 EXPUNGE" in x for x in seen), seen
    m.logout()
    r.send(b"DONE\r\n")
    r.close()


@test
def bad_line_during_idle_ends_it_with_bad():
    r = Raw(D)
    r.login(USER)
    r.cmd("SELECT INBOX")
    r.send(b"i4 IDLE\r\n")
    r.line()
    r.send(b"NOOP\r\n")
    ln = r.line()
    while not ln.startswith(b"i4 "):
        ln = r.line()
    assert ln.startswith(b"i4 BAD"), ln
    r.close()


def teardown(_):
    rc, took = D.stop()
    D.cleanup()
    assert rc == 0, rc


if __name__ == "__main__":
    setup()
    run(teardown=teardown)
