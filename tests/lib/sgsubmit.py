"""Submission helpers for protocol and end-to-end tests: logged-in smtplib
clients on the STARTTLS and the implicit-TLS listener, inbound delivery
(so that a user has mail, hence correspondents), what the store holds
(to show that a refusal kept nothing), and the parts of a relayed message:
the headers sealgate put in front, and the client's bytes after them.

    c = sgsubmit.starttls(d, "alice@ext.test")     # EHLO, STARTTLS, EHLO, AUTH
    c.sendmail("alice@ext.test", ["boss@example.com"], msg)
    before = sgsubmit.snapshot(d)  ...  assert sgsubmit.snapshot(d) == before
"""
import json
import re
import smtplib
import time

import sgvault
from sgimap import PASSWORD, add_user  # noqa: F401 - re-exported for the tests

EHLO = "client.ext.test"


def starttls(d, user=None, password=PASSWORD, timeout=60):
    c = smtplib.SMTP("127.0.0.1", d.submission_port, timeout=timeout)
    c.ehlo(EHLO)
    c.starttls(context=d.ssl_context())
    c.ehlo(EHLO)
    if user:
        c.login(user, password)
    return c


def implicit(d, user=None, password=PASSWORD, timeout=60):
    c = smtplib.SMTP_SSL("127.0.0.1", d.submission_tls_port, context=d.ssl_context(),
                         timeout=timeout)
    c.ehlo(EHLO)
    if user:
        c.login(user, password)
    return c


def inbound(d, sender, rcpts, msg):
    """Deliver msg into the vault as the organization's MTA does; 250 or raise."""
    c = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=60)
    c.ehlo("mta.example.com")
    c.starttls(context=d.ssl_context())
    c.ehlo("mta.example.com")
    refused = c.sendmail(sender, rcpts, msg)
    c.quit()
    assert not refused, refused
    return msg


def audit(d, address, event=None):
    out = d.cli("audit", "--json", "--account", address, check=True).stdout
    events = [json.loads(x) for x in out.splitlines() if x.strip()]
    return [e for e in events if event is None or e["event"] == event]


def wait_audit(d, address, event, count=1, timeout=10.0):
    """Audit entries are written after the reply: wait for count of them."""
    deadline = time.monotonic() + timeout
    while True:
        got = audit(d, address, event)
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def snapshot(d, timeout=20.0):
    """What a refused message must not change: vault messages and blobs, the
    queue, the outbox. Taken once the queue is empty (earlier mail delivered)."""
    deadline = time.monotonic() + timeout
    while True:
        st = sgvault.stats(d)
        if st["queue"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return {"messages": st["messages"], "blobs": st["blobs"], "queue": st["queue"],
            "outbox": len(sgvault.outbox(d)), "accounts": st["invited"] + st["active"]}


TRACE = re.compile(rb"Received: [^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*")


def split_relayed(raw):
    """A relayed (or sealed) message -> (our Received: header, the fields we
    added after it (dict of name -> value), the client's message bytes).
    Headers the relay host or the outbox put above ours are skipped. A
    Maildir file has LF line ends (Postfix writes the local convention):
    compare it with lf(message)."""
    m = None
    for m in TRACE.finditer(raw):
        if b"(sealgate)" in m.group(0):
            break
    assert m is not None and b"(sealgate)" in m.group(0), raw[:500]
    trace, rest = m.group(0), raw[m.end():]
    added = {}
    while True:
        mm = re.match(rb"(Date|Message-ID): ([^\r\n]*)\r?\n", rest)
        if not mm or mm.group(1).decode() in added:
            break
        added[mm.group(1).decode()] = mm.group(2).decode()
        rest = rest[mm.end():]
    return trace, added, rest


def lf(data):
    """A message as a Maildir stores it: CRLF -> LF."""
    return data.replace(b"\r\n", b"\n")
