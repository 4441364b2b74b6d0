"""Submission to a real relay host: a private Postfix that stores what it
receives in Maildirs (example.com, the organization; partner.test, where
invitations to outsiders end up). A reply with a 5 MB attachment arrives
byte for byte (smtplib over STARTTLS, over implicit TLS, and BDAT; the
Maildir holds LF line ends, Postfix's local convention, so the client's
bytes are compared with CRLF turned into LF, and the attachment decoded);
reply-all reaches the internal recipient through Postfix and the external
correspondent in their own vault, with an invitation; the refusals reach
no one."""
import base64
import email
import email.policy
import os
import smtplib
import time
from email.message import EmailMessage

import sgsubmit
import sgvault
from postfix import Postfix
from sgsubmit import PASSWORD, add_user, lf, split_relayed
from sgtest import Daemon
from smtpscript import Raw
from tap import run, test

ALICE = "alice@ext.test"


class Env:
    pass


def setup():
    e = Env()
    e.pf = Postfix("subrelay", mailbox_domains=["example.com", "partner.test"]).start()
    e.d = Daemon("subrelay", conf={
        "relay": {"host": "127.0.0.1", "port": str(e.pf.port), "retry_initial": "1s",
                  "retry_max": "2s"},
        "policy": {"internal_domains": "example.com", "notify_enrolled": "no"}}).start()
    add_user(e.d, ALICE)
    return e


def teardown(e):
    rc, _ = e.d.stop()
    e.d.cleanup()
    e.pf.cleanup()
    assert rc == 0, rc


def reply(subject, attachment=None, to="Boss <boss@example.com>", cc=None,
          in_reply_to="<orig-1@example.com>"):
    m = EmailMessage()
    m["From"] = f"Alice <{ALICE}>"
    m["To"] = to
    if cc:
        m["Cc"] = cc
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate()
    m["Message-ID"] = email.utils.make_msgid(domain="client.ext.test")
    m["In-Reply-To"] = in_reply_to
    m["References"] = in_reply_to
    m.set_content("See the attachment.\n")
    if attachment is not None:
        m.add_attachment(attachment, maintype="application", subtype="octet-stream",
                         filename="report.bin")
    return m.as_bytes(policy=email.policy.SMTP)


def delivered(pf, domain, subject, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [m for m in pf.mailbox(domain) if f"Subject: {subject}".encode() in m]
        if got:
            return got
        time.sleep(0.1)
    raise TimeoutError(f"no {subject!r} at {domain}:\n{pf.log_text()[-3000:]}")


def attachment_of(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    atts = list(msg.iter_attachments())
    assert len(atts) == 1, [a.get_content_type() for a in atts]
    return atts[0].get_content()


@test
def a_reply_with_a_5mb_attachment_arrives_byte_exact(e):
    blob = os.urandom(5 * 1024 * 1024)
    m = reply("five megabytes", blob)
    c = sgsubmit.starttls(e.d, ALICE)
    assert c.sendmail(ALICE, ["boss@example.com"], m) == {}
    c.quit()
    got = delivered(e.pf, "example.com", "five megabytes")[0]
    trace, added, rest = split_relayed(got)
    assert added == {} and rest == lf(m), "the message changed on the way"
    assert attachment_of(got) == blob
    assert b"\nIn-Reply-To: <orig-1@example.com>\n" in got


@test
def implicit_tls_and_bdat_arrive_byte_exact(e):
    blob = os.urandom(3 * 1024 * 1024 + 17)
    m = reply("implicit tls", blob)
    c = sgsubmit.implicit(e.d, ALICE)
    assert c.sendmail(ALICE, ["boss@example.com"], m) == {}
    c.quit()
    m2 = reply("bdat chunks", blob)
    s = Raw(e.d.submission_tls_port, greet=False)
    s.sock = e.d.ssl_context().wrap_socket(s.sock, server_hostname="127.0.0.1")
    s.greeting = s.reply()
    s.expect(b"EHLO c\r\n", r"CHUNKING")
    s.expect(b"AUTH PLAIN " + base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()) + b"\r\n",
             r"^235 ")
    s.expect(f"MAIL FROM:<{ALICE}> SIZE={len(m2)}\r\n".encode(), r"^250 ")
    s.expect(b"RCPT TO:<boss@example.com>\r\n", r"^250 ")
    step = 1024 * 1024
    for off in range(0, len(m2), step):
        chunk = m2[off:off + step]
        last = off + step >= len(m2)
        s.send(f"BDAT {len(chunk)}{' LAST' if last else ''}\r\n".encode() + chunk)
        s.expect(b"", r"^250 2\.0\.0 Ok" if last else r"^250 2\.0\.0 \d+ octets")
    s.close()
    for subject, want in (("implicit tls", m), ("bdat chunks", m2)):
        got = delivered(e.pf, "example.com", subject)[0]
        assert split_relayed(got)[2] == lf(want), subject
        assert attachment_of(got) == blob


@test
def reply_all_reaches_the_boss_and_seals_for_the_correspondent(e):
    # The boss wrote to Alice with Carol in copy; only Alice's copy came to
    # the gateway (Carol read hers elsewhere), so Carol has no account yet.
    sgsubmit.inbound(e.d, "boss@example.com", [ALICE], (
        "From: Boss <boss@example.com>\r\nTo: Alice <alice@ext.test>\r\n"
        "Cc: Carol <carol@partner.test>\r\nSubject: the plan\r\n"
        "Message-ID: <plan-1@example.com>\r\nDate: Fri, 27 Nov 2026 09:00:00 +0000\r\n"
        "\r\nWhat do you both think?\r\n").encode())
    assert sgvault.account(e.d, "carol@partner.test")["state"] == "none", \
        "Carol should not have an account before the reply"
    m = reply("Re: the plan", b"\x00\x01binary\xff" * 1000, to="Boss <boss@example.com>",
              cc="Carol <carol@partner.test>", in_reply_to="<plan-1@example.com>")
    c = sgsubmit.starttls(e.d, ALICE)
    assert c.sendmail(ALICE, ["boss@example.com", "carol@partner.test"], m) == {}
    c.quit()
    boss = delivered(e.pf, "example.com", "Re: the plan")[0]
    assert split_relayed(boss)[2] == lf(m)
    inv = delivered(e.pf, "partner.test", "Alice sent you a secure message")[0]
    assert b"Re: the plan" not in inv and b"binary" not in inv, "content leaked"
    assert not [x for x in e.pf.mailbox("partner.test") if b"Subject: Re: the plan" in x], \
        "the reply went to Carol in clear"
    token = sgvault.token_of(inv)
    assert sgvault.enroll(e.d, token)["address"] == "carol@partner.test"
    inbox = sgvault.read_inbox(e.d, "carol@partner.test")
    assert len(inbox) == 1 and split_relayed(inbox[0][1])[2] == m


@test
def refusals_reach_no_one(e):
    before = (len(e.pf.mailbox("example.com")), len(e.pf.mailbox("partner.test")))
    snap = sgsubmit.snapshot(e.d)
    m = reply("must not arrive")
    c = smtplib.SMTP("127.0.0.1", e.d.submission_port, timeout=30)
    c.ehlo("c")
    assert c.mail(ALICE)[0] == 530                      # no TLS, no AUTH
    c.quit()
    c = sgsubmit.starttls(e.d)
    try:
        c.login(ALICE, "not the password")              # wrong password
        raise AssertionError("logged in")
    except smtplib.SMTPAuthenticationError as err:
        assert err.smtp_code == 535
    assert c.mail(ALICE)[0] == 530                      # no AUTH
    c.login(ALICE, PASSWORD)
    assert c.mail("boss@example.com")[0] == 553         # foreign MAIL FROM
    assert c.mail(ALICE)[0] == 250
    assert c.rcpt("stranger@nowhere.test")[0] == 550    # a stranger
    c.rset()
    assert c.mail(ALICE, [f"SIZE={60 * 1024 * 1024}"])[0] == 552   # too big
    c.quit()
    time.sleep(2)
    assert (len(e.pf.mailbox("example.com")), len(e.pf.mailbox("partner.test"))) == before
    assert sgsubmit.snapshot(e.d) == snap


if __name__ == "__main__":
    run(setup, teardown)
