"""Operations: retention and expiry with an injected clock. The daemon runs
400 days ahead (SEALGATE_TEST_CLOCK_OFFSET, test only); its first sweep,
10 s after start, expunges every message whose internal date is older than
[policy] retention (365 days) in batches of at most 200, tells an IDLE
session, expires the invitation link of an account invited by ingest, and
audits both."""
import imaplib
import json
import os
import smtplib
import time

import sgvault
from sgimap import PASSWORD, Raw, add_user, imaps, message
from sgtest import Daemon
from tap import run, test

USER = "alice@ext.test"
DAY = 86400
D = None
OLD = 420          # messages the sweep must take, in three batches
KEEP_UID = None


def setup():
    global D, KEEP_UID
    os.environ.setdefault("SEALGATE_ALLOW_ROOT", "1")
    D = Daemon("ops-sweep", conf={"policy": {"retention": "365d", "invite_ttl": "7d",
                                             "internal_domains": "example.com"}}).start()
    add_user(D, USER)
    m = imaps(D, USER)
    now = time.time()
    for i in range(OLD):
        # 30 days old now, 430 days old on the daemon's shifted clock
        m.append("INBOX", None, imaplib.Time2Internaldate(now - 30 * DAY),
                 message(subject=f"old {i}"))
    typ, data = m.append("INBOX", None, imaplib.Time2Internaldate(now + 60 * DAY),
                         message(subject="keep"))
    KEEP_UID = int(data[0].split(b"APPENDUID ")[1].split(b" ")[1].rstrip(b"]"))
    m.logout()
    # An invitation, by ingest: its link expires 7 days from (real) now.
    c = smtplib.SMTP("127.0.0.1", D.smtp_port, timeout=30)
    c.starttls(context=D.ssl_context())
    c.sendmail("boss@example.com", ["newbie@ext.test"],
               message(to="newbie@ext.test", subject="for a new recipient"))
    c.quit()
    assert sgvault.account(D, "newbie@ext.test")["has_token"] == "1"
    D.stop()
    os.environ["SEALGATE_TEST_CLOCK_OFFSET"] = "400d"
    try:
        D.start()
    finally:
        del os.environ["SEALGATE_TEST_CLOCK_OFFSET"]


@test
def idle_session_hears_of_the_expunges():
    r = Raw(D)
    r.login(USER)
    lines, tagged = r.cmd("SELECT INBOX")
    assert any(f"* {OLD + 1} EXISTS".encode() in x for x in lines), lines
    r.send(b"i1 IDLE\r\n")
    assert r.line().startswith(b"+")
    expunged = 0
    deadline = time.monotonic() + 60
    while expunged < OLD and time.monotonic() < deadline:
        line = r.line()
        if line.endswith(b" EXPUNGE\r\n"):
            expunged += 1
    r.send(b"DONE\r\n")
    while not r.line().startswith(b"i1 "):
        pass
    assert expunged == OLD, expunged
    lines, _ = r.cmd("UID SEARCH ALL")
    assert lines[0].split()[2:] == [str(KEEP_UID).encode()], lines
    r.close()


@test
def invitation_past_its_expiry_is_expired():
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        a = sgvault.account(D, "newbie@ext.test")
        if a["has_token"] == "0":
            break
        time.sleep(0.2)
    assert a["has_token"] == "0" and a["state"] == "invited", a


@test
def sweep_is_batched_and_audited():
    deadline = time.monotonic() + 20
    while "event=sweep_done" not in D.log_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    # alice's old messages, and the one that came with newbie's invitation
    assert f"event=sweep_done expunged={OLD + 1} invitations_expired=1" in D.log_text()
    out = D.cli("audit", "--json", check=True).stdout
    events = [json.loads(x) for x in out.splitlines()]
    batches = [int(e["detail"].split()[0].split("=")[1]) for e in events
               if e["event"] == "retention_expunge"]
    assert sum(batches) == OLD + 1 and max(batches) <= 200 and len(batches) >= 3, batches
    assert any(e["event"] == "invite_expire" and e["detail"] == "invitations=1"
               for e in events), events
    assert "event=test_clock offset=34560000" in D.log_text()


def teardown(_):
    if D is not None:
        rc, _ = D.stop()
        D.cleanup()
        assert rc == 0


if __name__ == "__main__":
    setup()
    run(teardown=teardown)
