"""Load against a private sealgate: many IMAP sessions doing what mail
clients do, SMTP senders (the organization's MTA) or IMAP APPEND as the
writers, the daemon's memory sampled each second, and afterwards a check
that every acknowledged message and flag is there and readable.

Used by tests/load/run (the 60 s load), tests/load/test_load.py (a bounded
variant in the suite) and tests/fault/run (the same load through SIGKILLs, a
full disk and a relay outage). Plain asyncio, no third-party modules.

Definitions the runners report against:
- protocol error: a tagged NO or BAD, an unexpected BYE, a malformed or
  missing response, an SMTP reply other than the expected one, or a
  connection lost while the daemon was meant to be up;
- acknowledged: an SMTP 250 after DATA (for each recipient the RCPT of
  which got 250), a tagged OK to APPEND, a tagged OK to STORE;
- flat memory: the daemon's anonymous resident memory (RssAnon: heap and
  stacks; LMDB's file-backed map pages grow with the data by design and
  are reported apart) grows by less than FLAT_LIMIT over the last
  FLAT_WINDOW seconds of the run.
"""
import asyncio
import hashlib
import os
import random
import re
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "lib"))
import sgmail  # noqa: E402
from sgtest import Daemon  # noqa: E402

PASSWORD = "correct horse battery staple 9"
DOMAIN = "ext.test"
FLAT_WINDOW = 30
FLAT_LIMIT = 0.05
LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
IO_TIMEOUT = 60


class ProtocolError(Exception):
    pass


class No(ProtocolError):
    """A tagged NO: a temporary failure where the runner allows one (full disk)."""


class SmtpTempfail(Exception):
    """A 4xx to MAIL, RCPT or DATA where temporary failures are allowed."""


class Down(Exception):
    """The connection went away (the runner decides whether that was expected)."""


# ---- statistics --------------------------------------------------------------

class Stats:
    def __init__(self):
        self.t0 = time.monotonic()
        self.counts = {}
        self.latency = {}
        self.errors = []          # (time, where, text) of protocol errors
        self.drops = []           # (time, where, text) of lost connections
        self.acked = {}           # load id -> (sha256 of the sent bytes, set of users)
        self.expunged = {}        # load id -> set of users whose EXPUNGE of it was acknowledged
        self.invites = {}         # new address -> (load id, time) of its acknowledged first message
        self.tempfails = []       # (time, where, text): 451/452, NO where allowed
        self.flags = {}           # (user, uid) -> True/False (\Flagged), None: unknown
        self.rss = []             # (t, VmRSS KiB, RssAnon KiB, RssFile KiB)
        self.down = []            # [start, end] spans when the daemon is meant to be down
        self.appended = 0

    def count(self, what, dt=None):
        self.counts[what] = self.counts.get(what, 0) + 1
        if dt is not None:
            self.latency.setdefault(what, []).append(dt)

    def now(self):
        return time.monotonic() - self.t0

    def error(self, where, text):
        self.errors.append((round(self.now(), 2), where, str(text)[:300]))

    def drop(self, where, text):
        self.drops.append((round(self.now(), 2), where, str(text)[:300]))

    def expected_down(self, t, grace=3.0):
        return any(a - 0.5 <= t <= (b if b is not None else 1e18) + grace for a, b in self.down)


def expected_deliveries(stats):
    """Acknowledged deliveries not acknowledged as expunged since."""
    return sum(len(users - stats.expunged.get(lid, set()))
               for lid, (_, users) in stats.acked.items())


def percentile(v, p):
    if not v:
        return None
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


# ---- IMAP --------------------------------------------------------------------

class Imap:
    """One IMAP connection over implicit TLS: tagged commands, literals read
    whole, untagged responses returned with the tagged one."""

    def __init__(self):
        self.r = self.w = None
        self.n = 0
        self.exists = 0
        self.gen = None

    async def connect(self, port, ctx, src=None, gen=None):
        self.gen = gen
        try:
            self.r, self.w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, ssl=ctx, limit=1 << 22,
                                        server_hostname="localhost",
                                        local_addr=(src, 0) if src else None), IO_TIMEOUT)
            greet = await self.line()
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError, ConnectionError,
                asyncio.TimeoutError) as e:
            raise Down(f"connect: {e!r}")
        if not greet.startswith(b"* OK"):
            raise ProtocolError(f"greeting {greet[:100]!r}")

    async def line(self):
        """One response, literals included inline."""
        out = b""
        while True:
            try:
                ln = await asyncio.wait_for(self.r.readuntil(b"\r\n"), IO_TIMEOUT)
            except asyncio.TimeoutError:
                raise ProtocolError("no response within %ds" % IO_TIMEOUT)
            except (asyncio.IncompleteReadError, OSError, ssl.SSLError, ConnectionError,
                    asyncio.LimitOverrunError) as e:
                raise Down(f"read: {e!r}")
            out += ln
            m = LITERAL.search(ln)
            if not m:
                return out
            try:
                out += await asyncio.wait_for(self.r.readexactly(int(m.group(1))), IO_TIMEOUT)
            except (asyncio.IncompleteReadError, OSError, ssl.SSLError, ConnectionError) as e:
                raise Down(f"literal: {e!r}")

    async def send(self, data):
        try:
            self.w.write(data)
            await asyncio.wait_for(self.w.drain(), IO_TIMEOUT)
        except (OSError, ssl.SSLError, ConnectionError) as e:
            raise Down(f"write: {e!r}")

    async def cmd(self, text, literal=None):
        """Run one command; returns the untagged responses. NO/BAD raise."""
        self.n += 1
        tag = b"L%d" % self.n
        if literal is None:
            await self.send(tag + b" " + text + b"\r\n")
        else:
            await self.send(tag + b" " + text + b" {%d}\r\n" % len(literal))
            cont = await self.line()
            if not cont.startswith(b"+"):
                raise ProtocolError(f"{text[:40]!r}: no continuation: {cont[:200]!r}")
            await self.send(literal + b"\r\n")
        untagged = []
        while True:
            ln = await self.line()
            if ln.startswith(tag + b" "):
                if ln.startswith(tag + b" NO"):
                    raise No(f"{text[:60]!r}: {ln[:200]!r}")
                if not ln.startswith(tag + b" OK"):
                    raise ProtocolError(f"{text[:60]!r}: {ln[:200]!r}")
                self.track(untagged)
                return untagged, ln
            if ln.startswith(b"* BYE") and text != b"LOGOUT":
                raise Down(f"BYE: {ln[:200]!r}")
            untagged.append(ln)

    def track(self, untagged):
        for u in untagged:
            m = re.match(rb"\* (\d+) EXISTS", u)
            if m:
                self.exists = int(m.group(1))

    async def idle(self, seconds):
        self.n += 1
        tag = b"L%d" % self.n
        await self.send(tag + b" IDLE\r\n")
        cont = await self.line()
        if not cont.startswith(b"+"):
            raise ProtocolError(f"IDLE: {cont[:200]!r}")
        seen = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                seen.append(await asyncio.wait_for(self.line(), left))
            except asyncio.TimeoutError:
                break
        await self.send(b"DONE\r\n")
        while True:
            ln = await self.line()
            if ln.startswith(tag + b" "):
                if not ln.startswith(tag + b" OK"):
                    raise ProtocolError(f"IDLE DONE: {ln[:200]!r}")
                self.track(seen)
                return seen
            if ln.startswith(b"* BYE"):
                raise Down(f"BYE: {ln[:200]!r}")
            seen.append(ln)

    def close(self):
        if self.w is not None:
            try:
                self.w.close()
            except Exception:  # noqa: BLE001 - closing a dead socket
                pass
            self.w = None


CLIENT_SESSIONS_PER_IP = 4


def client_ip(net, k):
    """The loopback source address of client k: 127.net.x.y, one per
    CLIENT_SESSIONS_PER_IP clients (the whole 127/8 is loopback on Linux)."""
    n = k // CLIENT_SESSIONS_PER_IP + 1
    return f"127.{net}.{n // 250}.{n % 250 + 1}"


def uids_of(untagged):
    for u in untagged:
        if u.startswith(b"* SEARCH"):
            return [int(x) for x in u[8:].split()]
    return []


def load_id(raw):
    m = re.search(rb"\r\nX-Load-Id: (\S+)\r\n", raw) or re.match(rb"X-Load-Id: (\S+)\r\n", raw)
    return m.group(1).decode() if m else None


# ---- the load ----------------------------------------------------------------

class Load:
    """The whole run: a daemon (started by the caller), users, clients."""

    def __init__(self, d, users=20, sessions=200, senders=16, writer="smtp", seed=1,
                 think=(0.2, 1.0), preload=10, run_id=None, new_every=0, tempfail_ok=False,
                 keep=0, smtp_rate=0):
        self.d = d
        self.users = [f"load{i:02d}@{DOMAIN}" for i in range(users)]
        self.sessions = sessions
        self.senders = senders
        self.writer = writer
        self.rng = random.Random(seed)
        self.think = think
        self.preload = preload
        self.stats = Stats()
        self.stop_at = None
        self.msg_no = 0
        self.run_id = run_id or f"r{int(time.time())}"
        self.stopping = False
        self.new_every = new_every          # every n-th message also to a new address
        self.tempfail_ok = tempfail_ok      # full disk: 451/452 and NO are answers, not errors
        self.keep = keep                    # >0: sessions expunge beyond the newest `keep`
        # >0: the senders together send about this many messages a second
        self.smtp_gap = senders / smtp_rate if smtp_rate else 0.0

    # -- setup --
    def add_users(self):
        for u in self.users:
            self.d.cli("user", "add", u, "--password-stdin", input=PASSWORD + "\n", check=True)

    def ctx(self):
        if getattr(self, "_ctx", None) is None:
            self._ctx = self.d.ssl_context()
        return self._ctx

    def next_message(self, to):
        n = self.msg_no
        self.msg_no += 1
        lid = f"{self.run_id}-{n}"
        # sgmail.message() cuts some multipart/mixed texts between CR and LF
        # (a bare CR, which SMTP refuses, rightly): drop such CRs here.
        body = re.sub(rb"\r(?!\n)", b"", sgmail.message(n, to=to))
        return lid, f"X-Load-Id: {lid}\r\n".encode() + body

    # -- memory --
    async def sample_rss(self):
        # only while the load runs: as the clients log out at the end the
        # accounts' shared state is freed, and those samples judge nothing
        while not self.done():
            pid = self.d.proc.pid if self.d.proc is not None else None
            if pid:
                try:
                    with open(f"/proc/{pid}/status") as f:
                        st = dict(x.split(":", 1) for x in f.read().splitlines() if ":" in x)
                    kb = lambda k: int(st.get(k, "0 kB").split()[0])  # noqa: E731
                    self.stats.rss.append((round(self.stats.now(), 1), kb("VmRSS"),
                                           kb("RssAnon"), kb("RssFile") + kb("RssShmem")))
                except (OSError, ValueError):
                    pass
            await asyncio.sleep(1)

    # -- failures --
    def failed(self, where, e, gen=None):
        """A lost connection is a protocol error unless the daemon was meant
        to be down then, or the connection was opened before the last kill
        (gen: len(stats.down) at connect); a NO is one unless temporary
        failures are allowed; other failures always are."""
        if isinstance(e, No) and self.tempfail_ok:
            self.stats.tempfails.append((round(self.stats.now(), 2), where, str(e)[:200]))
            self.stats.count("imap_no")
            return
        if isinstance(e, Down):
            if (self.stats.expected_down(self.stats.now()) or self.stopping or
                    (gen is not None and gen < len(self.stats.down))):
                self.stats.drop(where, e)
            else:
                self.stats.error(where, f"connection lost: {e}")
        else:
            self.stats.error(where, e)

    async def backoff(self):
        await asyncio.sleep(0.3 + self.rng.random() * 0.5)

    # -- SMTP writer --
    async def smtp_reply(self, r):
        lines = []
        while True:
            try:
                ln = await asyncio.wait_for(r.readuntil(b"\r\n"), IO_TIMEOUT)
            except asyncio.TimeoutError:
                raise ProtocolError("SMTP: no reply")
            except (asyncio.IncompleteReadError, OSError, ssl.SSLError, ConnectionError) as e:
                raise Down(f"smtp read: {e!r}")
            lines.append(ln)
            if len(ln) < 4 or ln[3:4] != b"-":
                return int(ln[:3]) if ln[:3].isdigit() else 0, b"".join(lines)

    async def smtp_expect(self, r, w, data, want):
        if data is not None:
            try:
                w.write(data)
                await w.drain()
            except (OSError, ssl.SSLError, ConnectionError) as e:
                raise Down(f"smtp write: {e!r}")
        code, text = await self.smtp_reply(r)
        if code not in want and self.tempfail_ok and 400 <= code < 500:
            raise SmtpTempfail(text)
        if code not in want:
            raise ProtocolError(f"SMTP {data[:30] if data else b'greeting'!r}: {text[:200]!r}")
        return code, text

    async def smtp_sender(self, k):
        """One MTA connection sending messages back to back (several per
        connection, as Postfix reuses connections), 1-3 recipients each."""
        rng = random.Random(k * 101 + 7)
        while not self.done():
            w = None
            gen = len(self.stats.down)
            try:
                try:
                    r, w = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", self.d.smtp_port, limit=1 << 20,
                                                local_addr=(client_ip(2, k * 4), 0)),
                        IO_TIMEOUT)
                except (OSError, asyncio.TimeoutError) as e:
                    raise Down(f"smtp connect: {e!r}")
                await self.smtp_expect(r, w, None, (220,))
                await self.smtp_expect(r, w, b"EHLO mta.example.com\r\n", (250,))
                await self.smtp_expect(r, w, b"STARTTLS\r\n", (220,))
                try:
                    await w.start_tls(self.ctx(), server_hostname="localhost")
                except (OSError, ssl.SSLError, ConnectionError) as e:
                    raise Down(f"smtp starttls: {e!r}")
                await self.smtp_expect(r, w, b"EHLO mta.example.com\r\n", (250,))
                for _ in range(rng.randint(5, 20)):
                    if self.done():
                        break
                    rcpts = rng.sample(self.users,
                                       min(len(self.users), rng.choice((1, 1, 1, 2, 3))))
                    lid, msg = self.next_message(rcpts[0])
                    fresh = None
                    if self.new_every and self.msg_no % self.new_every == 0:
                        fresh = f"new-{lid}@{DOMAIN}"
                        rcpts = rcpts + [fresh]
                    if self.smtp_gap:
                        await asyncio.sleep(rng.uniform(0.5, 1.5) * self.smtp_gap)
                    t0 = time.monotonic()
                    await self.smtp_expect(r, w, b"MAIL FROM:<sender@example.com>\r\n", (250,))
                    for rc in rcpts:
                        await self.smtp_expect(r, w, f"RCPT TO:<{rc}>\r\n".encode(), (250,))
                    await self.smtp_expect(r, w, b"DATA\r\n", (354,))
                    stuffed = re.sub(rb"(?m)^\.", b"..", msg)
                    code, text = await self.smtp_expect(r, w, stuffed + b".\r\n",
                                                        (250, 451, 452))
                    if code == 250:
                        self.stats.acked[lid] = (hashlib.sha256(msg).hexdigest(),
                                                 set(r for r in rcpts if r != fresh))
                        if fresh:
                            self.stats.invites[fresh] = (lid, round(self.stats.now(), 2))
                        self.stats.count("smtp_msg", time.monotonic() - t0)
                    elif self.tempfail_ok:
                        self.stats.count("smtp_tempfail")
                        self.stats.tempfails.append((round(self.stats.now(), 2), f"smtp{k}",
                                                     text[:200].decode("utf-8", "replace")))
                        await asyncio.sleep(0.5)
                    else:
                        raise ProtocolError(f"SMTP end of data: {text[:200]!r}")
                await self.smtp_expect(r, w, b"QUIT\r\n", (221,))
            except SmtpTempfail as e:
                self.stats.count("smtp_tempfail")
                self.stats.tempfails.append((round(self.stats.now(), 2), f"smtp{k}", str(e)[:200]))
                await self.backoff()
            except (ProtocolError, Down) as e:
                self.failed(f"smtp{k}", e, gen)
                await self.backoff()
            finally:
                if w is not None:
                    w.close()

    # -- IMAP APPEND writer (before SMTP ingest, or as a second writer) --
    async def append_writer(self, k):
        rng = random.Random(k * 313 + 1)
        while not self.done():
            c = Imap()
            user = self.users[k % len(self.users)]
            try:
                await c.connect(self.d.imaps_port, self.ctx(), client_ip(3, k * 4),
                                len(self.stats.down))
                await c.cmd(f'LOGIN "{user}" "{PASSWORD}"'.encode())
                for _ in range(rng.randint(5, 20)):
                    if self.done():
                        break
                    user_to = user
                    lid, msg = self.next_message(user_to)
                    t0 = time.monotonic()
                    await c.cmd(b"APPEND INBOX", literal=msg)
                    self.stats.acked[lid] = (hashlib.sha256(msg).hexdigest(), {user_to})
                    self.stats.count("append", time.monotonic() - t0)
                await c.cmd(b"LOGOUT")
            except (ProtocolError, Down) as e:
                self.failed(f"append{k}", e, c.gen)
                await self.backoff()
            finally:
                c.close()

    # -- IMAP reader sessions --
    async def imap_session(self, k):
        """A mail client: log in, select INBOX, then a weighted mix of what
        Thunderbird and Apple Mail do, with think time, until the end.
        Flags are stored only on UIDs this session owns (uid % per_user),
        so the last acknowledged STORE of each is known. Sessions come from
        CLIENT_SESSIONS_PER_IP per loopback address (127.1.x.y), as a desk
        of mail apps would, not all from one address."""
        rng = random.Random(k * 7 + 3)
        user = self.users[k % len(self.users)]
        per_user = max(1, self.sessions // len(self.users))
        mine = (k // len(self.users)) % per_user
        await asyncio.sleep(rng.random() * 3)      # clients do not all connect at once
        while not self.done():
            c = Imap()
            try:
                await c.connect(self.d.imaps_port, self.ctx(), client_ip(1, k),
                                len(self.stats.down))
                t0 = time.monotonic()
                await c.cmd(f'LOGIN "{user}" "{PASSWORD}"'.encode())
                self.stats.count("login", time.monotonic() - t0)
                await c.cmd(b"SELECT INBOX")
                uids = uids_of((await c.cmd(b"UID SEARCH ALL"))[0])
                while not self.done():
                    await asyncio.sleep(rng.uniform(*self.think))
                    if self.done():
                        break
                    uids = await self.imap_step(c, rng, user, uids, per_user, mine)
                await c.cmd(b"LOGOUT")
            except (ProtocolError, Down) as e:
                self.failed(f"imap{k}", e, c.gen)
                await self.backoff()
            finally:
                c.close()

    async def expunge_old(self, c, user, uids, per_user, mine):
        """Delete this session's own messages beyond the newest self.keep, as
        a user cleaning up does (the soak keeps mailboxes at a steady size):
        learn their load ids, \\Deleted, UID EXPUNGE (UIDPLUS). Once the
        EXPUNGE is acknowledged they must be gone, not there."""
        old = [u for u in uids[:-self.keep] if u % per_user == mine][:200]
        if not old:
            return uids
        seq = ",".join(str(u) for u in old)
        got, _ = await c.cmd(f"UID FETCH {seq} (UID BODY.PEEK[HEADER.FIELDS (X-Load-Id)])"
                             .encode())
        lids = [lid for lid in (load_id(g.split(b"}\r\n", 1)[-1]) for g in got) if lid]
        for u in old:
            self.stats.flags[(user, u)] = None
        await c.cmd(f"UID STORE {seq} +FLAGS.SILENT (\\Deleted)".encode())
        await c.cmd(f"UID EXPUNGE {seq}".encode())
        for lid in lids:
            self.stats.expunged.setdefault(lid, set()).add(user)
        for u in old:
            self.stats.flags.pop((user, u), None)
        gone = set(old)
        return [u for u in uids if u not in gone]

    async def imap_step(self, c, rng, user, uids, per_user, mine):
        x = rng.random()
        t0 = time.monotonic()
        if self.keep and x < 0.08:
            before = len(uids)
            uids = await self.expunge_old(c, user, uids, per_user, mine)
            if len(uids) < before:
                self.stats.count("expunge", time.monotonic() - t0)
            return uids
        if x < 0.20:
            what = "fetch_headers"
            lo = uids[-50] if len(uids) >= 50 else 1
            await c.cmd(f"UID FETCH {lo}:* (UID FLAGS RFC822.SIZE INTERNALDATE "
                        f"BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID)])"
                        .encode())
        elif x < 0.28:
            what = "fetch_flags"
            await c.cmd(b"FETCH 1:* (UID FLAGS)")
        elif x < 0.33:
            what = "fetch_envelope"
            lo = max(1, c.exists - 20)
            await c.cmd(f"FETCH {lo}:* (UID ENVELOPE BODYSTRUCTURE)".encode())
        elif x < 0.53:
            what = "fetch_body"
            if not uids:
                return uids
            await c.cmd(f"UID FETCH {rng.choice(uids)} (BODY.PEEK[])".encode())
        elif x < 0.66:
            what = "store"
            own = [u for u in uids if u % per_user == mine]
            if not own:
                return uids
            uid = rng.choice(own)
            on = rng.random() < 0.5
            key = (user, uid)
            self.stats.flags[key] = None          # unknown until acknowledged
            await c.cmd(f"UID STORE {uid} {'+' if on else '-'}FLAGS.SILENT (\\Flagged)".encode())
            self.stats.flags[key] = on
            if rng.random() < 0.5:
                await c.cmd(f"UID STORE {uid} +FLAGS.SILENT (\\Seen)".encode())
        elif x < 0.76:
            what = "search"
            q = rng.choice((b"UID SEARCH UNSEEN", b"UID SEARCH FLAGGED",
                            b"UID SEARCH TEXT invoice", b"UID SEARCH SUBJECT meeting",
                            b"UID SEARCH SINCE 1-Nov-2026 FROM sender3"))
            await c.cmd(q)
        elif x < 0.86:
            what = "idle"
            await c.idle(rng.uniform(2, 6))
            t0 = None
        elif x < 0.93:
            what = "refresh"
            uids = uids_of((await c.cmd(b"UID SEARCH ALL"))[0])
        else:
            what = "noop"
            await c.cmd(b"NOOP")
        self.stats.count(what, None if t0 is None else time.monotonic() - t0)
        if c.exists > len(uids) and rng.random() < 0.3:
            uids = uids_of((await c.cmd(b"UID SEARCH ALL"))[0])
        return uids

    # -- run --
    def done(self):
        return self.stopping or (self.stop_at is not None and time.monotonic() >= self.stop_at)

    async def preload_mail(self):
        """A few messages in every INBOX before the clients start."""
        if self.preload <= 0:
            return
        saved, self.stop_at = self.stop_at, None
        c = Imap()
        try:
            for user in self.users:
                await c.connect(self.d.imaps_port, self.ctx())
                await c.cmd(f'LOGIN "{user}" "{PASSWORD}"'.encode())
                for k in range(0, self.preload, 50):    # MULTIAPPEND, LITERAL+
                    parts = []
                    for _ in range(min(50, self.preload - k)):
                        lid, msg = self.next_message(user)
                        parts.append(b" {%d+}\r\n" % len(msg) + msg)
                        self.stats.acked[lid] = (hashlib.sha256(msg).hexdigest(), {user})
                    await c.cmd(b"APPEND INBOX" + b"".join(parts))
                await c.cmd(b"LOGOUT")
                c.close()
                c = Imap()
        finally:
            c.close()
            self.stop_at = saved

    async def run(self, seconds, during=None):
        """The load for `seconds`; during(load) runs alongside (faults)."""
        await self.preload_mail()
        self.stats.t0 = time.monotonic()
        self.stop_at = time.monotonic() + seconds
        tasks = [asyncio.create_task(self.sample_rss())]
        tasks += [asyncio.create_task(self.imap_session(k)) for k in range(self.sessions)]
        if self.writer == "smtp":
            tasks += [asyncio.create_task(self.smtp_sender(k)) for k in range(self.senders)]
        else:
            tasks += [asyncio.create_task(self.append_writer(k)) for k in range(self.senders)]
        extra = asyncio.create_task(during(self)) if during else None
        while not self.done():          # during() may move stop_at
            await asyncio.sleep(0.2)
        if extra is not None:
            await extra
        workers = tasks[1:]
        done, pending = await asyncio.wait(workers, timeout=IO_TIMEOUT + 30)
        for t in pending:
            self.stats.error("shutdown", "a client did not finish")
            t.cancel()
        for t in done:
            if t.exception() is not None:
                self.stats.error("client", repr(t.exception()))
        self.stopping = True
        tasks[0].cancel()
        return self.stats

    # -- verification --
    async def verify(self):
        """Every acknowledged message is in its recipients' INBOX and reads
        back byte-exact (after the Received: header ingest prepends); every
        acknowledged flag holds. Returns a list of problems (empty: good)."""
        problems = []
        want, gone = {}, {}
        for lid, (sha, users) in self.stats.acked.items():
            for u in users:
                if u in self.stats.expunged.get(lid, ()):
                    gone.setdefault(u, set()).add(lid)
                else:
                    want.setdefault(u, {})[lid] = sha
        checked = 0
        for user in self.users:
            c = Imap()
            try:
                await c.connect(self.d.imaps_port, self.ctx())
                await c.cmd(f'LOGIN "{user}" "{PASSWORD}"'.encode())
                await c.cmd(b"EXAMINE INBOX")
                found = {}
                flags = {}
                if c.exists:
                    got, _ = await c.cmd(b"UID FETCH 1:* (UID FLAGS BODY.PEEK[])")
                    for resp in got:
                        m = re.match(rb"\* \d+ FETCH \(", resp)
                        if not m:
                            continue
                        uid = int(re.search(rb"UID (\d+)", resp).group(1))
                        fl = re.search(rb"FLAGS \(([^)]*)\)", resp).group(1)
                        lit = re.search(rb"BODY\[\] \{(\d+)\}\r\n", resp)
                        raw = resp[lit.end():lit.end() + int(lit.group(1))]
                        lid = load_id(raw)
                        flags[uid] = b"\\Flagged" in fl
                        if lid is not None:
                            found[lid] = raw
                for lid, sha in want.get(user, {}).items():
                    raw = found.get(lid)
                    if raw is None:
                        problems.append(f"{user}: acknowledged message {lid} missing")
                        continue
                    i = raw.find(b"X-Load-Id: ")
                    if hashlib.sha256(raw[i:]).hexdigest() != sha:
                        problems.append(f"{user}: message {lid} differs from what was sent")
                    checked += 1
                for lid in gone.get(user, ()):
                    if lid in found:
                        problems.append(f"{user}: expunged message {lid} still there")
                for (u, uid), on in self.stats.flags.items():
                    if u == user and on is not None and flags.get(uid) != on:
                        problems.append(f"{user}: UID {uid} \\Flagged is {flags.get(uid)}, "
                                        f"acknowledged {on}")
                await c.cmd(b"LOGOUT")
            except (ProtocolError, Down) as e:
                problems.append(f"{user}: verification failed: {e}")
            finally:
                c.close()
        self.verified = checked
        return problems


def rss_flat(samples, window=FLAT_WINDOW, limit=FLAT_LIMIT):
    """(flat?, growth, text) on RssAnon over the last `window` seconds (or
    the second half of a shorter run: the first half is the warm-up).
    The start and the end are each the median of 5 samples (one second
    apart), so a single allocation burst does not decide."""
    if not samples:
        return False, None, "no RSS samples"
    end_t = samples[-1][0]
    window = min(window, end_t / 2)
    tail = [s for s in samples if s[0] >= end_t - window]
    if len(tail) < 8:
        return False, None, f"only {len(tail)} samples in the last {window:.0f}s"
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    a = med([s[2] for s in tail[:5]])
    b = med([s[2] for s in tail[-5:]])
    growth = (b - a) / a if a else 0.0
    text = (f"RssAnon {a / 1024:.1f} MiB -> {b / 1024:.1f} MiB over the last {window:.0f}s "
            f"({growth * 100:+.1f}%, limit {limit * 100:.0f}%); VmRSS at end "
            f"{samples[-1][1] // 1024} MiB, file-backed {samples[-1][3] // 1024} MiB")
    return growth < limit, growth, text


def summary(load, seconds, flat_window=FLAT_WINDOW):
    st = load.stats
    lat = {k: {"n": len(v), "p50_ms": round(percentile(v, 50) * 1000, 1),
               "p99_ms": round(percentile(v, 99) * 1000, 1)}
           for k, v in st.latency.items() if v}
    flat, growth, rss_text = rss_flat(st.rss, flat_window)
    return {"seconds": seconds, "sessions": load.sessions, "senders": load.senders,
            "writer": load.writer, "users": len(load.users), "counts": st.counts,
            "latency": lat, "acknowledged": len(st.acked),
            "errors": st.errors[:50], "n_errors": len(st.errors),
            "drops": len(st.drops), "rss": st.rss, "rss_flat": flat,
            "rss_growth": growth, "rss_text": rss_text}


def make_daemon(name="load", data_dir=None, extra=None):
    conf = {"limits": {"max_connections_per_ip": "1000", "max_connections": "10000"},
            "policy": {"internal_domains": "example.com"},
            "gateway": {"log_level": "info"}}
    if data_dir:
        conf["gateway"]["data_dir"] = data_dir
    for sec, kv in (extra or {}).items():
        conf.setdefault(sec, {}).update(kv)
    d = Daemon(name, conf=conf, init=False)
    if data_dir:
        d.data = data_dir
        d.cert = os.path.join(data_dir, "tls", "cert.pem")
    d.cli("init", check=True)
    return d
