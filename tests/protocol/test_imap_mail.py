"""IMAP STORE, SEARCH, COPY/MOVE, EXPUNGE, CONDSTORE and the untagged
updates several sessions on one mailbox see (RFC 3501 7.4.1 timing)."""
import re

from sgimap import Raw, add_user, imaps, message
from sgtest import Daemon
from tap import run, test

USER = "carol@ext.test"
D = None


def setup():
    global D
    D = Daemon("imapmail").start()
    add_user(D, USER)
    m = imaps(D, USER)
    m.create("Box")
    for i in range(1, 11):
        body = "needle-xylophone appears here\r\n" if i == 7 else f"plain body {i}\r\n"
        extra = "X-Tracker: gamma\r\n" if i == 3 else ""
        subject = "Caf\u00e9 menu" if i == 5 else f"message {i}"
        msg = message(subject, body=body, extra=extra)
        if i == 5:
            msg = msg.replace(b"Subject: Caf\xc3\xa9 menu", b"Subject: =?UTF-8?Q?Caf=C3=A9_menu?=")
        m.append("Box", "(\\Seen)" if i % 2 == 0 else None, None, msg)
    m.logout()


def login_select(mailbox="Box"):
    return Raw.selected(D, USER, mailbox, ok=b"OK [READ-WRITE]")


def search(r, q):
    lines, t = r.cmd(q)
    assert b" OK " in t, (q, t)
    hits = [x for x in lines if x.startswith(b"* SEARCH") or x.startswith(b"* ESEARCH")]
    assert len(hits) == 1, (q, lines)
    return hits[0].rstrip(b"\r\n")


@test
def select_reports_counts_uidvalidity_and_highestmodseq():
    r, lines = login_select()
    text = b"".join(lines)
    assert b"* 10 EXISTS" in text and b"* 0 RECENT" in text
    assert b"* OK [UNSEEN 1]" in text
    assert re.search(rb"\* OK \[UIDVALIDITY \d+\]", text)
    assert re.search(rb"\* OK \[HIGHESTMODSEQ [1-9]\d*\]", text)
    assert b"\\*)] " in text or b"\\*)]" in text  # PERMANENTFLAGS allows keywords
    r.close()


@test
def search_keys_not_or_text_charset_and_esearch():
    r, _ = login_select()
    assert search(r, "SEARCH ALL") == b"* SEARCH 1 2 3 4 5 6 7 8 9 10"
    assert search(r, "UID SEARCH 1:* NOT DELETED") == b"* SEARCH 1 2 3 4 5 6 7 8 9 10"
    assert search(r, "SEARCH SEEN") == b"* SEARCH 2 4 6 8 10"
    assert search(r, "SEARCH OR 1 (UNSEEN LARGER 1)") == b"* SEARCH 1 3 5 7 9"
    assert search(r, "SEARCH TEXT xylophone") == b"* SEARCH 7"
    assert search(r, "SEARCH BODY NEEDLE-XYLO") == b"* SEARCH 7"
    assert search(r, "SEARCH HEADER X-Tracker gamma") == b"* SEARCH 3"
    lines, t = r.cmd("SEARCH SUBJECT caf\u00e9".encode())
    assert b" BAD " in t, t  # 8-bit octets are not allowed in an atom (RFC 3501 9)
    assert search(r, 'SEARCH SUBJECT "CAF\u00c9"'.encode()) == b"* SEARCH 5"
    lines, t = r.cmd(b"SEARCH CHARSET UTF-8 SUBJECT {5+}\r\ncaf\xc3\xa9")
    assert lines == [b"* SEARCH 5\r\n"], lines
    lines, t = r.cmd("SEARCH CHARSET KOI8-R SUBJECT x")
    assert b"NO [BADCHARSET" in t, t
    assert search(r, "SEARCH SENTON 2-Nov-2026") == b"* SEARCH 1 2 3 4 5 6 7 8 9 10"
    assert search(r, "SEARCH SENTBEFORE 1-Nov-2026") == b"* SEARCH"
    assert search(r, "SEARCH FROM boss") == b"* SEARCH 1 2 3 4 5 6 7 8 9 10"
    assert search(r, "SEARCH NOT (OR SUBJECT message FROM nobody)") == b"* SEARCH 5"
    got = search(r, "UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
    assert re.match(rb'\* ESEARCH \(TAG "t\d+"\) UID MIN 1 MAX 9 COUNT 5 ALL 1,3,5,7,9', got), got
    assert search(r, "SEARCH KEYWORD $Nope") == b"* SEARCH"
    r.close()


@test
def search_never_changes_state():
    r, _ = login_select()
    search(r, "SEARCH TEXT anything")
    lines, _ = r.cmd("FETCH 1:10 (FLAGS)")
    assert sum(b"\\Seen" in x for x in lines) == 5, lines
    r.close()


@test
def store_flags_keywords_silent_and_unchangedsince():
    r, _ = login_select()
    lines, t = r.cmd("STORE 1 +FLAGS (\\Flagged $Forwarded)")
    assert re.match(rb"\* 1 FETCH \(UID 1 FLAGS \(\\Flagged \$Forwarded\)\)", lines[0]), lines
    lines, t = r.cmd("STORE 1 -FLAGS.SILENT (\\Flagged)")
    assert lines == [] and b"OK" in t, (lines, t)
    lines, t = r.cmd("UID STORE 1 FLAGS ($Junk)")
    assert b"FLAGS ($Junk)" in lines[0], lines
    lines, _ = r.cmd("FETCH 1 (MODSEQ)")
    modseq = int(re.search(rb"MODSEQ \((\d+)\)", lines[0]).group(1))
    lines, t = r.cmd(f"STORE 1 (UNCHANGEDSINCE {modseq - 1}) +FLAGS (\\Answered)")
    assert b"[MODIFIED 1]" in t, t
    lines, t = r.cmd(f"STORE 1 (UNCHANGEDSINCE {modseq}) +FLAGS (\\Answered)")
    assert b"MODSEQ (" in lines[0] and b"MODIFIED" not in t, (lines, t)
    assert search(r, "SEARCH KEYWORD $Junk") == b"* SEARCH 1"
    lines, _ = r.cmd(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq})")
    assert len(lines) == 1 and b"UID 1 " in lines[0], lines
    r.close()


@test
def copy_and_move_report_copyuid():
    r, _ = login_select()
    r.cmd("CREATE Dest")
    lines, t = r.cmd("COPY 2:3 Dest")
    mm = re.search(rb"OK \[COPYUID (\d+) 2:3 (\d+):(\d+)\]", t)
    assert mm, t
    lines, t = r.cmd("UID MOVE 4 Dest")
    assert re.search(rb"\* OK \[COPYUID \d+ 4 \d+\]", b"".join(lines)), lines
    assert b"* 4 EXPUNGE\r\n" in lines, lines
    lines, t = r.cmd("STATUS Dest (MESSAGES)")
    assert b"MESSAGES 3" in lines[0], lines
    _, t = r.cmd("COPY 1 NoSuchBox")
    assert b"NO [TRYCREATE]" in t, t
    r.cmd("SELECT Dest")
    lines, _ = r.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (Subject)])")
    assert [b"message 2" in lines[0], b"message 3" in lines[1], b"message 4" in lines[2]] == \
        [True] * 3, lines
    r.close()


@test
def expunge_and_uid_expunge():
    r, _ = login_select("Dest")
    r.cmd("STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    lines, t = r.cmd("UID EXPUNGE 2")
    assert lines == [b"* 2 EXPUNGE\r\n"], lines
    lines, t = r.cmd("EXPUNGE")
    assert lines == [b"* 2 EXPUNGE\r\n", b"* 1 EXPUNGE\r\n"], lines
    lines, t = r.cmd("STATUS Dest (MESSAGES)")
    assert b"MESSAGES 0" in lines[0]
    r.close()


@test
def other_sessions_see_changes_at_allowed_moments():
    a, _ = login_select()
    b, _ = login_select()
    a.cmd("STORE 9 +FLAGS.SILENT (\\Deleted)")
    a.cmd("EXPUNGE")
    lines, _ = b.cmd("FETCH 1 (FLAGS)")
    assert not any(b"EXPUNGE" in x for x in lines), "EXPUNGE during FETCH"
    lines, _ = b.cmd("NOOP")
    assert any(re.match(rb"\* 9 EXPUNGE", x) for x in lines), lines
    a.cmd("STORE 1 +FLAGS.SILENT (\\Draft)")
    lines, _ = b.cmd("NOOP")
    assert any(b"* 1 FETCH (UID 1 FLAGS" in x and b"\\Draft" in x for x in lines), lines
    m = imaps(D, USER)
    m.append("Box", None, None, message("late arrival"))
    m.logout()
    lines, _ = b.cmd("NOOP")
    assert b"* 9 EXISTS\r\n" in lines, lines
    a.close()
    b.close()


@test
def close_expunges_silently_and_unselect_does_not():
    r, _ = login_select()
    r.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    lines, t = r.cmd("UNSELECT")
    assert lines == [] and b"OK" in t
    r.cmd("SELECT Box")
    lines, t = r.cmd("CLOSE")
    assert lines == [] and b"OK" in t, lines
    lines, _ = r.cmd("STATUS Box (MESSAGES)")
    assert b"MESSAGES 8" in lines[0], lines
    r.close()


@test
def examine_is_read_only():
    r = Raw(D)
    r.login(USER)
    lines, t = r.cmd("EXAMINE Box")
    assert b"[READ-ONLY]" in t and b"PERMANENTFLAGS ()" in b"".join(lines)
    _, t = r.cmd("STORE 1 +FLAGS (\\Seen)")
    assert b"NO [READ-ONLY]" in t, t
    _, t = r.cmd("EXPUNGE")
    assert b"NO" in t
    r.close()


@test
def uidvalidity_and_uids_survive_a_restart():
    r, lines = login_select()
    before = [x for x in lines if b"UIDVALIDITY" in x]
    uids = r.cmd("UID SEARCH ALL")[0]
    r.close()
    D.stop()
    D.start()
    r, lines = login_select()
    assert [x for x in lines if b"UIDVALIDITY" in x] == before
    assert r.cmd("UID SEARCH ALL")[0] == uids
    r.close()


def teardown(_):
    rc, took = D.stop()
    D.cleanup()
    assert rc == 0, rc


if __name__ == "__main__":
    setup()
    run(teardown=teardown)
