"""End to end, a conversation across the gateway (issue 6, acceptance):

  1. the boss writes from the organization: the message goes into the
     organization's Postfix, whose transport sends ext.test to sealgate's
     inbound SMTP port;
  2. the external recipient's mail app reads it over IMAP (TLS, LOGIN);
  3. it answers with an attachment through submission (STARTTLS, AUTH),
     and keeps its own copy in Sent with APPEND, as mail apps do;
  4. sealgate relays the reply to its relay host, the same Postfix, which
     stores it in the boss's Maildir: the attachment byte for byte, the
     In-Reply-To and References naming the boss's message, and the whole
     message as the app sent it (with LF line ends, the Maildir's).
"""
import email
import email.policy
import imaplib
import os
import smtplib
import time
from email.message import EmailMessage

import sgsubmit
from postfix import Postfix
from sgimap import PASSWORD, add_user, imaps
from sgsubmit import lf, split_relayed
from sgtest import Daemon, free_port
from tap import run, test

USER = "alice@ext.test"
BOSS = "boss@example.com"


def wait_for(pred, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise TimeoutError(what)


def inbox_messages(d):
    m = imaps(d, USER)
    try:
        m.select("INBOX")
        typ, data = m.uid("SEARCH", None, "ALL")
        uids = data[0].split()
        out = []
        for uid in uids:
            typ, data = m.uid("FETCH", uid, "(BODY.PEEK[])")
            out.append(data[0][1])
        return out
    finally:
        m.logout()


@test
def a_message_read_over_imap_is_answered_with_an_attachment_back_to_the_org():
    pf_port = free_port()
    d = Daemon("roundtrip", conf={
        "relay": {"host": "127.0.0.1", "port": str(pf_port), "retry_initial": "1s",
                  "retry_max": "2s"},
        "policy": {"internal_domains": "example.com", "notify_enrolled": "no"}}).start()
    pf = Postfix("org", port=pf_port, mailbox_domains=["example.com"],
                 transports={"ext.test": f"smtp:[127.0.0.1]:{d.smtp_port}"})
    try:
        pf.start()
        add_user(d, USER)
        # 1. the boss writes, through the organization's MTA
        orig = EmailMessage()
        orig["From"] = f"The Boss <{BOSS}>"
        orig["To"] = f"Alice <{USER}>"
        orig["Subject"] = "Quarterly numbers"
        orig["Date"] = email.utils.formatdate()
        orig["Message-ID"] = "<q3-numbers@example.com>"
        orig.set_content("Alice, please send me the spreadsheet.\n")
        c = smtplib.SMTP("127.0.0.1", pf.port, timeout=30)
        c.sendmail(BOSS, [USER], orig.as_bytes(policy=email.policy.SMTP))
        c.quit()
        # 2. Alice's mail app finds it over IMAP
        got = wait_for(lambda: inbox_messages(d), "the message in Alice's INBOX:\n"
                       + pf.log_text()[-2000:] + d.log_text()[-2000:])
        read = email.message_from_bytes(got[0], policy=email.policy.default)
        assert read["Message-ID"] == "<q3-numbers@example.com>", read["Message-ID"]
        assert "spreadsheet" in read.get_body(preferencelist=("plain",)).get_content()
        assert b"(Postfix)" in got[0] and b"(sealgate)" in got[0], "not through both MTAs"
        # 3. it answers with an attachment, through submission
        sheet = os.urandom(2 * 1024 * 1024) + b"\r\n.\r\n\x00\r"   # terminator-like bytes too
        ans = EmailMessage()
        ans["From"] = f"Alice <{USER}>"
        ans["To"] = read["From"]
        ans["Subject"] = "Re: " + read["Subject"]
        ans["Date"] = email.utils.formatdate()
        ans["Message-ID"] = email.utils.make_msgid(domain="ext.test")
        ans["In-Reply-To"] = read["Message-ID"]
        ans["References"] = read["Message-ID"]
        ans.set_content("Here it is.\n")
        ans.add_attachment(sheet, maintype="application",
                           subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           filename="q3.xlsx")
        raw = ans.as_bytes(policy=email.policy.SMTP)
        c = sgsubmit.starttls(d, USER)
        assert c.sendmail(USER, [BOSS], raw) == {}
        c.quit()
        m = imaps(d, USER)
        typ, _ = m.append("Sent", "(\\Seen)", None, raw)
        assert typ == "OK"
        m.logout()
        # 4. the organization's Postfix has it, unchanged
        boxed = wait_for(lambda: [x for x in pf.mailbox("example.com")
                                  if b"Subject: Re: Quarterly numbers" in x],
                         "the reply at the organization:\n" + pf.log_text()[-3000:]
                         + d.log_text()[-3000:])[0]
        trace, added, rest = split_relayed(boxed)
        assert added == {} and rest == lf(raw), "the reply changed on the way"
        back = email.message_from_bytes(boxed, policy=email.policy.default)
        assert back["In-Reply-To"] == "<q3-numbers@example.com>"
        assert back["References"] == "<q3-numbers@example.com>"
        atts = list(back.iter_attachments())
        assert len(atts) == 1 and atts[0].get_filename() == "q3.xlsx"
        assert atts[0].get_content() == sheet, "the attachment changed on the way"
        assert b"with ESMTPSA" in trace
    finally:
        rc, _ = d.stop()
        d.cleanup()
        pf.cleanup()
    assert rc == 0, rc


if __name__ == "__main__":
    run()
