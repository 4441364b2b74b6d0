"""Submission (RFC 6409, DESIGN.md flow 4) against the outbox (no relay
host): AUTH PLAIN and LOGIN with and without an initial response, only
after TLS (at once on the implicit-TLS listener), cancel and base64
errors; MAIL only as the authenticated address; Date: and Message-ID:
added when missing and the message otherwise byte for byte; the recipient
policy (internal, correspondents, strangers); the From: check; iOS Mail's
8-bit SMTPUTF8 without 8BITMIME; BDAT; pipelining; the limits (size,
recipients, messages per hour across a restart); and every refusal keeps
nothing."""
import re
import smtplib
import subprocess
import time

import sgsubmit
import sgvault
from sgsubmit import PASSWORD, add_user, snapshot, split_relayed
from sgtest import Daemon
from smtpscript import Raw, dot_stuff, tls_client_context
from tap import run, test

ALICE = "alice@ext.test"
MAX = 256 * 1024


def setup():
    d = Daemon("sub", conf={"smtp": {"max_message_size": "256K"},
                            "submission": {"max_recipients": "3", "max_messages_per_hour": "1000"},
                            "policy": {"internal_domains": "example.com",
                                       "notify_enrolled": "no"}}).start()
    add_user(d, ALICE)
    add_user(d, "dave@ext.test")
    # Mail from the boss, copied to Carol: both become Alice's correspondents.
    sgsubmit.inbound(d, "boss@example.com", [ALICE], msg(
        frm="Boss <boss@example.com>", to=f"Alice <{ALICE}>",
        extra="Cc: Carol <Carol@Partner.test>\r\n", subject="plans"))
    return d


def teardown(d):
    rc, _ = d.stop()
    d.cleanup()
    assert rc == 0, rc


def msg(frm=f"Alice <{ALICE}>", to="Boss <boss@example.com>", subject="re: plans",
        body="the reply body\r\n", extra="", date=True, msgid=True):
    h = f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n{extra}"
    if date:
        h += "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
    if msgid:
        h += f"Message-ID: <{time.time_ns()}@client.ext.test>\r\n"
    return (h + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + body).encode()


def relayed(d, marker, count=1, timeout=20.0):
    """Outbox mails holding marker (bytes), once there are count of them."""
    deadline = time.monotonic() + timeout
    while True:
        got = [m for m in sgvault.outbox(d) if marker in m]
        if len(got) >= count or time.monotonic() > deadline:
            assert len(got) >= count, f"{len(got)} of {count} with {marker!r}:\n" + \
                d.log_text()[-3000:]
            return got
        time.sleep(0.05)


def raw_tls(d, implicit=False):
    """A transcript client, after EHLO (and STARTTLS) on a submission port."""
    if implicit:
        s = Raw(d.submission_tls_port, greet=False)
        s.sock = d.ssl_context().wrap_socket(s.sock, server_hostname="127.0.0.1")
        s.greeting = s.reply()
    else:
        s = Raw(d.submission_port)
        s.expect(b"EHLO c\r\n", r"^250 ")
        s.starttls(d.ssl_context(), server_hostname="127.0.0.1")
    s.expect(b"EHLO c\r\n", r"^250 ")
    return s


def b64(text):
    import base64
    return base64.b64encode(text.encode() if isinstance(text, str) else text)


# ---- AUTH ----

@test
def auth_only_after_tls_and_mail_only_after_auth(d):
    before = snapshot(d)
    c = smtplib.SMTP("127.0.0.1", d.submission_port, timeout=30)
    code, text = c.ehlo("c")
    assert code == 250 and b"STARTTLS" in text and b"AUTH" not in text, text
    code, text = c.docmd("AUTH", "PLAIN " + b64(f"\0{ALICE}\0{PASSWORD}").decode())
    assert (code, text) == (530, b"5.7.0 Must issue a STARTTLS command first"), (code, text)
    code, text = c.mail(ALICE)
    assert code == 530, (code, text)
    c.starttls(context=d.ssl_context())
    code, text = c.ehlo("c")
    assert b"AUTH PLAIN LOGIN" in text and b"STARTTLS" not in text, text
    assert c.mail(ALICE) == (530, b"5.7.0 Authentication required")
    c.quit()
    # the implicit-TLS listener offers AUTH at once
    c = smtplib.SMTP_SSL("127.0.0.1", d.submission_tls_port, context=d.ssl_context(),
                         timeout=30)
    code, text = c.ehlo("c")
    assert b"AUTH PLAIN LOGIN" in text and b"STARTTLS" not in text, text
    assert c.mail(ALICE)[0] == 530
    c.login(ALICE, PASSWORD)
    assert c.mail(ALICE)[0] == 250
    c.quit()
    assert snapshot(d) == before


@test
def plain_and_login_with_and_without_initial_response(d):
    # smtplib: PLAIN and LOGIN, initial response on and off
    for mech in ("PLAIN", "LOGIN"):
        for ir in (True, False):
            c = sgsubmit.starttls(d)
            fn = c.auth_plain if mech == "PLAIN" else c.auth_login
            c.user, c.password = ALICE, PASSWORD
            code, text = c.auth(mech, fn, initial_response_ok=ir)
            assert (code, text) == (235, b"2.7.0 Authentication successful"), (mech, ir)
            assert c.mail(ALICE)[0] == 250
            c.quit()
    # the same by hand, with the authzid form and the address in capitals
    s = raw_tls(d)
    s.expect(b"AUTH PLAIN\r\n", r"^334 $")
    s.expect(b64(f"{ALICE.upper()}\0{ALICE.upper()}\0{PASSWORD}") + b"\r\n", r"^235 2\.7\.0")
    s.expect(b"AUTH PLAIN " + b64(f"\0{ALICE}\0{PASSWORD}") + b"\r\n", r"^503 5\.5\.1")
    s.close()
    s = raw_tls(d)
    s.expect(b"AUTH LOGIN " + b64(ALICE) + b"\r\n", r"^334 UGFzc3dvcmQ6$")
    s.expect(b64(PASSWORD) + b"\r\n", r"^235 ")
    s.close()


@test
def cancel_base64_errors_and_unknown_mechanisms(d):
    s = raw_tls(d)
    s.expect(b"AUTH PLAIN\r\n", r"^334 ")
    s.expect(b"*\r\n", r"^501 5\.0\.0 Authentication cancelled")
    s.expect(b"AUTH LOGIN\r\n", r"^334 VXNlcm5hbWU6$")
    s.expect(b64(ALICE) + b"\r\n", r"^334 UGFzc3dvcmQ6$")
    s.expect(b"*\r\n", r"^501 5\.0\.0")
    s.expect(b"AUTH PLAIN\r\n", r"^334 ")
    s.expect(b"not base64!\r\n", r"^501 5\.5\.2")
    s.expect(b"AUTH PLAIN !!!!\r\n", r"^501 ")            # initial response: parser
    s.expect(b"AUTH PLAIN =\r\n", r"^501 5\.5\.2 Malformed")  # empty response
    s.expect(b"AUTH PLAIN " + b64(f"{ALICE}") + b"\r\n", r"^501 5\.5\.2 Malformed")
    s.expect(b"AUTH PLAIN " + b64(f"dave@ext.test\0{ALICE}\0{PASSWORD}") + b"\r\n",
             r"^535 5\.7\.8 Cannot act as another user")
    s.expect(b"AUTH CRAM-MD5\r\n", r"^504 5\.5\.4")
    s.expect(b"MAIL FROM:<" + ALICE.encode() + b">\r\n", r"^530 ")
    s.expect(b"AUTH PLAIN " + b64(f"\0{ALICE}\0{PASSWORD}") + b"\r\n", r"^235 ")
    s.expect(b"MAIL FROM:<" + ALICE.encode() + b">\r\n", r"^250 ")
    s.expect(b"AUTH LOGIN\r\n", r"^503 5\.5\.1 AUTH is not allowed during a mail transaction")
    s.close()
    # after STARTTLS the session starts over: EHLO first
    s = Raw(d.submission_port)
    s.expect(b"EHLO c\r\n", r"^250 ")
    s.starttls(d.ssl_context(), server_hostname="127.0.0.1")
    s.expect(b"AUTH PLAIN " + b64(f"\0{ALICE}\0{PASSWORD}") + b"\r\n", r"^503 5\.5\.1 Send EHLO")
    s.close()
    assert PASSWORD not in d.log_text() and b64(PASSWORD).decode() not in d.log_text()


@test
def wrong_password_invited_and_disabled_accounts_get_535(d):
    before = snapshot(d)
    c = sgsubmit.starttls(d)
    try:
        c.login(ALICE, "wrong password entirely")
        raise AssertionError("logged in with a wrong password")
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535 and e.smtp_error.startswith(b"5.7.8"), e
    c.quit()
    # invited only
    d.cli("invite", "ivan@ext.test", check=True)
    c = sgsubmit.starttls(d)
    try:
        c.login("ivan@ext.test", PASSWORD)
        raise AssertionError("an invited account logged in")
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535, e
    c.quit()
    # disabled before login, and disabled while logged in
    c2 = sgsubmit.starttls(d, "dave@ext.test")
    d.cli("user", "disable", "dave@ext.test", check=True)
    c = sgsubmit.starttls(d)
    try:
        c.login("dave@ext.test", PASSWORD)
        raise AssertionError("a disabled account logged in")
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535, e
    c.quit()
    code, text = c2.mail("dave@ext.test")
    assert code == 550 and b"may not send" in text, (code, text)
    c2.quit()
    d.cli("user", "enable", "dave@ext.test", check=True)
    fails = sgsubmit.wait_audit(d, ALICE, "auth_failed")
    assert fails and fails[-1]["detail"] == "submission", fails
    snap = snapshot(d)
    assert (snap["messages"], snap["blobs"]) == (before["messages"], before["blobs"])


@test
def failures_wait_the_delay_then_the_lock_answers_454(d):
    slow = Daemon("subdelay", conf={"limits": {"auth_delay": "1s", "auth_delay_max": "2s",
                                               "auth_lock_after": "3", "auth_lock_time": "1m"},
                                    "policy": {"internal_domains": "example.com"}}).start()
    try:
        add_user(slow, ALICE)
        c = sgsubmit.starttls(slow)
        waited = []
        for _ in range(2):
            t0 = time.monotonic()
            code, text = c.docmd("AUTH", "PLAIN " + b64(f"\0{ALICE}\0wrong guess").decode())
            waited.append(time.monotonic() - t0)
            assert (code, text[:5]) == (535, b"5.7.8"), (code, text)
        assert waited[0] >= 0.9 and waited[1] >= 1.8, waited    # 1 s, then doubled
        code, text = c.docmd("AUTH", "PLAIN " + b64(f"\0{ALICE}\0wrong again").decode())
        assert code == 535, (code, text)
        # locked now: even the right password gets 454, on another connection too
        code, text = c.docmd("AUTH", "PLAIN " + b64(f"\0{ALICE}\0{PASSWORD}").decode())
        assert code == 454 and text.startswith(b"4.7.0"), (code, text)
        c.close()
        locked = sgsubmit.wait_audit(slow, ALICE, "auth_locked")
        assert locked and locked[0]["detail"] == "submission", locked
    finally:
        slow.stop()
        slow.cleanup()


@test
def mail_from_must_be_the_authenticated_address(d):
    before = snapshot(d)
    c = sgsubmit.starttls(d, ALICE)
    code, text = c.mail("dave@ext.test")
    assert code == 553 and text.startswith(b"5.7.1"), (code, text)
    assert c.mail("")[0] == 553
    assert c.mail("boss@example.com")[0] == 553
    assert c.mail("Alice@EXT.test")[0] == 250   # case does not matter
    c.rset()
    c.quit()
    assert snapshot(d) == before


# ---- the message ----

@test
def date_and_message_id_added_when_missing_the_rest_byte_for_byte(d):
    body = "line one\r\n.leading dot\r\n\r\n  trailing spaces  \r\n" + "x" * 3000 + "\r\n"
    m = msg(date=False, msgid=False, body=body, extra="X-Odd:   kept   as is\r\n",
            subject="added-1")
    c = sgsubmit.starttls(d, ALICE)
    c.sendmail(ALICE, ["boss@example.com"], m)
    c.quit()
    raw = relayed(d, b"added-1")[0]
    trace, added, rest = split_relayed(raw)
    assert rest == m, (rest[:300], m[:300])
    assert b"with ESMTPSA" in trace, trace
    assert set(added) == {"Date", "Message-ID"}, added
    assert re.match(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$", added["Date"])
    assert re.match(r"<[0-9a-f]+\.[0-9a-f]{24}@localhost>$", added["Message-ID"]), added
    # a message that has both gets neither
    m = msg(body="second\r\n", subject="added-2")
    c = sgsubmit.implicit(d, ALICE)
    c.sendmail(ALICE, ["Boss@Example.com"], m)
    c.quit()
    raw = relayed(d, b"added-2")[0]
    _, added, rest = split_relayed(raw)
    assert added == {} and rest == m
    assert b"X-Envelope-To: <boss@example.com>" in raw.split(b"\r\n\r\n")[0]


@test
def a_from_header_of_someone_else_is_refused(d):
    before = snapshot(d)
    c = sgsubmit.starttls(d, ALICE)
    for frm in ("Boss <boss@example.com>", f"Alice <{ALICE}>, boss@example.com"):
        try:
            c.sendmail(ALICE, ["boss@example.com"], msg(frm=frm))
            raise AssertionError("sent as " + frm)
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 550 and b"From:" in e.smtp_error, e
    try:
        c.sendmail(ALICE, ["boss@example.com"], msg(extra="Sender: boss@example.com\r\n"))
        raise AssertionError("sent with a foreign Sender:")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 550 and b"Sender:" in e.smtp_error, e
    # tolerated: iOS's unescaped quotes in a display name, bare address, case
    for frm in ('"=?utf-8?Q?Al"ice?=" <ALICE@ext.test>', ALICE, f"<{ALICE}>"):
        c.sendmail(ALICE, ["boss@example.com"], msg(frm=frm, subject="from-ok"))
    c.quit()
    relayed(d, b"from-ok", 3)
    assert snapshot(d)["messages"] == before["messages"]


@test
def ios_8bit_smtputf8_without_8bitmime_is_taken_as_is(d):
    m = msg(subject="Grüße aus Zürich", body="Schöne Grüße — ünïcödé\r\n")
    s = raw_tls(d)
    s.expect(b"AUTH PLAIN " + b64(f"\0{ALICE}\0{PASSWORD}") + b"\r\n", r"^235 ")
    s.expect(f"MAIL FROM:<{ALICE}> SMTPUTF8\r\n".encode(), r"^250 ")
    s.expect(b"RCPT TO:<boss@example.com>\r\n", r"^250 ")
    s.expect(b"DATA\r\n", r"^354 ")
    s.expect(dot_stuff(m), r"^250 2\.0\.0 Ok")
    # BDAT too, without any BODY= parameter
    s.expect(f"MAIL FROM:<{ALICE}>\r\n".encode(), r"^250 ")
    s.expect(b"RCPT TO:<boss@example.com>\r\n", r"^250 ")
    s.send(b"BDAT 10\r\n" + m[:10])
    s.expect(b"", r"^250 2\.0\.0 10 octets")
    s.send(f"BDAT {len(m) - 10} LAST\r\n".encode() + m[10:])
    s.expect(b"", r"^250 2\.0\.0 Ok")
    s.close()
    for raw in relayed(d, "Grüße aus Zürich".encode(), 2):
        assert split_relayed(raw)[2] == m


@test
def pipelined_auth_and_transaction_answer_in_order(d):
    m = msg(body="pipelined\r\n", subject="pipelined")
    s = raw_tls(d)
    s.send(b"AUTH PLAIN " + b64(f"\0{ALICE}\0{PASSWORD}") + b"\r\n" +
           f"MAIL FROM:<{ALICE}>\r\nRCPT TO:<boss@example.com>\r\n"
           "RCPT TO:<stranger@nowhere.test>\r\nDATA\r\n".encode())
    for pat in (r"^235 ", r"^250 2\.1\.0", r"^250 2\.1\.5", r"^550 5\.7\.1", r"^354 "):
        s.expect(b"", pat)
    s.expect(dot_stuff(m) + b"QUIT\r\n", r"^250 2\.0\.0")
    s.expect(b"", r"^221 ")
    s.close()
    assert split_relayed(relayed(d, b"pipelined")[0])[2] == m


# ---- recipients ----

@test
def strangers_are_refused_with_a_sentence_correspondents_sealed(d):
    before = snapshot(d)
    c = sgsubmit.starttls(d, ALICE)
    c.mail(ALICE)
    code, text = c.rcpt("stranger@nowhere.test")
    assert code == 550 and text == (b"5.7.1 <stranger@nowhere.test>: you can only write to "
                                    b"your organization and to people who wrote to you or "
                                    b"were copied with you"), text
    assert c.rcpt("<Postmaster>")[0] == 550
    assert c.rcpt("x@[127.0.0.1]")[0] == 550
    try:
        c.data(msg())
        raise AssertionError("DATA without a recipient")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 554, e
    c.quit()
    assert snapshot(d) == before
    # Carol was copied on the boss's message: a correspondent (any case)
    m = msg(to="Boss <boss@example.com>, Carol <carol@partner.test>", subject="reply-all")
    c = sgsubmit.starttls(d, ALICE)
    refused = c.sendmail(ALICE, ["boss@example.com", "CAROL@partner.test"], m)
    c.quit()
    assert refused == {}
    sgvault.wait_invitation(d, "carol@partner.test")
    got = relayed(d, b"reply-all")
    assert len(got) == 1 and b"X-Envelope-To: <boss@example.com>" in got[0]
    assert split_relayed(got[0])[2] == m
    token = sgvault.token_of(sgvault.invitations_for(d, "carol@partner.test")[0])
    inv = sgvault.parse(sgvault.invitations_for(d, "carol@partner.test")[0])
    assert "Alice" in inv["Subject"] and ALICE in inv["From"], inv["From"]
    sgvault.enroll(d, token)
    inbox = sgvault.read_inbox(d, "carol@partner.test")
    assert len(inbox) == 1 and split_relayed(inbox[0][1])[2] == m
    after = snapshot(d)
    assert after["messages"] == before["messages"] + 1


@test
def too_many_recipients_452_and_audited(d):
    before = snapshot(d)
    c = sgsubmit.starttls(d, ALICE)
    c.mail(ALICE)
    for i in range(3):
        assert c.rcpt(f"r{i}@example.com")[0] == 250
    assert c.rcpt("r3@example.com") == (452, b"4.5.3 Too many recipients")
    assert c.rcpt("r4@example.com")[0] == 452
    c.rset()
    c.quit()
    assert snapshot(d) == before
    assert len(sgsubmit.wait_audit(d, ALICE, "submission_too_many_rcpts")) == 1
    time.sleep(0.5)
    assert len(sgsubmit.audit(d, ALICE, "submission_too_many_rcpts")) == 1


@test
def too_big_by_size_data_and_bdat_552_and_nothing_kept(d):
    before = snapshot(d)
    c = sgsubmit.starttls(d, ALICE)
    code, text = c.mail(ALICE, [f"SIZE={MAX + 1}"])
    assert code == 552, (code, text)
    big = msg(body="y" * MAX + "\r\n")
    try:   # announced by smtplib's SIZE=
        c.sendmail(ALICE, ["boss@example.com"], big)
        raise AssertionError("too big accepted")
    except smtplib.SMTPSenderRefused as e:
        assert e.smtp_code == 552, e
    assert c.mail(ALICE)[0] == 250 and c.rcpt("boss@example.com")[0] == 250
    code, text = c.data(big)   # not announced: counted while it arrives
    assert code == 552, (code, text)
    c.quit()
    s = raw_tls(d)
    s.expect(b"AUTH PLAIN " + b64(f"\0{ALICE}\0{PASSWORD}") + b"\r\n", r"^235 ")
    s.expect(f"MAIL FROM:<{ALICE}>\r\n".encode(), r"^250 ")
    s.expect(b"RCPT TO:<boss@example.com>\r\n", r"^250 ")
    s.send(f"BDAT {len(big)} LAST\r\n".encode() + big)
    s.expect(b"", r"^552 ")
    s.close()
    assert snapshot(d) == before


@test
def swaks_with_auth_plain_and_login(d):
    for mech, tls in (("PLAIN", "--tls"), ("LOGIN", "--tls"), ("PLAIN", "--tlsc")):
        port = d.submission_tls_port if tls == "--tlsc" else d.submission_port
        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", tls, "--auth", mech,
                            "--auth-user", ALICE, "--auth-password", PASSWORD,
                            "--from", ALICE, "--to", "boss@example.com",
                            "--header", f"From: Alice <{ALICE}>",
                            "--header", f"Subject: swaks {mech}", "--body", "hello",
                            "--attach", "-"],
                           input=bytes(range(256)) * 64, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stdout.decode()[-2000:] + r.stderr.decode()[-2000:]
        assert b"235 2.7.0" in r.stdout and b"250 2.0.0 Ok: queued" in r.stdout
    for raw in relayed(d, b"Subject: swaks ", 3):
        att = [p for p in sgvault.parse(raw).iter_attachments()]
        assert att and att[0].get_content() == bytes(range(256)) * 64


@test
def the_hourly_limit_answers_451_audits_and_survives_a_restart(d):
    limited = Daemon("sublim", conf={"submission": {"max_messages_per_hour": "2"},
                                     "policy": {"internal_domains": "example.com"}}).start()
    try:
        add_user(limited, ALICE)
        c = sgsubmit.starttls(limited, ALICE)
        for i in range(2):
            c.sendmail(ALICE, ["boss@example.com"], msg(body=f"{i}\r\n"))
        code, text = c.mail(ALICE)
        assert code == 451 and text.startswith(b"4.7.1"), (code, text)
        c.quit()
        before = snapshot(limited)
        limited.stop()
        limited.start()
        c = sgsubmit.starttls(limited, ALICE)
        assert c.mail(ALICE)[0] == 451, "the limit was forgotten by the restart"
        c.quit()
        assert snapshot(limited) == before
        assert len(sgsubmit.audit(limited, ALICE, "submission")) == 2
        assert len(sgsubmit.wait_audit(limited, ALICE, "submission_limited", 2)) == 2
        # another account is not affected
        add_user(limited, "dave@ext.test")
        c = sgsubmit.starttls(limited, "dave@ext.test")
        assert c.mail("dave@ext.test")[0] == 250
        c.quit()
    finally:
        limited.stop()
        limited.cleanup()


@test
def policy_any_and_none(d):
    for mode, want in (("any", 250), ("none", 550)):
        p = Daemon(f"sub{mode}", conf={"policy": {"internal_domains": "example.com",
                                                  "external_recipients": mode}}).start()
        try:
            add_user(p, ALICE)
            c = sgsubmit.starttls(p, ALICE)
            c.mail(ALICE)
            code, text = c.rcpt("stranger@nowhere.test")
            assert code == want, (mode, code, text)
            if mode == "none":
                assert b"only write to addresses of your organization" in text, text
            assert c.rcpt("boss@example.com")[0] == 250
            c.quit()
        finally:
            p.stop()
            p.cleanup()


if __name__ == "__main__":
    run(setup, teardown)
