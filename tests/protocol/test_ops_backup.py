"""Operations: hot backup under load, restore, recovery key rotation, the
audit command. A backup taken while 16 SMTP senders deliver restores to a
store that opens and holds every message acknowledged (250) before the copy
started; restore and rotate-recovery-key refuse while a daemon runs."""
import hashlib
import json
import os
import smtplib
import subprocess
import threading
import time

from sgimap import PASSWORD, Raw, add_user, message
from sgtest import Daemon
from tap import run, test

SENDERS = 16
B = None        # the daemon backed up
R = None        # the one restored into
DEST = None
ACKED_BEFORE = {}   # recipient -> subjects acknowledged before the copy began
ACKED_ALL = {}


def setup():
    global B, R, DEST
    os.environ.setdefault("SEALGATE_ALLOW_ROOT", "1")
    B = Daemon("ops-backup", conf={"policy": {"internal_domains": "example.com"}}).start()
    for i in range(SENDERS):
        add_user(B, f"r{i}@ext.test")
    DEST = os.path.join(B.dir, "backup-1")
    R = Daemon("ops-restore", conf={"policy": {"internal_domains": "example.com"}})


def sender(i, stop, acks):
    rcpt = f"r{i}@ext.test"
    c = smtplib.SMTP("127.0.0.1", B.smtp_port, timeout=60)
    c.starttls(context=B.ssl_context())
    n = 0
    while not stop.is_set():
        subject = f"s{i}-{n}"
        c.sendmail("boss@example.com", [rcpt], message(to=rcpt, subject=subject))
        acks.append((time.monotonic(), rcpt, subject))
        n += 1
    c.quit()


@test
def backup_during_a_16_sender_ingest():
    stop = threading.Event()
    acks = []
    threads = [threading.Thread(target=sender, args=(i, stop, acks)) for i in range(SENDERS)]
    for t in threads:
        t.start()
    time.sleep(3)
    started = time.monotonic()
    r = B.cli("backup", DEST)
    done = time.monotonic()
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join()
    assert r.returncode == 0, r.stderr
    assert f"{DEST}: 16 accounts" in r.stdout, r.stdout
    for t, rcpt, subject in acks:
        ACKED_ALL.setdefault(rcpt, set()).add(subject)
        if t < started:
            ACKED_BEFORE.setdefault(rcpt, set()).add(subject)
    before = sum(len(v) for v in ACKED_BEFORE.values())
    print(f"# {before} messages acknowledged before the copy, {len(acks)} in all; "
          f"backup took {done - started:.2f}s")
    assert before >= SENDERS * 5, before
    assert len(acks) > before, "no delivery after the copy began"


@test
def backup_refuses_a_used_destination():
    r = B.cli("backup", DEST)
    assert r.returncode == 1 and "already holds" in r.stderr, r


def subjects(d, user):
    r = Raw(d)
    r.login(user)
    r.cmd("SELECT INBOX")
    lines, tagged = r.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    r.close()
    out = set()
    for line in lines:
        for part in line.split(b"\r\n"):
            if part.lower().startswith(b"subject: "):
                out.add(part[9:].decode())
    return out


@test
def restore_holds_every_message_acknowledged_before_the_copy():
    rc, _ = B.stop()
    assert rc == 0
    r = R.cli("restore", DEST)
    assert r.returncode == 0, r.stderr
    assert "the previous store and keys are in" in r.stdout, r.stdout
    aside = [x for x in os.listdir(R.data) if x.startswith("restore-old-")]
    assert aside and os.path.isdir(os.path.join(R.data, aside[0], "store")), aside
    R.start()
    missing = 0
    for i in range(SENDERS):
        rcpt = f"r{i}@ext.test"
        got = subjects(R, rcpt)
        missing += len(ACKED_BEFORE.get(rcpt, set()) - got)
        assert got <= ACKED_ALL.get(rcpt, set()), "restored a message nobody sent"
    assert missing == 0, f"{missing} acknowledged messages missing from the backup"


@test
def restore_refuses_while_the_daemon_runs():
    r = R.cli("restore", DEST)
    assert r.returncode == 1 and "daemon is running" in r.stderr, r
    assert not [x for x in os.listdir(R.data) if x.startswith("restore-old-")][1:], \
        "moved the running store aside"


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@test
def rotate_recovery_key_rewraps_every_account():
    r = R.cli("rotate-recovery-key")
    assert r.returncode == 1 and "daemon is running" in r.stderr, r
    rc, _ = R.stop()
    assert rc == 0
    key, pub = os.path.join(R.data, "recovery.key"), os.path.join(R.data, "recovery.pub")
    old_key, old_pub = sha(key), sha(pub)
    r = R.cli("rotate-recovery-key")
    assert r.returncode == 0, r.stderr
    assert f"{SENDERS} accounts re-wrapped" in r.stdout, r.stdout
    assert sha(os.path.join(R.data, "recovery.key.old")) == old_key
    assert sha(key) != old_key and sha(pub) != old_pub
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    assert not os.path.exists(key + ".new")
    # The accounts open with the new key (a reset keeps the mail), not the old.
    r = R.cli("user", "reset", "r1@ext.test", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["kept_mail"] is True, r
    r = R.cli("user", "reset", "r2@ext.test", "--recovery-key",
              os.path.join(R.data, "recovery.key.old"))
    assert r.returncode != 0 and "does not open" in r.stderr, r
    # Again: refused while the old key is still there.
    r = R.cli("rotate-recovery-key")
    assert r.returncode != 0 and "recovery.key.old exists" in r.stderr, r
    # The offline form: the current key from a file, the old one gone.
    os.rename(os.path.join(R.data, "recovery.key.old"), os.path.join(R.dir, "ancient.key"))
    offline = os.path.join(R.dir, "offline.key")
    os.rename(key, offline)
    r = R.cli("rotate-recovery-key", "--recovery-key", os.path.join(R.dir, "ancient.key"))
    assert r.returncode != 0 and "is not the secret key of" in r.stderr, r
    r = R.cli("rotate-recovery-key", "--recovery-key", offline)
    assert r.returncode == 0 and "move it offline" in r.stdout, r
    assert not os.path.exists(os.path.join(R.data, "recovery.key.old"))
    r = R.cli("user", "reset", "r3@ext.test", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["kept_mail"] is True, r
    R.start()           # the store opens: recovery.key matches recovery.pub
    assert subjects(R, "r0@ext.test") >= ACKED_BEFORE.get("r0@ext.test", set())
    # r1 and r3 were reset (invited again, mail kept); the others log in as before.


@test
def audit_filters_and_formats():
    out = R.cli("audit", "--json", check=True).stdout
    events = [json.loads(x) for x in out.splitlines()]
    assert any(e["event"] == "recovery_rotated" and e["detail"] == f"accounts={SENDERS}"
               for e in events), events[-5:]
    logins = R.cli("audit", "--account", "r3@ext.test", "--json", check=True).stdout
    assert logins and all(json.loads(x)["address"] == "r3@ext.test"
                          for x in logins.splitlines()), logins
    assert R.cli("audit", "--since", "2999-01-01", check=True).stdout == ""
    text = R.cli("audit", "--since", "1h", check=True).stdout
    assert " recovery_rotated address=- ip=- detail=accounts=16" in text, text
    r = R.cli("audit", "--since", "yesterday")
    assert r.returncode == 1 and "usage" in r.stderr


def teardown(_):
    for d in (B, R):
        if d is not None:
            rc, _ = d.stop()
            d.cleanup()
            assert rc == 0


if __name__ == "__main__":
    setup()
    run(teardown=teardown)
