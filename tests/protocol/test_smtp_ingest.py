"""Inbound SMTP into the vault: 250 only after the commit, the message kept
byte-exact behind one Received: header (with the TLS version), encrypted
once for any number of recipients, invitations in the outbox whose link
enrolls, no second link for a pending recipient, notices for enrolled ones,
BDAT, pipelining, swaks, the size limit at N and N+1."""
import re
import smtplib
import subprocess
import time

import sgvault
from sgtest import Daemon
from smtpscript import Raw, dot_stuff, message
from tap import run, test

MAX = 256 * 1024


def setup():
    return Daemon("smtping", conf={"smtp": {"max_message_size": "256K"},
                                    "policy": {"internal_domains": "example.com"}}).start()


def teardown(d):
    rc, _ = d.stop()
    d.cleanup()
    assert rc == 0, rc


def send(d, rcpts, msg, sender="alice@example.com", tls=True):
    c = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=30)
    c.ehlo("client.example")
    if tls:
        c.starttls(context=d.ssl_context())
        c.ehlo("client.example")
    c.mail(sender)
    for r in rcpts:
        code, _ = c.rcpt(r)
        assert code == 250, (r, code)
    code, text = c.data(msg)
    c.quit()
    return code, text.decode()


def stored_body(raw):
    """The stored message minus our Received: header (the first field)."""
    assert raw.startswith(b"Received: "), raw[:200]
    m = re.match(rb"Received: [^\r]*\r\n(?:[ \t][^\r]*\r\n)*", raw)
    return raw[:m.end()], raw[m.end():]


@test
def first_message_invites_and_the_link_enrolls(d):
    before = len(sgvault.outbox(d))
    msg = message(subject="secret plan", body="the secret body marker\r\n",
                  to="bob@ext.test")
    code, text = send(d, ["bob@ext.test"], msg)
    assert code == 250 and re.match(r"2\.0\.0 Ok: queued as [0-9a-f]+", text), (code, text)
    inv = sgvault.wait_outbox(d, before + 1)[before]
    parsed = sgvault.parse(inv)
    assert parsed["X-Sealgate"] == "invitation" and "bob@ext.test" in parsed["To"]
    assert "Alice Example" in parsed["From"] and "alice@example.com" in parsed["From"]
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content_type() == "multipart/alternative"
    text_body = sgvault.text_part(inv)
    html = parsed.get_body(preferencelist=("html",)).get_content()
    token = sgvault.token_of(inv)
    assert f"/enroll/{token}" in html and "Alice Example" in text_body
    assert re.search(r"until \w{3}, \d\d \w{3} \d{4} \d\d:\d\d UTC", text_body), text_body
    assert b"secret plan" not in inv and b"secret body marker" not in inv
    assert sgvault.account(d, "bob@ext.test")["state"] == "invited"
    # the token enrolls, once
    assert sgvault.enroll(d, token)["address"] == "bob@ext.test"
    r = sgvault.tool(d.data, "enroll", token, sgvault.PASSWORD, check=False)
    assert r.returncode != 0 and "NOTFOUND" in r.stderr.upper(), r.stderr
    inbox = sgvault.read_inbox(d, "bob@ext.test")
    assert len(inbox) == 1
    trace, body = stored_body(inbox[0][1])
    assert body == msg, (body[:300], msg[:300])
    assert int(inbox[0][0]["size"]) == len(inbox[0][1])
    assert b"from client.example ([127.0.0.1])" in trace and b"with ESMTPS" in trace, trace
    assert re.search(rb"\(using TLSv1\.[23] with cipher [A-Z0-9_-]+\)", trace), trace
    assert b"for <bob@ext.test>" in trace


@test
def a_pending_recipient_gets_no_second_link(d):
    before = len(sgvault.invitations_for(d, "carol@ext.test"))
    assert before == 0
    for i in range(3):
        code, _ = send(d, ["carol@ext.test"], message(subject=f"m{i}", to="carol@ext.test"),
                       tls=False)
        assert code == 250
    time.sleep(1.5)  # the queue runner had time to write anything queued
    assert len(sgvault.invitations_for(d, "carol@ext.test")) == 1
    notices = [m for m in sgvault.outbox(d) if b"carol@ext.test" in m and
               sgvault.parse(m)["X-Sealgate"] == "notice"]
    assert notices == [], "a notice came within the notice interval"
    acct = sgvault.account(d, "carol@ext.test")
    assert acct["state"] == "invited" and int(acct["invited_at"]) > 0, acct


@test
def fifty_recipients_encrypted_once_readable_by_each(d):
    rcpts = [f"r{i:02d}@fifty.test" for i in range(50)]
    s0 = sgvault.stats(d)
    msg = message(subject="to fifty", body="one body for everyone\r\n" * 20)
    code, _ = send(d, rcpts, msg)
    assert code == 250
    s1 = sgvault.stats(d)
    assert s1["blobs"] == s0["blobs"] + 1, (s0, s1)
    assert s1["messages"] == s0["messages"] + 50 and s1["invited"] == s0["invited"] + 50
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tokens = {}
        for m in sgvault.outbox(d):
            p = sgvault.parse(m)
            to = re.sub(r"[<>]", "", p.get("To", ""))
            if p["X-Sealgate"] == "invitation" and to in rcpts:
                tokens[to] = sgvault.token_of(m)
        if len(tokens) == 50:
            break
        time.sleep(0.2)
    assert len(tokens) == 50, len(tokens)
    blobs = set()
    for r in rcpts:
        sgvault.enroll(d, tokens[r])
        inbox = sgvault.read_inbox(d, r)
        assert len(inbox) == 1, r
        assert stored_body(inbox[0][1])[1] == msg
        blobs.add(inbox[0][0]["blob"])
    assert len(blobs) == 1, blobs


@test
def pipelined_transactions_in_one_write(d):
    m1 = message(subject="pipe one", to="pipe@ext.test")
    m2 = message(subject="pipe two", to="pipe@ext.test")
    s = Raw(d.smtp_port)
    s.send(b"EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<pipe@ext.test>\r\n"
           b"DATA\r\n")
    codes = [s.reply()[0] for _ in range(4)]
    assert codes == [250, 250, 250, 354], codes
    s.send(dot_stuff(m1) + b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<pipe@ext.test>\r\n"
           b"DATA\r\n")
    replies = [s.reply_text() for _ in range(4)]
    assert replies[0].startswith("250 2.0.0 Ok: queued as"), replies
    assert [r[:3] for r in replies[1:]] == ["250", "250", "354"], replies
    s.send(dot_stuff(m2) + b"QUIT\r\n")
    assert s.reply_text().startswith("250 2.0.0 Ok")
    assert s.reply()[0] == 221
    s.close()
    sgvault.enroll(d, sgvault.token_of(sgvault.wait_invitation(d, "pipe@ext.test")))
    bodies = [stored_body(m)[1] for _, m in sgvault.read_inbox(d, "pipe@ext.test")]
    assert bodies == [m1, m2]


@test
def bdat_chunks_make_one_message(d):
    msg = message(subject="chunked", body="a" * 5000 + "\r\n.starts with a dot\r\n",
                  to="chunk@ext.test")
    s = Raw(d.smtp_port)
    s.expect(b"EHLO client.example\r\n", r"^250 ")
    s.expect(b"MAIL FROM:<alice@example.com> BODY=8BITMIME\r\n", r"^250")
    s.expect(b"RCPT TO:<chunk@ext.test>\r\n", r"^250")
    s.send(b"BDAT 1000\r\n" + msg[:1000] + b"BDAT %d\r\n" % (len(msg) - 1000 - 7) +
           msg[1000:-7] + b"BDAT 7 LAST\r\n" + msg[-7:])
    assert s.reply_text().startswith("250 2.0.0 1000 octets")
    assert s.reply_text().startswith("250 2.0.0 %d octets" % (len(msg) - 7))
    assert s.reply_text().startswith("250 2.0.0 Ok: queued as")
    s.close()
    sgvault.enroll(d, sgvault.token_of(sgvault.wait_invitation(d, "chunk@ext.test")))
    (info, raw), = sgvault.read_inbox(d, "chunk@ext.test")
    assert stored_body(raw)[1] == msg  # BDAT is not dot-stuffed: the dot stays


@test
def byte_exact_with_dots_8bit_and_a_100k_line(d):
    body = ("..two dots\r\n.one dot\r\n" + "ü" * 10 + "\r\n" + "x" * 100 * 1024 + "\r\n"
            + "end\r\n")
    msg = message(subject="exact", body=body, to="exact@ext.test")
    code, _ = send(d, ["exact@ext.test"], msg)
    assert code == 250
    sgvault.enroll(d, sgvault.token_of(sgvault.wait_invitation(d, "exact@ext.test")))
    (info, raw), = sgvault.read_inbox(d, "exact@ext.test")
    assert stored_body(raw)[1] == msg


@test
def size_limit_at_n_and_n_plus_1(d):
    head = message(subject="big", body="", to="big@ext.test")
    for extra, want in ((0, 250), (1, 552)):
        lines, rem = divmod(MAX + extra - len(head), 1000)
        if rem < 2:
            lines, rem = lines - 1, rem + 1000
        msg = head + (b"y" * 998 + b"\r\n") * lines + b"z" * (rem - 2) + b"\r\n"
        assert len(msg) == MAX + extra, (len(msg), MAX + extra)
        s = Raw(d.smtp_port)
        s.script([(b"EHLO x\r\n", r"^250"), (b"MAIL FROM:<alice@example.com>\r\n", r"^250"),
                  (b"RCPT TO:<big@ext.test>\r\n", r"^250"), (b"DATA\r\n", r"^354")])
        s.send(dot_stuff(msg))
        code, lines = s.reply()
        assert code == want, (extra, code, lines)
        s.close()


@test
def swaks_delivers_over_starttls(d):
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{d.smtp_port}", "--tls",
                        "--ehlo", "swaks.example", "--from", "alice@example.com",
                        "--to", "swaks@ext.test", "--header", "Subject: via swaks",
                        "--body", "hello from swaks"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"<~  250 2\.0\.0 Ok: queued as", r.stdout), r.stdout
    assert "STARTTLS" in r.stdout and "TLS started" in r.stdout, r.stdout
    assert sgvault.account(d, "swaks@ext.test")["state"] == "invited"


@test
def enrolled_recipient_gets_one_notice_without_content(d):
    d.cli("user", "add", "frank@ext.test", "--password-stdin", input=sgvault.PASSWORD + "\n",
          check=True)
    n0 = len(sgvault.outbox(d))
    for i in range(2):
        code, _ = send(d, ["frank@ext.test"], message(subject=f"secret subject {i}",
                                                       body="notice body marker\r\n",
                                                       to="frank@ext.test"))
        assert code == 250
    sgvault.wait_outbox(d, n0 + 1)
    time.sleep(1.5)
    notices = sgvault.outbox(d)[n0:]
    assert len(notices) == 1, [sgvault.parse(m)["X-Sealgate"] for m in notices]
    m = notices[0]
    p = sgvault.parse(m)
    assert p["X-Sealgate"] == "notice" and "frank@ext.test" in p["To"]
    # notify_subject = no: neither sender nor subject, not even in From or Return-Path
    assert b'\r\nFrom: "Secure mail" <noreply@localhost>\r\n' in m, m[:400]
    assert m.startswith(b"Return-Path: <>\r\n"), m[:100]
    for needle in (b"secret subject", b"notice body marker", b"alice", b"Alice"):
        assert needle not in m, needle
    assert len(sgvault.read_inbox(d, "frank@ext.test")) == 2


@test
def notify_success_gets_a_delivered_report(d):
    n0 = len(sgvault.outbox(d))
    s = Raw(d.smtp_port)
    s.script([(b"EHLO client.example\r\n", r"^250"),
              (b"MAIL FROM:<alice@example.com> RET=HDRS ENVID=env+2B1\r\n", r"^250"),
              (b"RCPT TO:<gina@ext.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Gina@ext.test\r\n",
               r"^250"),
              (b"RCPT TO:<hank@ext.test> NOTIFY=NEVER\r\n", r"^250"),
              (b"DATA\r\n", r"^354")])
    s.expect(dot_stuff(message(subject="report me", body="report body marker\r\n")),
             r"^250 2\.0\.0 Ok")
    s.close()
    deadline = time.monotonic() + 20
    reports = []
    while not reports and time.monotonic() < deadline:
        reports = [m for m in sgvault.outbox(d)[n0:] if b"multipart/report" in m]
        time.sleep(0.05)
    assert len(reports) == 1, len(reports)
    r = reports[0]
    assert r.startswith(b"Return-Path: <>\r\n") and b"To: <alice@example.com>" in r
    assert b"Subject: Delivery Status Notification" in r
    assert b"Original-Envelope-Id: env+1\r\n" in r
    assert b"Final-Recipient: rfc822; gina@ext.test\r\nOriginal-Recipient: rfc822;Gina@ext.test" \
        b"\r\nAction: delivered\r\nStatus: 2.0.0" in r, r
    assert b"hank@ext.test\r\nAction" not in r  # NOTIFY=NEVER
    assert b"text/rfc822-headers" in r and b"report body marker" not in r


@test
def log_has_no_token_and_no_content(d):
    text = d.log_text()
    for m in sgvault.outbox(d):
        p = sgvault.parse(m)
        if p["X-Sealgate"] == "invitation":
            assert sgvault.token_of(m) not in text
    assert "secret body marker" not in text and "secret plan" not in text
    assert re.search(r"INFO smtp session=[0-9a-f]{8} event=accepted id=\S+ size=\d+ rcpts=1",
                     text)


if __name__ == "__main__":
    run(setup, teardown)
