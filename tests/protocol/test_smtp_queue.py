"""The outbound queue and the relay client, with Postfix as the peers:
Postfix as the organization's MTA relaying to sealgate through a transport
map, Postfix or smtp-sink as the relay host; relay down then up (delivered
after a retry), relay answering 550 (the bounce reaches the sender),
STARTTLS required or opportunistic, payloads encrypted at rest."""
import glob
import os
import re
import smtplib
import time

import sgvault
from postfix import Postfix, Sink
from sgtest import Daemon, free_port
from smtpscript import message
from tap import run, test


def relay_daemon(name, port, starttls="off", start=True):
    conf = {"relay": {"host": "127.0.0.1", "port": str(port), "starttls": starttls,
                      "retry_initial": "1s", "retry_max": "2s"},
            "policy": {"internal_domains": "example.com"}}
    d = Daemon(name, conf=conf)
    return d.start() if start else d


def send(d, rcpt, subject="hello", sender="alice@example.com"):
    c = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=30)
    c.sendmail(sender, [rcpt], message(subject=subject, to=rcpt, sender=sender))
    c.quit()


def wait_for(pred, timeout=30.0, what="condition", log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise TimeoutError(f"{what} not reached" + (f":\n{log()[-3000:]}" if log else ""))


@test
def relay_down_then_up_delivers_after_retry():
    port = free_port()
    d = relay_daemon("qdown", port)
    sink = Sink(port=port)
    try:
        send(d, "later@ext.test")
        wait_for(lambda: any(int(e["attempts"]) >= 1 for e in sgvault.queue(d)),
                 what="a failed attempt", log=d.log_text)
        assert re.search(r"event=delivery id=\d+ attempt=1 delivered=0 deferred=1 failed=0",
                         d.log_text()), d.log_text()[-2000:]
        # the payload at rest holds no plaintext: no link, no subject, no recipient name
        raw = open(os.path.join(d.data, "store", "data.mdb"), "rb").read()
        assert b"/enroll/" not in raw and b"sent you a secure message" not in raw
        sink.start()
        msgs = wait_for(sink.messages, what="delivery to the sink", log=d.log_text)
        assert b"later@ext.test" in msgs[0] and b"/enroll/" in msgs[0], msgs[0][:2000]
        wait_for(lambda: sgvault.queue(d) == [], what="an empty queue", log=d.log_text)
        assert not glob.glob(os.path.join(d.data, "outbox", "*.eml"))
    finally:
        d.stop()
        d.cleanup()
        sink.cleanup()


@test
def relay_550_bounces_to_the_sender():
    relay = Postfix("relay550", mailbox_domains=["example.com"],
                    reject_domains=["ext.test"]).start()
    d = relay_daemon("q550", relay.port)
    try:
        send(d, "nobody@ext.test", subject="the subject")
        dsn = relay.wait_mail("example.com", 1, timeout=60)[0]
        p = sgvault.parse(dsn)
        assert p.get_content_type() == "multipart/report", dsn[:3000]
        assert p.get_param("report-type") == "delivery-status"
        assert "alice@example.com" in p["To"] and "MAILER-DAEMON" in p["From"]
        assert re.search(rb"Final-Recipient: rfc822; nobody@ext\.test\r?\n", dsn), dsn
        assert re.search(rb"Action: failed\r?\nStatus: 5\.1\.1", dsn), dsn
        assert b"Diagnostic-Code: smtp; 550 5.1.1" in dsn
        assert b"Return-Path: <>" in dsn  # a bounce has the null sender
        # an invitation's bounce carries its headers only: never the link
        assert b"text/rfc822-headers" in dsn and b"/enroll/" not in dsn, dsn
        wait_for(lambda: sgvault.queue(d) == [], what="an empty queue", log=d.log_text)
        assert re.search(r"event=delivery id=\d+ attempt=1 delivered=0 deferred=0 failed=1",
                         d.log_text())
    finally:
        d.stop()
        d.cleanup()
        relay.cleanup()


@test
def a_bounce_that_fails_is_not_bounced():
    sink = Sink(args=["-f", "RCPT"]).start()  # refuses every recipient
    d = relay_daemon("qbb", sink.port)
    try:
        send(d, "nobody@ext.test")
        # the invitation fails, its bounce fails, and that is the end of it
        wait_for(lambda: len(re.findall(r"event=delivery .* failed=1", d.log_text())) >= 2,
                 what="two failures", log=d.log_text)
        wait_for(lambda: sgvault.queue(d) == [], what="an empty queue", log=d.log_text)
        time.sleep(1.5)
        assert len(re.findall(r"event=delivery ", d.log_text())) == 2, d.log_text()[-3000:]
    finally:
        d.stop()
        d.cleanup()
        sink.cleanup()


@test
def starttls_required_to_a_postfix_relay():
    port = free_port()
    d = relay_daemon("qtls", port, starttls="required", start=False)
    relay = Postfix("relaytls", port=port, mailbox_domains=["ext.test"], cert=d.cert,
                    key=os.path.join(d.data, "tls", "key.pem")).start()
    d.start()
    try:
        send(d, "secure@ext.test")
        got = relay.wait_mail("ext.test", 1, timeout=60)[0]
        assert b"/enroll/" in got
        assert re.search(rb"by relaytls\.postfix\.test \(Postfix\) with ESMTPS", got), got[:800]
        wait_for(lambda: re.search(r"event=delivery id=\d+ attempt=1 delivered=1 .* tls=yes",
                                   d.log_text()), what="a delivery over TLS", log=d.log_text)
    finally:
        d.stop()
        d.cleanup()
        relay.cleanup()


@test
def starttls_required_but_not_offered_keeps_the_mail():
    sink = Sink().start()  # smtp-sink offers no STARTTLS
    d = relay_daemon("qnotls", sink.port, starttls="required")
    try:
        send(d, "wait@ext.test")
        wait_for(lambda: any(int(e["attempts"]) >= 1 for e in sgvault.queue(d)),
                 what="a deferred attempt", log=d.log_text)
        assert sink.messages() == []
        assert "deferred=1" in d.log_text()
    finally:
        d.stop()
        d.cleanup()
        sink.cleanup()


@test
def postfix_as_the_org_mta_relays_through_a_transport_map():
    relay = Postfix("ext", mailbox_domains=["ext.test"]).start()
    d = relay_daemon("qorg", relay.port, starttls="opportunistic")
    org = Postfix("org", transports={"ext.test": f"smtp:[127.0.0.1]:{d.smtp_port}"}).start()
    try:
        msg = message(subject="through postfix", body="relayed body\r\n", to="erin@ext.test")
        c = smtplib.SMTP("127.0.0.1", org.port, timeout=30)
        c.sendmail("alice@example.com", ["erin@ext.test"], msg)
        c.quit()
        inv = relay.wait_mail("ext.test", 1, timeout=60)[0]
        token = sgvault.token_of(inv)
        assert sgvault.enroll(d, token)["address"] == "erin@ext.test"
        (info, raw), = sgvault.read_inbox(d, "erin@ext.test")
        assert b"relayed body" in raw and b"through postfix" in raw
        # ours first, then Postfix's, then the client's message
        recv = re.findall(rb"(?m)^Received: from [^\r\n]*\r\n\s+by (\S+)", raw)
        assert recv[0] == b"localhost" and recv[1] == b"org.postfix.test", recv
        assert b"with ESMTPS" in raw.split(b"\r\n\r\n")[0], raw[:800]
        assert re.search(r"status=sent \(250 2\.0\.0 Ok: queued as", org.log_text()), \
            org.log_text()[-2000:]
    finally:
        org.cleanup()
        d.stop()
        d.cleanup()
        relay.cleanup()


if __name__ == "__main__":
    run()
