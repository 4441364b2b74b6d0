"""IMAP FETCH: byte-exact bodies and sections, ENVELOPE/BODYSTRUCTURE/BODY
against the MIME corpus, partial fetches (past the end too), header-field
listings as Thunderbird sends them, UID first, \\Seen rules, macros, and
APPEND (APPENDUID, flags, dates, TRYCREATE, TOOBIG before the literal)."""
import glob
import os
import re

from sgimap import Raw, add_user, imaps, message
from sgtest import SRC, Daemon
from tap import run, test

USER = "bob@ext.test"
D = None
CORPUS = sorted(glob.glob(os.path.join(SRC, "tests", "mime", "corpus", "*.eml")))


def setup():
    global D
    D = Daemon("imapfetch").start()
    add_user(D, USER)


def raw_login():
    r = Raw(D)
    r.login(USER)
    return r


def append_raw(r, mailbox, data, flags="", date=""):
    r.n += 1
    tag = f"a{r.n}"
    head = f'{tag} APPEND {mailbox} {flags} {date} {{{len(data)}+}}\r\n'.replace("  ", " ")
    r.send(head.encode().replace(b"  ", b" ") + data + b"\r\n")
    while True:
        ln = r.line()
        if ln.startswith(tag.encode()):
            return ln


def unescape(data):
    """The .expected files escape \\r \\n \\\\ and \\xHH (tests/unit/mime)."""
    def one(m):
        e = m.group(1)
        if e.startswith(b"x"):
            return bytes([int(e[1:], 16)])
        return {b"r": b"\r", b"n": b"\n", b"\\": b"\\"}[e]
    return re.sub(rb"\\(r|n|\\|x[0-9a-fA-F]{2})", one, data)


@test
def corpus_envelope_bodystructure_body_match_expected():
    r = raw_login()
    r.cmd("CREATE Corpus")
    for path in CORPUS:
        data = open(path, "rb").read()
        t = append_raw(r, "Corpus", data)
        assert b"OK [APPENDUID" in t, (path, t)
    r.cmd("SELECT Corpus")
    for i, path in enumerate(CORPUS, 1):
        items = {}
        for line in open(path[:-4] + ".expected", "rb").read().split(b"\n"):
            if b" " in line:
                name, value = line.split(b" ", 1)
                items[name] = unescape(value)
        lines, t = r.cmd(f"FETCH {i} (ENVELOPE BODYSTRUCTURE BODY)")
        assert b"OK" in t and len(lines) == 1, (path, lines, t)
        got = lines[0]
        for item in (b"ENVELOPE", b"BODYSTRUCTURE", b"BODY"):
            assert item + b" " + items[item] in got, (path, item, items[item][:300], got[:600])
    r.close()


@test
def body_and_rfc822_are_byte_exact():
    r = raw_login()
    r.cmd("SELECT Corpus")
    for i, path in enumerate(CORPUS, 1):
        data = open(path, "rb").read()
        lines, t = r.cmd(f"FETCH {i} (BODY.PEEK[] RFC822.SIZE)")
        assert f"RFC822.SIZE {len(data)}".encode() in lines[0], (path, lines[0][:200])
        lit = f"BODY[] {{{len(data)}}}\r\n".encode()
        assert lit + data in lines[0], path
        lines, t = r.cmd(f"UID FETCH {i} (RFC822.HEADER)")
        hdr = data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" if b"\r\n\r\n" in data else None
        if hdr is not None and b"\n\n" not in hdr:
            assert hdr in lines[0], path
    r.close()


MULTI = (b"From: Boss <boss@example.com>\r\nTo: bob@ext.test\r\nSubject: parts\r\n"
         b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
         b"preamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
         b"--XX\r\nContent-Type: message/rfc822\r\n\r\n"
         b"From: a@b.c\r\nSubject: inner\r\n\r\ninner body\r\n"
         b"--XX--\r\nepilogue\r\n")


@test
def sections_at_any_depth_are_slices():
    r = raw_login()
    r.cmd("CREATE Parts")
    append_raw(r, "Parts", MULTI)
    r.cmd("SELECT Parts")
    cases = {
        "1": b"first part",
        "1.MIME": b"Content-Type: text/plain\r\n\r\n",
        "2.HEADER": b"From: a@b.c\r\nSubject: inner\r\n\r\n",
        "2.TEXT": b"inner body",
        "2.1": b"inner body",
        "TEXT": MULTI.split(b"\r\n\r\n", 1)[1],
        "9": b"",
    }
    for sec, want in cases.items():
        lines, t = r.cmd(f"UID FETCH 1 (BODY.PEEK[{sec}])")
        assert f"BODY[{sec}] {{{len(want)}}}\r\n".encode() + want in lines[0], (sec, lines)
    lines, _ = r.cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject From)])")
    want = b"From: Boss <boss@example.com>\r\nSubject: parts\r\n\r\n"
    assert (f"BODY[HEADER.FIELDS (Subject From)] {{{len(want)}}}\r\n".encode() + want
            in lines[0]), lines
    lines, _ = r.cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (Subject From To MIME-Version)])")
    value = lines[0].split(b"}\r\n", 1)[1]
    assert value.startswith(b"Content-Type: multipart/mixed") and b"Subject" not in value, lines
    r.close()


@test
def partial_fetch_clamps_and_past_the_end_is_empty():
    r = raw_login()
    r.cmd("SELECT Parts")
    size = len(MULTI)
    lines, _ = r.cmd("FETCH 1 (BODY.PEEK[]<0.10>)")
    assert b"BODY[]<0> {10}\r\n" + MULTI[:10] in lines[0], lines
    lines, _ = r.cmd(f"FETCH 1 (BODY.PEEK[]<{size - 5}.393216>)")
    assert f"BODY[]<{size - 5}> {{5}}\r\n".encode() + MULTI[-5:] in lines[0], lines
    lines, _ = r.cmd(f"FETCH 1 (BODY.PEEK[]<{size + 100}.393216>)")
    assert f"BODY[]<{size + 100}> {{0}}\r\n".encode() in lines[0], lines
    r.close()


@test
def uid_comes_first_and_thunderbird_listing_works():
    r = raw_login()
    r.cmd("SELECT Corpus")
    lines, t = r.cmd("UID fetch 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc "
                     "Bcc Subject Date Message-ID Priority X-Priority References Newsgroups "
                     "In-Reply-To Content-Type Reply-To)])")
    assert b"OK" in t and len(lines) == len(CORPUS), (len(lines), t)
    for ln in lines:
        assert re.match(rb"\* \d+ FETCH \(UID \d+ ", ln), ln[:80]
    lines, t = r.cmd("FETCH 1:2 (FLAGS UID)")
    assert all(re.match(rb"\* \d+ FETCH \(UID \d+ FLAGS", x) for x in lines), lines
    r.close()


@test
def body_fetch_sets_seen_and_peek_does_not():
    r = raw_login()
    r.cmd("SELECT Parts")
    lines, _ = r.cmd("FETCH 1 (BODY.PEEK[1] FLAGS)")
    assert b"\\Seen" not in lines[0], lines
    lines, _ = r.cmd("FETCH 1 (BODY[1])")
    assert b"FLAGS (\\Seen)" in lines[0], lines
    lines, _ = r.cmd("FETCH 1 (FLAGS)")
    assert b"\\Seen" in lines[0], lines
    r.cmd("EXAMINE Corpus")
    lines, _ = r.cmd("FETCH 1 (BODY[TEXT])")
    lines, _ = r.cmd("FETCH 1 (FLAGS)")
    assert b"\\Seen" not in lines[0], "EXAMINE must not set \\Seen"
    r.close()


@test
def macros_and_internaldate_format():
    r = raw_login()
    r.cmd("SELECT Parts")
    lines, _ = r.cmd("FETCH 1 ALL")
    assert re.search(rb'INTERNALDATE "\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"',
                     lines[0]), lines
    assert b"ENVELOPE (" in lines[0] and b"RFC822.SIZE" in lines[0]
    lines, _ = r.cmd("FETCH 1 FULL")
    assert b"BODY (" in lines[0]
    lines, _ = r.cmd("FETCH 1 FAST")
    assert b"ENVELOPE" not in lines[0]
    r.close()


@test
def append_flags_date_and_appenduid():
    r = raw_login()
    r.cmd("CREATE Drafty")
    t = append_raw(r, "Drafty", message("draft"), "(\\Draft $Forwarded)",
                   '" 7-Feb-2026 10:11:12 +0100"')
    mm = re.search(rb"OK \[APPENDUID (\d+) (\d+)\]", t)
    assert mm, t
    lines, _ = r.cmd("STATUS Drafty (UIDVALIDITY)")
    assert f"UIDVALIDITY {mm.group(1).decode()}".encode() in lines[0]
    r.cmd("SELECT Drafty")
    lines, _ = r.cmd(f"UID FETCH {mm.group(2).decode()} (FLAGS INTERNALDATE)")
    assert b"\\Draft" in lines[0] and b"$Forwarded" in lines[0], lines
    assert b'"07-Feb-2026 09:11:12 +0000"' in lines[0], lines
    r.close()


@test
def append_refusals_come_before_the_literal():
    r = raw_login()
    r.send(b"x1 APPEND NoSuchBox {10}\r\n")
    ln = r.line()
    assert ln.startswith(b"x1 NO [TRYCREATE]"), ln
    r.send(b"x2 APPEND INBOX {99999999999}\r\n")
    ln = r.line()
    assert ln.startswith(b"x2 NO [TOOBIG]") or ln.startswith(b"x2 BAD"), ln
    _, t = r.cmd("NOOP")
    assert b"OK" in t, t
    r.close()


@test
def multiappend_appends_all_atomically():
    r = raw_login()
    a, b = message("one"), message("two")
    r.send(f"m1 APPEND INBOX {{{len(a)}+}}\r\n".encode() + a +
           f" (\\Seen) {{{len(b)}+}}\r\n".encode() + b + b"\r\n")
    ln = r.line()
    assert re.match(rb"m1 OK \[APPENDUID \d+ \d+:\d+\]", ln), ln
    r.close()


@test
def imaplib_can_read_what_it_appended():
    m = imaps(D, USER)
    msg = message("via imaplib", body="caf\u00e9 au lait\r\n")
    typ, data = m.append("INBOX", None, None, msg)
    assert typ == "OK"
    m.select("INBOX")
    typ, data = m.uid("SEARCH", None, "ALL")
    last = data[0].split()[-1]
    typ, data = m.uid("FETCH", last, "(BODY.PEEK[])")
    assert data[0][1] == msg
    m.logout()


def teardown(_):
    rc, took = D.stop()
    D.cleanup()
    assert rc == 0, rc


if __name__ == "__main__":
    setup()
    run(teardown=teardown)
