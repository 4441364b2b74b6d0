"""Real and scripted clients: curl over IMAPS and STARTTLS; a Thunderbird-like
and an Apple-Mail-like session with their opening sequences (INTEROP.md:
ID, CAPABILITY, AUTHENTICATE PLAIN with a "+" round trip, LIST with
special-use, SELECT (CONDSTORE), the header listing, CHANGEDSINCE resync,
STATUS sweep, IDLE/DONE/NOOP on a second connection, iOS partial fetches
past the end, UID SEARCH 1:* NOT DELETED); a dozen connections of one user
working at once."""
import base64
import re
import subprocess
import threading

import sgbodystructure as B
import sgmail
from sgimap import PASSWORD, Raw, add_user, message
from sgtest import Daemon
from tap import run, test

USER = "tess@ext.test"
N = 40
D = None
MSGS = []

TB_FIELDS = ("From To Cc Bcc Subject Date Message-ID Priority X-Priority References "
             "Newsgroups In-Reply-To Content-Type Reply-To")
APPLE_FIELDS = ("date subject from to cc message-id in-reply-to references content-type "
                "x-priority x-uniform-type-identifier x-universally-unique-identifier "
                "list-id list-unsubscribe bimi-indicator bimi-location x-bimi-indicator-hash "
                "authentication-results dkim-signature")


def setup():
    global D
    D = Daemon("imapclients").start()
    add_user(D, USER)
    r = Raw(D)
    r.login(USER)
    for i in range(N):
        m = sgmail.message(i)
        MSGS.append(m)
        r.send(f"a APPEND INBOX {{{len(m)}+}}\r\n".encode() + m + b"\r\n")
        assert r.line().startswith(b"a OK")
    r.close()


def curl(url, *extra):
    return subprocess.run(["curl", "-sS", "--cacert", D.cert, "-u", f"{USER}:{PASSWORD}",
                           *extra, url], capture_output=True, timeout=60)


@test
def curl_fetches_a_message_over_imaps_and_starttls():
    r = curl(f"imaps://127.0.0.1:{D.imaps_port}/INBOX;UID=1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == MSGS[0]
    r = curl(f"imap://127.0.0.1:{D.imap_port}/INBOX;UID=2", "--ssl-reqd")
    assert r.returncode == 0, r.stderr
    assert r.stdout == MSGS[1]
    r = curl(f"imaps://127.0.0.1:{D.imaps_port}/INBOX;UID=3;SECTION=TEXT")
    assert r.returncode == 0 and r.stdout == MSGS[2].split(b"\r\n\r\n", 1)[1], r.stderr
    r = curl(f"imaps://127.0.0.1:{D.imaps_port}/")
    assert r.returncode == 0 and b'\\Sent) "/" "Sent"' in r.stdout, r.stdout
    # Without TLS curl must not be able to log in (LOGINDISABLED).
    r = curl(f"imap://127.0.0.1:{D.imap_port}/INBOX;UID=1")
    assert r.returncode != 0 and MSGS[0] not in r.stdout


def tagged(lines_and_tag):
    lines, t = lines_and_tag
    assert b" OK " in t, t
    return lines


def check_fetch_lines(lines):
    for ln in lines:
        if b" FETCH " in ln:
            assert re.match(rb"\* \d+ FETCH \(UID \d+[ )]", ln), ln[:100]


@test
def thunderbird_like_session():
    r = Raw(D)
    assert b"AUTH=PLAIN" in r.greeting, r.greeting
    tagged(r.cmd("capability"))
    # AUTHENTICATE PLAIN with a "+" round trip, as Thunderbird sends it.
    r.send(b"2 authenticate PLAIN\r\n")
    assert r.line().startswith(b"+"), "continuation"
    r.send(base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()) + b"\r\n")
    ln = r.line()
    assert ln.startswith(b"2 OK [CAPABILITY "), ln
    tagged(r.cmd('ID ("name" "Thunderbird" "version" "128.5.0")'))
    lines = tagged(r.cmd('list (subscribed) "" "*" return (special-use)'))
    text = b"".join(lines)
    for attr in (b"\\Sent", b"\\Drafts", b"\\Trash", b"\\Junk", b"\\Archive"):
        assert attr in text, (attr, text)
    tagged(r.cmd('lsub "" "*"'))
    lines = tagged(r.cmd('select "INBOX"'))
    assert b"* %d EXISTS\r\n" % N in lines, lines
    lines = tagged(r.cmd("UID fetch 1:* (FLAGS)"))
    assert len(lines) == N
    check_fetch_lines(lines)
    lines = tagged(r.cmd(f"UID fetch 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS "
                         f"({TB_FIELDS})])"))
    assert len(lines) == N
    check_fetch_lines(lines)
    for i, ln in enumerate(lines):
        assert f"RFC822.SIZE {len(MSGS[i])}".encode() in ln, ln[:120]
        hdr = B.fetch_item(ln, f"BODY[HEADER.FIELDS ({TB_FIELDS})]".encode())
        assert hdr.startswith(b"From: ") and hdr.endswith(b"\r\n\r\n"), hdr[:80]
        assert b"Received:" not in hdr and b"MIME-Version" not in hdr
    # Open a multipart message: BODYSTRUCTURE, then the parts it lists.
    uid = next(i + 1 for i, m in enumerate(MSGS) if b"multipart/mixed" in m)
    line = tagged(r.cmd(f"UID fetch {uid} (UID RFC822.SIZE BODY.PEEK[]<0.10240>)"))[0]
    assert B.fetch_item(line, b"BODY[]<0>") == MSGS[uid - 1][:10240]
    line = tagged(r.cmd(f"UID fetch {uid} (BODYSTRUCTURE)"))[0]
    parts = B.bs_parts(B.fetch_item(line, b"BODYSTRUCTURE"))
    assert parts["2"][1][0].lower() == b"application", parts
    lines = tagged(r.cmd(f"UID fetch {uid} (UID RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[1.MIME] "
                         f"BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[2])"))
    check_fetch_lines(lines)
    raw = MSGS[uid - 1]
    assert B.fetch_item(lines[0], b"BODY[HEADER]") == raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    assert B.fetch_item(lines[0], b"BODY[2]") in raw
    tagged(r.cmd(f"UID store {uid} +Flags (\\Seen)"))
    lines = tagged(r.cmd(f"UID fetch {uid} (FLAGS)"))
    assert b"\\Seen" in lines[0]
    tagged(r.cmd('STATUS "Sent" (UIDNEXT MESSAGES UNSEEN RECENT)'))
    # Reply saved to Sent, then IDLE.
    reply = message("Re: hello", body="thanks\r\n")
    r.send(f"9 append \"Sent\" (\\Seen) {{{len(reply)}}}\r\n".encode())
    assert r.line().startswith(b"+")
    r.send(reply + b"\r\n")
    assert re.match(rb"9 OK \[APPENDUID \d+ 1\]", r.line())
    r.send(b"10 IDLE\r\n")
    assert r.line().startswith(b"+")
    r.send(b"DONE\r\n")
    assert r.line().startswith(b"10 OK")
    tagged(r.cmd("noop"))
    tagged(r.cmd("logout"))
    r.close()


@test
def apple_mail_like_session_with_a_second_connection():
    r = Raw(D)
    tagged(r.cmd('ID ("name" "Mac OS X Mail" "version" "16.0 (3774.600.62)" "os" "Mac OS X" '
                 '"os-version" "14.5 (23F79)" "vendor" "Apple Inc.")', tag="1.1"))
    caps = tagged(r.cmd("CAPABILITY", tag="2.1"))
    assert b"AUTH=PLAIN" in caps[0] and b"SASL-IR" in caps[0]
    ir = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    _, t = r.cmd(f"AUTHENTICATE PLAIN {ir}", tag="3.1")
    assert b"3.1 OK" in t, t
    post = re.search(rb"\[CAPABILITY ([^]]*)\]", t).group(1).split()
    for cap in (b"CONDSTORE", b"IDLE", b"UIDPLUS", b"MOVE", b"SPECIAL-USE", b"ESEARCH"):
        assert cap in post, cap
    # iOS pipelines NAMESPACE and LIST right after login.
    r.send(b'4.1 NAMESPACE\r\n5.1 LIST "" ""\r\n6.1 LIST "" "*"\r\n')
    got = []
    while True:
        ln = r.line()
        got.append(ln)
        if ln.startswith(b"6.1 "):
            break
    text = b"".join(got)
    assert b'* NAMESPACE (("" "/")) NIL NIL' in text and b"4.1 OK" in text, text
    assert b'* LIST (\\Noselect) "/" ""' in text and b"5.1 OK" in text, text
    listing = [x for x in got if x.startswith(b"* LIST") and b'""\r\n' not in x]
    names = [re.search(rb'"/" "?([^"\r]*)"?\r\n', x).group(1).decode() for x in listing]
    for want, attr in (("Sent", b"\\Sent"), ("Trash", b"\\Trash"), ("Drafts", b"\\Drafts")):
        assert any(attr in x and f'"{want}"'.encode() in x for x in listing), (want, listing)
    # STATUS sweep over every mailbox.
    for name in names:
        lines = tagged(r.cmd(f'STATUS "{name}" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN '
                             f'HIGHESTMODSEQ)'))
        m = re.search(rb"HIGHESTMODSEQ (\d+)", lines[0])
        assert m and int(m.group(1)) >= 1, lines
    lines = tagged(r.cmd("SELECT INBOX (CONDSTORE)"))
    text = b"".join(lines)
    hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", text).group(1))
    assert hms >= 1
    lines = tagged(r.cmd("UID SEARCH 1:* NOT DELETED"))
    assert lines[0].split()[2:] == [str(i).encode() for i in range(1, N + 1)], lines
    lines = tagged(r.cmd(f"UID FETCH 1:* (INTERNALDATE UID RFC822.SIZE FLAGS MODSEQ "
                         f"BODY.PEEK[HEADER.FIELDS ({APPLE_FIELDS})])"))
    assert len(lines) == N
    check_fetch_lines(lines)
    for ln in lines:
        assert re.search(rb'INTERNALDATE "\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"',
                         ln), ln[:160]
        assert re.search(rb"MODSEQ \(\d+\)", ln)
    # iOS 16.5 sent CHANGEDSINCE 0: everything.
    lines = tagged(r.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 0)"))
    assert len(lines) == N
    # The second connection idles; the first changes flags; the idler hears.
    idler = Raw(D)
    idler.login(USER)
    tagged(idler.cmd("SELECT INBOX (CONDSTORE)"))
    for rnd in range(3):
        idler.send(f"i{rnd} IDLE\r\n".encode())
        assert idler.line().startswith(b"+")
        tagged(r.cmd(f"UID STORE {rnd + 5} +FLAGS.SILENT (\\Flagged)"))
        ln = idler.line()
        assert re.match(rb"\* \d+ FETCH \(UID %d FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)"
                        % (rnd + 5), ln), ln
        idler.send(b"DONE\r\n")
        assert idler.line().startswith(f"i{rnd} OK".encode())
        tagged(idler.cmd("NOOP"))
    # Resync with CHANGEDSINCE: exactly the three changed messages.
    lines = tagged(r.cmd(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {hms})"))
    uids = sorted(int(re.search(rb"UID (\d+)", x).group(1)) for x in lines if b"FETCH" in x)
    assert uids == [5, 6, 7], lines
    # A conditional store that lost the race is refused with MODIFIED.
    line = tagged(r.cmd("UID FETCH 5 (MODSEQ)"))[0]
    ms = int(re.search(rb"MODSEQ \((\d+)\)", line).group(1))
    _, t = r.cmd(f"UID STORE 5 (UNCHANGEDSINCE {ms - 1}) +FLAGS.SILENT (\\Seen)")
    assert b"[MODIFIED 5]" in t, t
    # iOS saves a draft with an unpadded day in the date.
    draft = message("draft", body="draft body\r\n")
    r.send(f'a1 APPEND Drafts (\\Draft \\Seen) "7-Feb-2026 09:05:00 +0100" '
           f'{{{len(draft)}}}\r\n'.encode())
    assert r.line().startswith(b"+")
    r.send(draft + b"\r\n")
    ln = r.line()
    assert ln.startswith(b"a1 OK [APPENDUID"), ln
    tagged(r.cmd("EXAMINE Drafts"))
    line = tagged(r.cmd("UID FETCH 1 (INTERNALDATE FLAGS)"))[0]
    assert b'"07-Feb-2026 08:05:00 +0000"' in line, line
    idler.close()
    tagged(r.cmd("LOGOUT"))
    r.close()


@test
def ios_downloads_an_attachment_in_chunks_past_the_end():
    r = Raw(D)
    r.login(USER)
    tagged(r.cmd("EXAMINE INBOX"))
    uid = next(i + 1 for i, m in enumerate(MSGS) if b"multipart/mixed" in m)
    line = tagged(r.cmd(f"UID FETCH {uid} (BODYSTRUCTURE)"))[0]
    size = int(B.bs_parts(B.fetch_item(line, b"BODYSTRUCTURE"))["2"][1][6])
    # Small chunks here, the 393216 ones in test_imap_interop (20 MB).
    chunk, off, got = 1000, 0, b""
    while True:
        line = tagged(r.cmd(f"UID FETCH {uid} (BODY.PEEK[2]<{off}.{chunk}>)"))[0]
        data = B.fetch_item(line, f"BODY[2]<{off}>".encode())
        got += data
        off += chunk
        if len(data) < chunk:
            break
    assert len(got) == size
    assert got in MSGS[uid - 1]
    for past in (size, size + 1, size + 393216, 2 ** 32 - 1):
        line = tagged(r.cmd(f"UID FETCH {uid} (BODY.PEEK[2]<{past}.393216>)"))[0]
        assert f"BODY[2]<{past}> {{0}}\r\n".encode() in line, line
    r.close()


@test
def a_dozen_connections_of_one_user_work_at_once():
    errors = []

    def worker(k):
        try:
            r = Raw(D)
            r.login(USER)
            tagged(r.cmd("SELECT INBOX" if k % 3 else "EXAMINE INBOX"))
            for _ in range(5):
                lines = tagged(r.cmd("UID FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)"))
                assert len(lines) >= N, len(lines)
                tagged(r.cmd("UID SEARCH 1:* NOT DELETED"))
                line = tagged(r.cmd(f"UID FETCH {k + 1} (BODY.PEEK[])"))[0]
                assert B.fetch_item(line, b"BODY[]") == MSGS[k]
                if k % 3:
                    tagged(r.cmd(f"UID STORE {k + 1} FLAGS.SILENT (\\Seen $k{k})"))
            r.send(b"i IDLE\r\n")
            assert r.line().startswith(b"+")
            r.send(b"DONE\r\n")
            ln = r.line()
            while not ln.startswith(b"i "):
                ln = r.line()
            assert ln.startswith(b"i OK"), ln
            r.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((k, repr(e)))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


def teardown(_):
    rc, _ = D.stop()
    D.cleanup()
    assert rc == 0, rc


if __name__ == "__main__":
    setup()
    run(teardown=teardown)
