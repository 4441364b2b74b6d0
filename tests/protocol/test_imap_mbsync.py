"""mbsync (isync 1.4.4) against sealgate, over IMAPS and STARTTLS with the
gateway's certificate and AUTHMECHS LOGIN: 500 messages far -> near and
500 near -> far, byte-exact (mbsync keeps LF line ends in its Maildir);
flags set on either side end equal; a message moved between folders of the
client's Maildir moves on the server; a second sync changes nothing."""
import os
import re
import subprocess

import sgmail
from sgimap import PASSWORD, Raw, add_user
from sgtest import Daemon
from tap import run, test

USER = "mb@ext.test"
N = 500
D = None
MAIL = None


def setup():
    global D, MAIL
    D = Daemon("imapmbsync").start()
    add_user(D, USER)
    MAIL = os.path.join(D.dir, "maildir")
    os.makedirs(MAIL)


def mbsyncrc(ssltype, port, maildir, name="rc"):
    path = os.path.join(D.dir, f"mbsync-{name}")
    with open(path, "w") as f:
        f.write(f"""IMAPAccount sg
Host 127.0.0.1
Port {port}
User {USER}
Pass "{PASSWORD}"
SSLType {ssltype}
CertificateFile {D.cert}
AuthMechs LOGIN

IMAPStore far
Account sg

MaildirStore near
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel ch
Far :far:
Near :near:
Patterns *
Create Both
Remove None
Expunge Both
SyncState *
""")
    return path


def mbsync(rc):
    r = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    return r


def raw():
    r = Raw(D)
    r.login(USER)
    return r


def multiappend(r, mailbox, msgs):
    """One MULTIAPPEND with LITERAL+ per 50 messages."""
    for k in range(0, len(msgs), 50):
        parts = [f"a APPEND {mailbox}".encode()]
        for m in msgs[k:k + 50]:
            parts.append(f" {{{len(m)}+}}\r\n".encode() + m)
        r.send(b"".join(parts) + b"\r\n")
        ln = r.line()
        assert ln.startswith(b"a OK"), ln


def server_messages(r, mailbox):
    """{uid: (flags set, body bytes)} of a mailbox."""
    r.cmd(f"EXAMINE {mailbox}")
    lines, t = r.cmd("UID FETCH 1:* (UID FLAGS BODY.PEEK[])")
    assert b" OK " in t, t
    out = {}
    for ln in lines:
        m = re.match(rb"\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\) BODY\[\] \{(\d+)\}\r\n", ln)
        assert m, ln[:200]
        body = ln[m.end():m.end() + int(m.group(3))]
        out[int(m.group(1))] = (set(m.group(2).split()), body)
    return out


def maildir_messages(folder):
    """{filename: (maildir flags, body bytes)} of new/ and cur/."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(folder, sub)
        for name in os.listdir(d) if os.path.isdir(d) else ():
            flags = name.split(":2,", 1)[1] if ":2," in name else ""
            with open(os.path.join(d, name), "rb") as f:
                out[os.path.join(sub, name)] = (flags, f.read())
    return out


def crlf(b):
    """CRLF line ends, without the X-TUID header mbsync adds to what it
    copies (its own bookkeeping of new messages)."""
    b = b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return re.sub(rb"(?m)^X-TUID: [^\r]*\r\n", b"", b, count=1)


MAILDIR_FLAG = {"S": b"\\Seen", "F": b"\\Flagged", "R": b"\\Answered", "T": b"\\Deleted",
                "D": b"\\Draft"}


def imap_flags(maildir_flags):
    return {MAILDIR_FLAG[c] for c in maildir_flags if c in MAILDIR_FLAG}


def check_equal(mailbox, folder):
    r = raw()
    srv = server_messages(r, mailbox)
    r.close()
    near = maildir_messages(folder)
    assert len(srv) == len(near), (mailbox, len(srv), len(near))
    by_body = {crlf(b): f for f, b in near.values()}
    for uid, (flags, body) in srv.items():
        body = crlf(body)
        assert body in by_body, (mailbox, uid, "missing on the near side")
        assert imap_flags(by_body[body]) == flags - {b"\\Recent"}, (uid, by_body[body], flags)
    return srv, near


@test
def far_to_near_500_messages_over_imaps():
    msgs = [sgmail.message(i) for i in range(N)]
    r = raw()
    multiappend(r, "INBOX", msgs)
    r.close()
    mbsync(mbsyncrc("IMAPS", D.imaps_port, MAIL))
    srv, near = check_equal("INBOX", os.path.join(MAIL, "INBOX"))
    assert sorted(crlf(b) for _, b in srv.values()) == sorted(msgs)
    for name in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
        assert os.path.isdir(os.path.join(MAIL, name, "cur")), name


@test
def near_to_far_500_messages_over_starttls():
    folder = os.path.join(MAIL, "Uploads")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    msgs = [sgmail.message(10000 + i).replace(b"\r\n", b"\n") for i in range(N)]
    for i, m in enumerate(msgs):
        with open(os.path.join(folder, "new", f"1700000000.{i}_0.near"), "wb") as f:
            f.write(m)
    mbsync(mbsyncrc("STARTTLS", D.imap_port, MAIL, "starttls"))
    srv, _ = check_equal("Uploads", folder)
    assert sorted(crlf(b) for _, b in srv.values()) == sorted(crlf(m) for m in msgs)


@test
def flags_set_on_either_side_end_equal():
    rc = mbsyncrc("IMAPS", D.imaps_port, MAIL)
    r = raw()
    r.cmd("SELECT INBOX")
    _, t = r.cmd("UID STORE 1:50 +FLAGS.SILENT (\\Flagged)")
    assert b" OK " in t, t
    _, t = r.cmd("UID STORE 40:60 +FLAGS.SILENT (\\Answered)")
    assert b" OK " in t, t
    r.close()
    inbox = os.path.join(MAIL, "INBOX")
    changed = 0
    files = [(sub, n) for sub in ("new", "cur") for n in os.listdir(os.path.join(inbox, sub))]
    for sub, name in files:
        uid = int(re.search(r",U=(\d+)", name).group(1))
        if 200 <= uid < 300:
            base = name.split(":2,", 1)[0]
            os.rename(os.path.join(inbox, sub, name), os.path.join(inbox, "cur", base + ":2,S"))
            changed += 1
    assert changed == 100, changed
    mbsync(rc)
    srv, _ = check_equal("INBOX", inbox)
    seen = {u for u, (f, _) in srv.items() if b"\\Seen" in f}
    flagged = {u for u, (f, _) in srv.items() if b"\\Flagged" in f}
    answered = {u for u, (f, _) in srv.items() if b"\\Answered" in f}
    assert seen == set(range(200, 300)), sorted(seen)[:10]
    assert flagged == set(range(1, 51)) and answered == set(range(40, 61))


@test
def message_moved_in_the_maildir_moves_on_the_server():
    rc = mbsyncrc("IMAPS", D.imaps_port, MAIL)
    inbox, archive = os.path.join(MAIL, "INBOX"), os.path.join(MAIL, "Archive")
    sub, name = next((s, n) for s in ("new", "cur") for n in os.listdir(os.path.join(inbox, s))
                     if re.search(r",U=7(:|$)", n))
    with open(os.path.join(inbox, sub, name), "rb") as f:
        body = f.read()
    # A mail client moves a file: new name in the other folder, no ,U= part.
    base = name.split(",U=", 1)[0]
    os.rename(os.path.join(inbox, sub, name), os.path.join(archive, "cur", base + ":2,S"))
    mbsync(rc)
    r = raw()
    srv_in = server_messages(r, "INBOX")
    srv_ar = server_messages(r, "Archive")
    r.close()
    assert 7 not in srv_in and len(srv_in) == N - 1, len(srv_in)
    assert [crlf(b) for _, b in srv_ar.values()] == [crlf(body)], len(srv_ar)
    check_equal("INBOX", inbox)
    check_equal("Archive", archive)


@test
def second_sync_changes_nothing_and_uidvalidity_is_stable():
    rc = mbsyncrc("IMAPS", D.imaps_port, MAIL)
    before = {b: maildir_messages(os.path.join(MAIL, b)) for b in ("INBOX", "Archive", "Uploads")}
    r = raw()
    v1, _ = r.cmd("STATUS INBOX (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)")
    r.close()
    out = mbsync(rc)
    after = {b: maildir_messages(os.path.join(MAIL, b)) for b in ("INBOX", "Archive", "Uploads")}
    assert before == after
    r = raw()
    v2, _ = r.cmd("STATUS INBOX (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)")
    r.close()
    assert v1 == v2, (v1, v2, out.stdout[-500:])


def teardown(_):
    rc, _ = D.stop()
    D.cleanup()
    assert rc == 0, rc


if __name__ == "__main__":
    setup()
    run(teardown=teardown)
