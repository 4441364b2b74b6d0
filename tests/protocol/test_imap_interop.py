"""IMAP interop traps (../shared/INTEROP.md) that need no outside client:
BODYSTRUCTURE and BODY[section] against Python's email package, a 20 MB
attachment downloaded in iOS-sized partial chunks, APPENDLIMIT and
NO [TOOBIG] before the literal, autologout outside IDLE only, LIST's root
and prefix cases (row 15), and connection limits that refuse only the
newest connection (row 16)."""
import base64
import email
import glob
import os
import random
import re
import socket
import ssl
import time
import urllib.request

import sgbodystructure as B
import sgmail
from sgimap import Raw, add_user, imaps, message
from sgtest import SRC, Daemon
from tap import run, test

USER = "ivy@ext.test"
CORPUS = sorted(glob.glob(os.path.join(SRC, "tests", "mime", "corpus", "*.eml")))
CHUNK = 393216                  # what iOS asks for
SMALL_LIMIT = 64 * 1024         # [smtp] max_message_size of the second daemon
PER_IP = 5                      # [limits] max_connections_per_ip of the second daemon
D = None                        # defaults
L = None                        # small limits


def setup():
    global D, L
    D = Daemon("imapinterop").start()
    add_user(D, USER)
    L = Daemon("imaplimits", conf={"smtp": {"max_message_size": str(SMALL_LIMIT)},
                                   "limits": {"max_connections_per_ip": str(PER_IP)},
                                   "imap": {"autologout": "2s", "keepalive": "1s"}}).start()
    add_user(L, USER)


def login(d=None):
    r = Raw(d or D)
    r.login(USER)
    return r


def append(r, mailbox, data):
    """APPEND with a synchronizing literal, as most clients send it."""
    r.n += 1
    tag = f"ap{r.n}"
    r.send(f"{tag} APPEND {mailbox} {{{len(data)}}}\r\n".encode())
    ln = r.line()
    assert ln.startswith(b"+"), ln
    r.send(data + b"\r\n")
    while True:
        ln = r.line()
        if ln.startswith(tag.encode() + b" "):
            assert b" OK " in ln, ln
            return int(re.search(rb"APPENDUID \d+ (\d+)", ln).group(1))


def fetch1(r, what):
    lines, t = r.cmd(what)
    assert b" OK " in t and len(lines) == 1, (what, t, lines[:2])
    return lines[0]


# Where Python's email package and sealgate (with Dovecot) part ways on
# purpose; each case is checked for sealgate's own answer instead.
KNOWN = {
    # No close delimiter: the last part runs to the end of the message, its
    # final line break included (no boundary claims it). Python drops it.
    "missing_final_boundary.eml": "last part keeps its line break",
    # No boundary line at all: IMAP's body-type-mpart needs one part, so the
    # multipart gets one empty text/plain part (Dovecot does the same);
    # Python sees a non-multipart.
    "multipart_no_parts.eml": "empty first part",
}


def compare_structure(r, seq, name, raw):
    line = fetch1(r, f"FETCH {seq} (BODYSTRUCTURE)")
    ours = B.bs_parts(B.fetch_item(line, b"BODYSTRUCTURE"))
    py = B.email_parts(raw)
    if name == "multipart_no_parts.eml":
        assert ours["1"][1][6] == b"0", ours
        body = fetch1(r, f"FETCH {seq} (BODY.PEEK[1] BODY.PEEK[TEXT])")
        assert b"BODY[1] {0}\r\n" in body or b'BODY[1] ""' in body, body
        assert py["1"][4] in body
        return
    assert set(ours) == set(py), (name, sorted(ours), sorted(py))
    for sec in sorted(py):
        kind, node = ours[sec]
        mt, st, params, cte, body = py[sec]
        if kind == "multipart":
            i = 0
            while isinstance(node[i], list):
                i += 1
            assert node[i].decode().lower() == st, (name, sec, node[i], st)
            mparams = dict(zip(*[iter(node[i + 1] or [])] * 2))
            if "boundary" in params:
                assert mparams.get(b"boundary", mparams.get(b"BOUNDARY")).decode() == \
                    params["boundary"], (name, sec, mparams, params)
            continue
        assert (node[0].decode().lower(), node[1].decode().lower()) == (mt, st), \
            (name, sec, node[:2], mt, st)
        if node[5] is not None:
            assert node[5].decode().lower() == cte, (name, sec, node[5], cte)
        lparams = {k.decode().lower(): v for k, v in zip(*[iter(node[2] or [])] * 2)}
        if "charset" in params and "charset" in lparams:
            assert lparams["charset"].decode().lower() == params["charset"].lower()
        if body is None:
            continue
        got = B.fetch_item(fetch1(r, f"FETCH {seq} (BODY.PEEK[{sec}])"),
                           f"BODY[{sec}]".encode())
        if name == "missing_final_boundary.eml" and sec == "2":
            assert got in (body + b"\r\n", body + b"\n"), (got, body)
            body = got
        assert got == body, (name, sec, got[:80], body[:80], len(got), len(body))
        assert int(node[6]) == len(body), (name, sec, node[6], len(body))
        if mt == "text":
            assert int(node[7]) == body.count(b"\n"), (name, sec, node[7])
        # The part's own header block, parsed, says what Python saw.
        mime = B.fetch_item(fetch1(r, f"FETCH {seq} (BODY.PEEK[{sec}.MIME])"),
                            f"BODY[{sec}.MIME]".encode())
        hdr = email.message_from_bytes(mime.rstrip(b"\r\n") + b"\r\n\r\n")
        if hdr.get("Content-Type") is not None:
            assert hdr.get_content_type() == f"{mt}/{st}", (name, sec, mime[:200])


@test
def bodystructure_and_sections_match_pythons_email_view():
    r = login()
    r.cmd("CREATE Structures")
    msgs = [(os.path.basename(p), open(p, "rb").read()) for p in CORPUS]
    msgs += [(f"sgmail-{i}", sgmail.message(i)) for i in range(20)]
    for _, raw in msgs:
        append(r, "Structures", raw)
    r.cmd("EXAMINE Structures")
    for seq, (name, raw) in enumerate(msgs, 1):
        compare_structure(r, seq, name, raw)
        whole = B.fetch_item(fetch1(r, f"FETCH {seq} (BODY.PEEK[])"), b"BODY[]")
        assert whole == raw, name
    r.close()


LISTING_ITEMS = ("UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY BODY.PEEK[HEADER] "
                 "BODY.PEEK[HEADER.FIELDS (From Subject Content-Type)] "
                 "BODY.PEEK[HEADER.FIELDS.NOT (Received)] BODY.PEEK[TEXT]<0.64> "
                 "BODY.PEEK[HEADER]<2.40>")


@test
def a_second_connection_lists_the_same_bytes_from_the_account_cache():
    """The first listing decrypts summaries and fills the account's cache;
    another connection of the account lists from the cache; after the last
    connection closes the cache is gone and the summaries are used again.
    Every pass must give the same bytes."""
    def listing(r):
        r.cmd("EXAMINE Structures")
        lines, t = r.cmd(f"UID FETCH 1:* ({LISTING_ITEMS})")
        assert b" OK " in t and len(lines) >= len(CORPUS), t
        return lines

    first = login()
    a = listing(first)                  # from the summaries
    second = login()
    b = listing(second)                 # from the cache
    c = listing(first)
    first.close()
    second.close()
    time.sleep(0.3)
    third = login()
    d = listing(third)                  # the cache went with the last session
    third.close()
    assert a == b == c == d
    raw = open(CORPUS[0], "rb").read()
    assert B.fetch_item(a[0], b"BODY[HEADER]") == raw[:len(B.fetch_item(a[0], b"BODY[HEADER]"))]
    assert raw.startswith(B.fetch_item(a[0], b"BODY[HEADER]"))


def metric(d, name):
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    url = f"https://127.0.0.1:{d.portal_port}/metrics"
    text = urllib.request.urlopen(url, context=ctx, timeout=10).read().decode()
    return int(re.search(rf"^{name} (\d+)$", text, re.M).group(1))


def cache_bytes(d):
    return metric(d, "sealgate_imap_cache_bytes")


@test
def expunged_messages_keys_are_forgotten_while_the_session_stays():
    """A client stays logged in for days, expunging as it goes: the content
    keys its fetches opened must not outlive the messages (they held memory
    and secrets for mail that is gone; the load test saw memory climb by
    them). Keys of messages still there stay open; a COPY of an expunged
    message opens its key again and reads the same bytes."""
    d = Daemon("imapkeys").start()
    try:
        user = "keys@ext.test"
        add_user(d, user)
        r = Raw(d)
        r.login(user)
        r.cmd('CREATE "Kept"')
        bodies = [message(subject=f"k{i}", to=user) for i in range(12)]
        for m in bodies:
            append(r, "INBOX", m)
        r.cmd("SELECT INBOX")
        _, t = r.cmd("UID FETCH 1:* (BODY.PEEK[])")
        assert b" OK " in t, t
        assert metric(d, "sealgate_imap_open_keys") == 12
        r.cmd('UID COPY 1 "Kept"')
        _, t = r.cmd("UID STORE 1:8 +FLAGS.SILENT (\\Deleted)")
        assert b" OK " in t, t
        _, t = r.cmd("EXPUNGE")
        assert b" OK " in t, t
        assert metric(d, "sealgate_imap_open_keys") == 4
        _, t = r.cmd("UID EXPUNGE 9")       # UIDPLUS: only \Deleted ones go
        assert metric(d, "sealgate_imap_open_keys") == 4
        r.cmd("UID STORE 9:10 +FLAGS.SILENT (\\Deleted)")
        _, t = r.cmd("UID EXPUNGE 9:10")
        assert b" OK " in t, t
        assert metric(d, "sealgate_imap_open_keys") == 2
        r.cmd('SELECT "Kept"')
        lines, t = r.cmd("UID FETCH 1 (BODY.PEEK[])")
        assert b" OK " in t and bodies[0] in b"".join(lines), t
        assert metric(d, "sealgate_imap_open_keys") == 3
        r.cmd("UID STORE 1 +FLAGS.SILENT (\\Deleted)")
        r.cmd("CLOSE")
        assert metric(d, "sealgate_imap_open_keys") == 2
        r.close()
        time.sleep(0.3)
        assert metric(d, "sealgate_imap_open_keys") == 0
    finally:
        rc, _ = d.stop()
        d.cleanup()
    assert rc == 0, rc


@test
def listing_caches_stay_within_cache_size_and_are_freed_with_the_last_session():
    """[imap] cache_size bounds the listing caches of all accounts together:
    with room for one slab (256 KiB), the first account's listing fills it,
    the second account gets none and lists from the summaries, both list the
    same bytes every time, and the budget comes back when they log out."""
    budget = 256 * 1024
    d = Daemon("imapcache", conf={"imap": {"cache_size": "256K"}}).start()
    try:
        users = ("cache1@ext.test", "cache2@ext.test")
        pad = "X-Pad: " + "p" * 70 + "\r\n"
        for u in users:
            add_user(d, u)
            r = Raw(d)
            r.login(u)
            for i in range(120):    # ~3.5 KiB of header each: more than one slab
                append(r, "INBOX", message(subject=f"m{i}", to=u, extra=pad * 40))
            r.close()
        assert cache_bytes(d) == 0
        sessions, listings = [], []
        for u in users:
            r = Raw(d)
            r.login(u)
            r.cmd("EXAMINE INBOX")
            first, t = r.cmd(f"UID FETCH 1:* ({LISTING_ITEMS})")
            assert b" OK " in t and len(first) >= 120, t
            again, _ = r.cmd(f"UID FETCH 1:* ({LISTING_ITEMS})")
            assert first == again, u
            listings.append(first)
            sessions.append(r)
            assert cache_bytes(d) == budget, u
        assert listings[0] != listings[1]
        for r in sessions:
            r.close()
        time.sleep(0.5)
        assert cache_bytes(d) == 0
    finally:
        rc, _ = d.stop()
        d.cleanup()
    assert rc == 0, rc


def big_message(size=20 * 1024 * 1024):
    rng = random.Random(20)
    blob = rng.randbytes(size * 3 // 4 - 4096)
    b64 = base64.encodebytes(blob).replace(b"\n", b"\r\n")
    head = message("twenty megabytes", body="").split(b"MIME-Version")[0]
    msg = (head + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="big"\r\n\r\n'
           b"--big\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"
           b"--big\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\n"
           b"Content-Disposition: attachment; filename=\"big.bin\"\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 + b"--big--\r\n")
    return msg, blob, b64


def chunks(r, uid, section, total):
    """Download a section as iOS does: 393,216-octet partial fetches until
    one comes back short, then one more that starts past the end."""
    got, off = [], 0
    while True:
        item = f"BODY[{section}]<{off}>".encode()
        line = fetch1(r, f"UID FETCH {uid} (BODY.PEEK[{section}]<{off}.{CHUNK}>)")
        assert line.startswith(b"* ") and b"(UID %d " % uid in line, line[:80]
        data = B.fetch_item(line, item)
        got.append(data)
        off += len(data)
        if len(data) < CHUNK:
            break
    assert off == total, (off, total)
    line = fetch1(r, f"UID FETCH {uid} (BODY.PEEK[{section}]<{total + CHUNK}.{CHUNK}>)")
    assert f"BODY[{section}]<{total + CHUNK}> {{0}}\r\n".encode() in line or \
        f'BODY[{section}]<{total + CHUNK}> ""'.encode() in line, line[:120]
    return b"".join(got)


@test
def twenty_mb_attachment_downloads_byte_exact_in_ios_chunks():
    msg, blob, b64 = big_message()
    assert len(msg) > 20 * 1000 * 1000
    r = login()
    caps, _ = r.cmd("CAPABILITY")
    limit = int(re.search(rb"APPENDLIMIT=(\d+)", caps[0]).group(1))
    assert limit >= len(msg), limit
    r.cmd("CREATE Big")
    uid = append(r, "Big", msg)
    r.cmd("SELECT Big")
    line = fetch1(r, f"UID FETCH {uid} (RFC822.SIZE BODYSTRUCTURE)")
    assert f"RFC822.SIZE {len(msg)}".encode() in line, line[:200]
    parts = B.bs_parts(B.fetch_item(line, b"BODYSTRUCTURE"))
    b64 = b64[:-2]      # the last line break belongs to the close delimiter
    assert int(parts["2"][1][6]) == len(b64), (parts["2"], len(b64))
    assert chunks(r, uid, "", len(msg)) == msg
    assert chunks(r, uid, "2", len(b64)) == b64
    assert base64.b64decode(b64) == blob
    line = fetch1(r, f"UID FETCH {uid} (FLAGS)")
    assert b"\\Seen" not in line, "BODY.PEEK must not set \\Seen"
    r.close()


@test
def appendlimit_is_advertised_and_toobig_comes_before_the_literal():
    r = login(L)
    caps, _ = r.cmd("CAPABILITY")
    assert f"APPENDLIMIT={SMALL_LIMIT}".encode() in caps[0], caps
    # Over the limit by one octet: NO [TOOBIG] and no "+", the session goes on.
    r.send(f"x1 APPEND INBOX {{{SMALL_LIMIT + 1}}}\r\n".encode())
    ln = r.line()
    assert ln.startswith(b"x1 NO [TOOBIG]"), ln
    _, t = r.cmd("NOOP")
    assert b" OK " in t, t
    # Exactly at the limit: accepted.
    msg = message("at the limit", body="")
    msg += b"x" * (SMALL_LIMIT - len(msg))
    uid = append(r, "INBOX", msg)
    r.cmd("SELECT INBOX")
    line = fetch1(r, f"UID FETCH {uid} (RFC822.SIZE)")
    assert f"RFC822.SIZE {SMALL_LIMIT}".encode() in line, line
    # A non-synchronizing literal over the limit cannot be skipped: BAD, BYE.
    r.send(f"x2 APPEND INBOX {{{SMALL_LIMIT + 1}+}}\r\n".encode())
    ln = r.line()
    assert ln.startswith(b"x2 BAD") or ln.startswith(b"x2 NO [TOOBIG]"), ln
    rest = r.line()
    assert rest.startswith(b"* BYE"), rest
    r.close()


@test
def autologout_ends_an_idle_session_but_not_idle_itself():
    quiet = login(L)
    idler = login(L)
    idler.cmd("SELECT INBOX")
    idler.send(b"i1 IDLE\r\n")
    assert idler.line().startswith(b"+ ")
    t0 = time.monotonic()
    ln = quiet.line()
    took = time.monotonic() - t0
    assert ln.startswith(b"* BYE"), ln
    assert 1.0 < took < 5.0, took
    try:
        more = quiet.line()
        raise AssertionError(f"still open after BYE: {more!r}")
    except (EOFError, OSError):
        pass
    time.sleep(3)       # past autologout: keepalives go on
    ln = idler.line()
    assert ln == b"* OK Still here\r\n", ln
    idler.send(b"DONE\r\n")
    ln = idler.line()
    while not ln.startswith(b"i1 "):
        ln = idler.line()
    assert ln.startswith(b"i1 OK"), ln
    _, t = idler.cmd("NOOP")
    assert b" OK " in t, t
    idler.close()
    quiet.close()


def list_names(lines):
    out = []
    for ln in lines:
        m = re.match(rb'\* (?:LIST|LSUB) \(([^)]*)\) (?:"/"|NIL) (.*)\r\n', ln)
        assert m, ln
        out.append(m.group(2).strip(b'"').decode())
    return out


@test
def list_root_and_prefix_cases_follow_rfc3501():
    r = login()
    for name in ("Projects/2026/Q1", "Projects/2025", "Lists"):
        _, t = r.cmd(f'CREATE "{name}"')
        assert b" OK " in t, t
    cases = [
        ('LIST "" ""', ['']),
        ('LIST "Projects/" ""', ['']),           # a non-rooted reference: root ""
        ('LIST "" "%"', ["Archive", "Drafts", "INBOX", "Junk", "Lists", "Projects", "Sent",
                         "Structures", "Trash"]),
        ('LIST "Projects/" "%"', ["Projects/2025", "Projects/2026"]),
        ('LIST "Projects" "/%"', ["Projects/2025", "Projects/2026"]),
        ('LIST "" "Projects/%"', ["Projects/2025", "Projects/2026"]),
        ('LIST "" "Projects/*"', ["Projects/2025", "Projects/2026", "Projects/2026/Q1"]),
        ('LIST "Projects/" "*"', ["Projects/2025", "Projects/2026", "Projects/2026/Q1"]),
        ('LIST "" "Projects"', ["Projects"]),
        ('LIST "" "/"', []),
        ('LIST "" "/*"', []),
        ('LIST "" "NoSuch/%"', []),
        ('LIST "" "inbox"', ["INBOX"]),
        ('LIST "" "InBoX/%"', []),
        ('LSUB "" ""', []),
    ]
    for cmd, want in cases:
        lines, t = r.cmd(cmd)
        assert b" OK " in t, (cmd, t)
        got = [n for n in list_names(lines) if n != "Big"]
        assert sorted(got) == sorted(want), (cmd, got, want)
    lines, _ = r.cmd('LIST "" ""')
    assert lines == [b'* LIST (\\Noselect) "/" ""\r\n'], lines
    r.close()


def tls_connect(d):
    sock = socket.create_connection(("127.0.0.1", d.imaps_port), timeout=10)
    return d.ssl_context().wrap_socket(sock, server_hostname="localhost")


@test
def over_the_per_address_limit_only_the_newest_connection_is_refused():
    held = [login(L) for _ in range(PER_IP)]
    for r in held:
        r.cmd("SELECT INBOX")
    # IMAPS: the newest connection is closed before TLS; STARTTLS: BYE first.
    try:
        s = tls_connect(L)
        data = s.recv(100)
        assert data == b"", data
    except (ssl.SSLError, ConnectionError, OSError):
        pass
    plain = socket.create_connection(("127.0.0.1", L.imap_port), timeout=10)
    # The STARTTLS listener counts separately; fill it too.
    plains = [plain] + [socket.create_connection(("127.0.0.1", L.imap_port), timeout=10)
                        for _ in range(PER_IP - 1)]
    for p in plains:
        assert p.recv(4096).startswith(b"* OK"), "plain greeting"
    extra = socket.create_connection(("127.0.0.1", L.imap_port), timeout=10)
    ln = extra.recv(4096)
    assert ln.startswith(b"* BYE"), ln
    extra.close()
    # Every older connection still works.
    for r in held:
        _, t = r.cmd("NOOP")
        assert b" OK " in t, t
    for p in plains:
        p.sendall(b"n NOOP\r\n")
        assert b"n OK" in p.recv(4096)
        p.close()
    held.pop().close()
    time.sleep(0.3)
    r = login(L)        # a place came free
    _, t = r.cmd("NOOP")
    assert b" OK " in t
    r.close()
    for r in held:
        r.close()


@test
def fifty_connections_of_one_user_from_one_address_all_work():
    conns = []
    for _ in range(50):
        conns.append(login())
    for i, r in enumerate(conns):
        lines, t = r.cmd("SELECT INBOX" if i % 2 else "STATUS INBOX (MESSAGES)")
        assert b" OK " in t, (i, t)
    for r in conns:
        _, t = r.cmd("NOOP")
        assert b" OK " in t
        r.close()
    m = imaps(D, USER)
    m.logout()


def teardown(_):
    errors = []
    for d in (D, L):
        if d is None:
            continue
        try:
            rc, _ = d.stop()
            if rc != 0:
                errors.append(rc)
        finally:
            d.cleanup()
    assert not errors, errors


if __name__ == "__main__":
    setup()
    run(teardown=teardown)
