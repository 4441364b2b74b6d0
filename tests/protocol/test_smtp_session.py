"""Inbound SMTP, the protocol: EHLO extensions, enhanced codes on every
reply, bad sequences, unknown commands, line and recipient and size limits,
policy (trusted networks, internal senders, internal recipients), SMTPUTF8,
STARTTLS, pipelining, BDAT, bare LF / NUL / smuggling in DATA, errors limit.
One daemon serves every test (each opens its own connections)."""
import re
import smtplib
import socket
import time

from sgtest import Daemon
from smtpscript import Closed, Raw, dot_stuff, message
from tap import run, test

ENHANCED = re.compile(r"^[245]\d\d [245]\.\d{1,3}\.\d{1,3}( |$)")


def setup():
    d = Daemon("smtpsess", conf={"smtp": {"max_message_size": "64K", "max_recipients": "100"},
                                  "policy": {"internal_domains": "example.com, .corp.example"}})
    return d.start()


def teardown(d):
    rc, _ = d.stop()
    d.cleanup()
    assert rc == 0, rc


def ehlo(d):
    s = Raw(d.smtp_port)
    assert s.greeting[0] == 220 and "ESMTP" in s.greeting[1][0], s.greeting
    s.send(b"EHLO client.example\r\n")
    code, lines = s.reply()
    assert code == 250
    return s, lines


@test
def ehlo_advertises_the_extensions(d):
    s, lines = ehlo(d)
    caps = [x.split()[0] for x in lines[1:]]
    for cap in ("PIPELINING", "SIZE", "STARTTLS", "8BITMIME", "SMTPUTF8", "CHUNKING", "DSN",
                "ENHANCEDSTATUSCODES"):
        assert cap in caps, (cap, lines)
    assert "SIZE 65536" in lines, lines
    assert "AUTH" not in caps, "inbound must not offer AUTH"
    s.expect(b"HELO client.example\r\n", r"^250 \S+$")
    s.close()


@test
def every_reply_carries_an_enhanced_status_code(d):
    s, _ = ehlo(d)
    for cmd in (b"NOOP", b"RSET", b"VRFY bob", b"HELP", b"XYZZY", b"MAIL FROM:<a@example.com>",
                b"MAIL FROM:<b@example.com>", b"RCPT TO:<x@ext.test>", b"RCPT TO:<y@example.com>",
                b"RCPT TO:bad", b"RSET", b"DATA", b"STARTTLS now", b"AUTH PLAIN", b"QUIT"):
        s.send(cmd + b"\r\n")
        code, lines = s.reply()
        for line in lines:
            text = f"{code} {line}"
            assert ENHANCED.match(text), (cmd, text)
    s.close()


@test
def bad_sequences_get_503_or_554(d):
    s = Raw(d.smtp_port)
    s.script([(b"MAIL FROM:<a@example.com>\r\n", r"^503 5\.5\.1 Send EHLO"),
              (b"RCPT TO:<b@ext.test>\r\n", r"^503 5\.5\.1"),
              (b"DATA\r\n", r"^503 5\.5\.1"),
              (b"EHLO x\r\n", r"^250 "),
              (b"RCPT TO:<b@ext.test>\r\n", r"^503 5\.5\.1 Need MAIL"),
              (b"DATA\r\n", r"^503 5\.5\.1"),
              (b"MAIL FROM:<a@example.com>\r\n", r"^250 2\.1\.0"),
              (b"MAIL FROM:<a@example.com>\r\n", r"^503 5\.5\.1 Nested"),
              (b"DATA\r\n", r"^554 5\.5\.1 No valid recipients"),
              (b"RSET\r\n", r"^250 2\.0\.0"),
              (b"RCPT TO:<b@ext.test>\r\n", r"^503 5\.5\.1"),
              # BDAT out of sequence: the chunk is read and dropped, then 503
              (b"BDAT 5 LAST\r\nhello", r"^503 5\.5\.1"),
              (b"NOOP\r\n", r"^250 2\.0\.0"),
              (b"QUIT\r\n", r"^221 2\.0\.0")])
    s.close()


@test
def unknown_and_malformed_commands(d):
    s, _ = ehlo(d)
    s.script([(b"XYZZY\r\n", r"^500 5\.5\.2 Command not recognized"),
              (b"MAIL FROM:alice@example.com\r\n", r"^501 5\.1\.7"),
              (b"MAIL FROM:<alice@example.com> FOO=1\r\n", r"^555 5\.5\.4"),
              (b"MAIL FROM:<alice@example.com> SIZE=x\r\n", r"^501 5\.5\.4"),
              (b"QUIT now\r\n", r"^501 5\.5\.4"),
              (b"EHLO\r\n", r"^501 5\.5\.4"),
              (b"NOOP\x00x\r\n", r"^500 5\.5\.2"),
              (b"NOOP\r\n", r"^250 ")])  # a NUL does not end the session
    s.close()


@test
def too_many_errors_closes_with_421(d):
    s, _ = ehlo(d)
    s.send(b"XYZZY\r\n" * 25)
    codes = []
    try:
        while True:
            codes.append(s.reply()[0])
    except (Closed, OSError):
        pass
    assert codes == [500] * 20 + [421], codes
    s.close()


@test
def a_100k_command_line_gets_500_and_close(d):
    s, _ = ehlo(d)
    s.send(b"NOOP " + b"x" * 100 * 1024 + b"\r\n")
    s.expect(b"", r"^500 5\.5\.2")
    assert s.closed()
    s.close()


@test
def command_line_limit_at_2048_and_2049(d):
    s, _ = ehlo(d)
    s.expect(b"NOOP " + b"x" * (2048 - 5) + b"\r\n", r"^250 ")
    s.expect(b"NOOP " + b"x" * (2049 - 5) + b"\r\n", r"^500 5\.5\.2")
    s.close()


@test
def policy_sender_must_be_internal(d):
    s, _ = ehlo(d)
    s.script([(b"MAIL FROM:<mallory@evil.test>\r\n", r"^553 5\.7\.1"),
              (b"MAIL FROM:<>\r\n", r"^553 5\.7\.1"),
              (b"MAIL FROM:<alice@sub.corp.example>\r\n", r"^250 2\.1\.0"),
              (b"RSET\r\n", r"^250"),
              (b"MAIL FROM:<Alice@EXAMPLE.com>\r\n", r"^250 2\.1\.0")])
    s.close()


@test
def policy_internal_recipients_are_refused(d):
    s, _ = ehlo(d)
    s.script([(b"MAIL FROM:<alice@example.com>\r\n", r"^250"),
              (b"RCPT TO:<bob@example.com>\r\n", r"^550 5\.7\.1 .*not a secure recipient"),
              (b"RCPT TO:<bob@x.corp.example>\r\n", r"^550 5\.7\.1"),
              (b"RCPT TO:<Postmaster>\r\n", r"^550 5\.7\.1"),
              (b"RCPT TO:<bob@[192.0.2.1]>\r\n", r"^550 5\.1\.3"),
              (b"RCPT TO:<bob@ext.test> NOTIFY=SUCCESS ORCPT=rfc822;bob@ext.test\r\n",
               r"^250 2\.1\.5"),
              (b"RCPT TO:<BOB@ext.test>\r\n", r"^250 2\.1\.5 .*duplicate")])
    s.close()


@test
def untrusted_network_gets_554_then_only_quit(_shared):
    d = Daemon("smtpuntrust", conf={"smtp": {"trusted_networks": "192.0.2.0/24"}}).start()
    try:
        s = Raw(d.smtp_port)
        assert s.greeting[0] == 554 and s.greeting[1][0].startswith("5.7.1"), s.greeting
        s.script([(b"EHLO x\r\n", r"^503 5\.7\.1"),
                  (b"MAIL FROM:<a@example.com>\r\n", r"^503 5\.7\.1"),
                  (b"QUIT\r\n", r"^221 2\.0\.0")])
        s.close()
    finally:
        d.stop()
        d.cleanup()


@test
def recipient_limit_at_100_and_101(d):
    s, _ = ehlo(d)
    s.expect(b"MAIL FROM:<alice@example.com>\r\n", r"^250")
    s.send(b"".join(b"RCPT TO:<r%d@ext.test>\r\n" % i for i in range(101)))
    for i in range(100):
        assert s.reply()[0] == 250, i
    s.expect(b"", r"^452 4\.5\.3 Too many recipients")
    s.close()


@test
def size_parameter_over_the_limit_is_552(d):
    s, _ = ehlo(d)
    s.expect(b"MAIL FROM:<alice@example.com> SIZE=65537\r\n", r"^552 5\.3\.4")
    s.expect(b"MAIL FROM:<alice@example.com> SIZE=65536\r\n", r"^250")
    s.close()


def start_data(d):
    s, _ = ehlo(d)
    s.script([(b"MAIL FROM:<alice@example.com>\r\n", r"^250"),
              (b"RCPT TO:<bob@ext.test>\r\n", r"^250"),
              (b"DATA\r\n", r"^354 ")])
    return s


@test
def message_over_the_size_limit_is_552_after_the_dot(d):
    s = start_data(d)
    s.send(dot_stuff(message(body="x" * 1000 + "\r\n") * 70))
    s.expect(b"", r"^552 5\.3\.4")
    s.expect(b"NOOP\r\n", r"^250 ")  # the session goes on
    s.close()


@test
def bare_lf_in_data_is_refused_and_does_not_end_it(d):
    s = start_data(d)
    # "LF . CRLF" would end DATA for a lax server: here it is message text
    s.send(b"Subject: x\r\n\r\nline\n.\r\nMAIL FROM:<x@example.com>\r\n")
    time.sleep(0.2)
    s.send(b"more\r\n.\r\n")
    s.expect(b"", r"^554 5\.6\.0")
    s.expect(b"NOOP\r\n", r"^250 2\.0\.0 OK")
    s.close()


@test
def bare_cr_and_nul_in_data_are_refused(d):
    for body in (b"a\rb\r\n", b"a\x00b\r\n", b"x\r\n.\rMAIL FROM:<x@example.com>\r\n"):
        s = start_data(d)
        s.send(b"Subject: x\r\n\r\n" + body + b".\r\n")
        s.expect(b"", r"^554 5\.6\.0")
        s.close()


@test
def bdat_out_of_order_and_malformed(d):
    s, _ = ehlo(d)
    s.expect(b"MAIL FROM:<alice@example.com>\r\n", r"^250")
    s.expect(b"BDAT 3\r\nabc", r"^554 5\.5\.1 No valid recipients")
    s.expect(b"RCPT TO:<bob@ext.test>\r\n", r"^250")
    s.expect(b"BDAT 3\r\nab\r", r"^250 2\.0\.0 3 octets")
    s.expect(b"DATA\r\n", r"^503 5\.5\.1 BDAT transaction")
    s.expect(b"BDAT 2 LAST\r\nxy", r"^554 5\.6\.0")  # the first chunk's CR is bare
    s.expect(b"BDAT x\r\n", r"^501 5\.5\.4")
    assert s.closed()
    s.close()


@test
def bdat_over_the_size_limit_is_552_and_data_is_consumed(d):
    s, _ = ehlo(d)
    s.script([(b"MAIL FROM:<alice@example.com>\r\n", r"^250"),
              (b"RCPT TO:<bob@ext.test>\r\n", r"^250")])
    s.send(b"BDAT 70000\r\n" + b"x" * 70000 + b"BDAT 10 LAST\r\n0123456789NOOP\r\n")
    s.expect(b"", r"^552 5\.3\.4")
    s.expect(b"", r"^503 5\.5\.1")  # the transaction is over; the chunk was still read
    s.expect(b"", r"^250 2\.0\.0 OK")
    s.close()


@test
def smtputf8_addresses_need_the_parameter(d):
    s, _ = ehlo(d)
    s.script([("MAIL FROM:<jörg@example.com>\r\n".encode(), r"^553 5\.6\.7"),
              ("MAIL FROM:<jörg@example.com> SMTPUTF8\r\n".encode(), r"^250"),
              ("RCPT TO:<用户@例子.test>\r\n".encode(), r"^250 2\.1\.5"),
              (b"RSET\r\n", r"^250"),
              (b"MAIL FROM:<a@example.com>\r\n", r"^250"),
              ("RCPT TO:<用户@例子.test>\r\n".encode(), r"^553 5\.6\.7")])
    s.close()


@test
def binarymime_is_not_offered(d):
    s, _ = ehlo(d)
    s.expect(b"MAIL FROM:<a@example.com> BODY=BINARYMIME\r\n", r"^555 5\.5\.4")
    s.expect(b"MAIL FROM:<a@example.com> BODY=8BITMIME RET=HDRS ENVID=x+2By\r\n", r"^250")
    s.close()


@test
def vrfy_help_noop_rset(d):
    s, _ = ehlo(d)
    s.script([(b"VRFY bob\r\n", r"^252 2\.5\.0"), (b"HELP\r\n", r"^214 2\.0\.0"),
              (b"NOOP hello\r\n", r"^250 2\.0\.0"), (b"RSET\r\n", r"^250 2\.0\.0"),
              (b"AUTH PLAIN\r\n", r"^502 5\.5\.1")])
    s.close()


@test
def pipelined_commands_are_answered_in_order_in_one_burst(d):
    s = Raw(d.smtp_port)
    s.send(b"EHLO x\r\nNOOP\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<a@ext.test>\r\n"
           b"RCPT TO:<b@example.com>\r\nRCPT TO:<c@ext.test>\r\nRSET\r\nVRFY x\r\nQUIT\r\n")
    codes = [s.reply()[0] for _ in range(9)]
    assert codes == [250, 250, 250, 250, 550, 250, 250, 252, 221], codes
    assert s.closed()
    s.close()


@test
def starttls_with_smtplib_then_a_transaction(d):
    c = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
    c.starttls(context=d.ssl_context())
    c.ehlo("client.example")
    assert not c.has_extn("starttls") and c.has_extn("chunking")
    code, _ = c.mail("alice@example.com")
    assert code == 250
    assert c.rcpt("bob@ext.test")[0] == 250
    assert c.rset()[0] == 250
    assert c.docmd("STARTTLS")[0] == 503
    c.quit()


@test
def starttls_refuses_parameters_and_forgets_ehlo(d):
    s, _ = ehlo(d)
    s.expect(b"STARTTLS x\r\n", r"^501 5\.5\.4")
    s.expect(b"MAIL FROM:<alice@example.com>\r\n", r"^250")
    s.expect(b"STARTTLS\r\n", r"^503 5\.5\.1")  # not inside a transaction
    s.expect(b"RSET\r\n", r"^250")
    s.starttls(d.ssl_context())
    s.expect(b"MAIL FROM:<alice@example.com>\r\n", r"^503 5\.5\.1 Send EHLO")
    s.close()


@test
def hang_up_mid_data_leaves_the_daemon_serving(d):
    s = start_data(d)
    s.send(b"Subject: x\r\n\r\npartial")
    s.close()
    time.sleep(0.1)
    s2, _ = ehlo(d)
    s2.expect(b"QUIT\r\n", r"^221")
    s2.close()


@test
def log_lines_name_the_session_not_the_content(d):
    s = start_data(d)
    s.send(b"Subject: secret-subject-marker\r\n\r\nsecret-body-marker\r\n.\r\n")
    s.reply()
    s.close()
    time.sleep(0.2)
    text = d.log_text()
    assert "secret-subject-marker" not in text and "secret-body-marker" not in text
    assert re.search(r"INFO smtp session=[0-9a-f]{8} event=connect ", text), text[-2000:]


if __name__ == "__main__":
    run(setup, teardown)
