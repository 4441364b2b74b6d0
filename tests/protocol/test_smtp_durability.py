"""Nothing that got 250 is lost: 16 senders deliver as fast as they can,
the daemon is killed with SIGKILL in the middle, and every message the
clients saw accepted is in the vault afterwards (and the daemon starts
again on the same store)."""
import re
import smtplib
import threading
import time

import sgvault
from sgtest import Daemon
from smtpscript import message
from tap import run, test

SENDERS = 16
RCPTS = [f"dur{i}@ext.test" for i in range(4)]


def sender(d, idx, acked, stop):
    n = 0
    while not stop.is_set():
        try:
            c = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
            c.ehlo("load.example")
            while not stop.is_set():
                subject = f"dur-{idx}-{n}"
                rcpt = RCPTS[(idx + n) % len(RCPTS)]
                c.sendmail("alice@example.com", [rcpt],
                           message(subject=subject, body="x" * 2000 + "\r\n", to=rcpt))
                acked.append((rcpt, subject))  # only after the 250
                n += 1
        except (OSError, smtplib.SMTPException):
            return


@test
def sigkill_during_a_16_sender_run_loses_nothing_acknowledged():
    d = Daemon("durable", conf={"policy": {"internal_domains": "example.com",
                                           "notify_enrolled": "no"}})
    for r in RCPTS:
        d.cli("user", "add", r, "--password-stdin", input=sgvault.PASSWORD + "\n", check=True)
    d.start()
    acked, stop = [], threading.Event()
    threads = [threading.Thread(target=sender, args=(d, i, acked, stop)) for i in range(SENDERS)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        d.kill()  # SIGKILL, mid-run
        stop.set()
        for t in threads:
            t.join(15)
        assert len(acked) >= 50, f"only {len(acked)} messages before the kill"
        d.start()  # the store opens again after the crash
        stored = set()
        for r in RCPTS:
            for _, raw in sgvault.read_inbox(d, r):
                m = re.search(rb"(?m)^Subject: (dur-\d+-\d+)\r$", raw)
                assert m, raw[:500]
                stored.add((r, m.group(1).decode()))
        lost = [a for a in acked if a not in stored]
        assert not lost, f"{len(lost)} of {len(acked)} acknowledged messages lost: {lost[:5]}"
        print(f"# {len(acked)} acknowledged, {len(stored)} stored")
        rc, _ = d.stop()
        assert rc == 0
    finally:
        stop.set()
        d.cleanup()


if __name__ == "__main__":
    run()
