"""The relay client against a scripted server (tests/lib/fakesmtp.py): what
Postfix will not do on demand. Recipients with mixed outcomes (delivered,
deferred and retried alone, bounced), PIPELINING or not, a refused greeting
(deferred, never bounced), SIZE, DSN parameters passed on or answered with a
"relayed" report, dot-stuffing, MAIL refused."""
import re
import time

import sgvault
from fakesmtp import FakeSMTP
from sgtest import Daemon
from tap import run, test

MSG = (b"From: <alice@example.com>\r\nTo: <ok1@int.test>\r\nSubject: relay test\r\n\r\n"
       b".a line with a dot\r\n..two dots\r\n.\r\nlast line\r\n")


def daemon(name, fake):
    return Daemon(name, conf={"relay": {"host": "127.0.0.1", "port": str(fake.port),
                                        "starttls": "off", "retry_initial": "1s",
                                        "retry_max": "2s"},
                              "policy": {"internal_domains": "example.com"}}).start()


def wait_for(pred, what, d, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise TimeoutError(f"{what}:\n{d.log_text()[-3000:]}")


def deliveries(d):
    return re.findall(r"event=delivery id=(\d+) attempt=(\d+) delivered=(\d+) deferred=(\d+) "
                      r"failed=(\d+)", d.log_text())


@test
def mixed_outcomes_deliver_defer_and_bounce_with_pipelining():
    fake = FakeSMTP(pipelining=True, mail_delay=0.3).start()
    d = daemon("rmixed", fake)
    try:
        qid = sgvault.enqueue(d, "alice@example.com",
                              ["ok1@int.test", "temp1@int.test", "perm1@int.test"], MSG)["id"]
        wait_for(lambda: len(fake.messages) >= 2, "the mail and the bounce", d)
        mail, rcpts, data = fake.messages[0]
        assert mail.startswith(b"MAIL FROM:<alice@example.com>") and b"SIZE=" not in mail
        assert rcpts == [b"RCPT TO:<ok1@int.test>"], rcpts
        assert data == MSG, data
        mail, rcpts, data = fake.messages[1]
        assert mail.startswith(b"MAIL FROM:<>") and rcpts == [b"RCPT TO:<alice@example.com>"]
        assert b"Final-Recipient: rfc822; perm1@int.test" in data
        assert b"Diagnostic-Code: smtp; 550 5.1.1 no such user" in data
        assert b"temp1@int.test" not in data.split(b"message/rfc822")[0], data
        # PIPELINING: RCPT and DATA went out before the (slow) MAIL reply
        assert fake.sessions[0]["pipelined"] is True
        # the deferred recipient is retried alone, and again
        wait_for(lambda: sum(1 for s in fake.sessions
                             if [l for _, l in s["lines"] if l.startswith(b"RCPT")] ==
                             [b"RCPT TO:<temp1@int.test>"]) >= 2, "two retries", d)
        q = sgvault.queue(d)
        assert len(q) == 1 and q[0]["id"] != qid and int(q[0]["attempts"]) >= 2, q
        first = deliveries(d)[0]
        assert first[2:] == ("1", "1", "1"), first
    finally:
        d.stop()
        d.cleanup()
        fake.stop()


@test
def a_relay_that_hangs_up_before_its_final_reply_gets_the_mail_again():
    """RCPT 250 is not delivery: a relay host that accepts the recipients
    and then dies before answering the data must see the message again on
    the next attempt, for every recipient (the fault test once lost an
    invitation so: the RCPT replies had counted as delivered)."""
    fake = FakeSMTP(pipelining=True, drop_data=1).start()
    d = daemon("rdrop", fake)
    try:
        sgvault.enqueue(d, "alice@example.com", ["ok1@int.test", "ok2@int.test"], MSG)
        wait_for(lambda: fake.messages, "the mail on the second attempt", d)
        assert fake.sessions[0].get("dropped") is True
        first = deliveries(d)[0]
        assert first[2:] == ("0", "2", "0"), first
        mail, rcpts, data = fake.messages[0]
        assert rcpts == [b"RCPT TO:<ok1@int.test>", b"RCPT TO:<ok2@int.test>"], rcpts
        assert data == MSG
        wait_for(lambda: sgvault.queue(d) == [], "an empty queue", d)
        assert len(fake.messages) == 1
    finally:
        d.stop()
        d.cleanup()
        fake.stop()


@test
def without_pipelining_one_command_at_a_time():
    fake = FakeSMTP(pipelining=False, mail_delay=0.3).start()
    d = daemon("rnopipe", fake)
    try:
        sgvault.enqueue(d, "alice@example.com", ["ok1@int.test", "ok2@int.test"], MSG)
        wait_for(lambda: fake.messages, "the mail", d)
        assert fake.sessions[0]["pipelined"] is False
        assert fake.messages[0][1] == [b"RCPT TO:<ok1@int.test>", b"RCPT TO:<ok2@int.test>"]
        wait_for(lambda: sgvault.queue(d) == [], "an empty queue", d)
    finally:
        d.stop()
        d.cleanup()
        fake.stop()


@test
def a_refused_greeting_defers_and_never_bounces():
    fake = FakeSMTP(greeting=b"554 5.7.1 not you").start()
    d = daemon("rgreet", fake)
    try:
        sgvault.enqueue(d, "alice@example.com", ["ok1@int.test"], MSG)
        wait_for(lambda: len(deliveries(d)) >= 2, "two attempts", d)
        assert all(x[2:] == ("0", "1", "0") for x in deliveries(d)), deliveries(d)
        assert fake.messages == []
        assert len(sgvault.queue(d)) == 1
    finally:
        d.stop()
        d.cleanup()
        fake.stop()


@test
def over_the_relay_size_bounces_without_data_and_the_bounce_is_not_bounced():
    fake = FakeSMTP(size=100).start()
    d = daemon("rsize", fake)
    try:
        sgvault.enqueue(d, "alice@example.com", ["ok1@int.test"], MSG * 3)
        wait_for(lambda: len(deliveries(d)) >= 2, "the mail and its bounce", d)
        wait_for(lambda: sgvault.queue(d) == [], "an empty queue", d)
        assert [x[2:] for x in deliveries(d)] == [("0", "0", "1"), ("0", "0", "1")]
        for s in fake.sessions:  # nothing too big was even announced
            assert not [l for _, l in s["lines"] if l.startswith(b"MAIL")], s["lines"]
        time.sleep(1.5)
        assert len(deliveries(d)) == 2
    finally:
        d.stop()
        d.cleanup()
        fake.stop()


@test
def dsn_parameters_go_to_a_relay_that_offers_dsn():
    fake = FakeSMTP(dsn=True).start()
    d = daemon("rdsn", fake)
    try:
        sgvault.enqueue(d, "alice@example.com", [("ok1@int.test", 6, "rfc822;OK1@int.test")],
                        MSG, envid="E+2B1", ret="hdrs")
        wait_for(lambda: fake.messages, "the mail", d)
        mail, rcpts, _ = fake.messages[0]
        assert mail.endswith(b" RET=HDRS ENVID=E+2B1"), mail
        assert rcpts == [b"RCPT TO:<ok1@int.test> NOTIFY=SUCCESS,FAILURE "
                         b"ORCPT=rfc822;OK1@int.test"], rcpts
        wait_for(lambda: sgvault.queue(d) == [], "an empty queue", d)
        time.sleep(1.5)
        assert len(fake.messages) == 1, "the relay took NOTIFY over: no report from us"
    finally:
        d.stop()
        d.cleanup()
        fake.stop()


@test
def notify_success_without_relay_dsn_gets_a_relayed_report():
    fake = FakeSMTP(dsn=False).start()
    d = daemon("rrelayed", fake)
    try:
        sgvault.enqueue(d, "alice@example.com", [("ok1@int.test", 2)], MSG, envid="E1")
        wait_for(lambda: len(fake.messages) >= 2, "the mail and the report", d)
        mail, rcpts, _ = fake.messages[0]
        assert b"NOTIFY" not in rcpts[0] and b"ENVID" not in mail
        mail, rcpts, data = fake.messages[1]
        assert mail.startswith(b"MAIL FROM:<>") and b"Action: relayed" in data, data
        assert b"Original-Envelope-Id: E1" in data and b"Remote-MTA: dns; 127.0.0.1" in data
    finally:
        d.stop()
        d.cleanup()
        fake.stop()


@test
def mail_refused_fails_every_recipient_once():
    fake = FakeSMTP(mail_reply=b"550 5.7.1 sender refused").start()
    d = daemon("rmail", fake)
    try:
        sgvault.enqueue(d, "alice@example.com", ["ok1@int.test", "ok2@int.test"], MSG)
        wait_for(lambda: len(deliveries(d)) >= 2, "the mail and its bounce", d)
        wait_for(lambda: sgvault.queue(d) == [], "an empty queue", d)
        assert [x[2:] for x in deliveries(d)] == [("0", "0", "2"), ("0", "0", "1")]
    finally:
        d.stop()
        d.cleanup()
        fake.stop()


if __name__ == "__main__":
    run()
