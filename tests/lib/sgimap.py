"""IMAP helpers for protocol tests: accounts, logged-in clients, messages."""
import imaplib
import re
import time

PASSWORD = "correct horse battery staple 9"


def add_user(d, address, password=PASSWORD):
    d.cli("user", "add", address, "--password-stdin", input=password + "\n", check=True)


def imaps(d, user=None, password=PASSWORD):
    m = imaplib.IMAP4_SSL("127.0.0.1", d.imaps_port, ssl_context=d.ssl_context(), timeout=30)
    if user:
        m.login(user, password)
    return m


def imap_starttls(d, user=None, password=PASSWORD):
    m = imaplib.IMAP4("127.0.0.1", d.imap_port, timeout=30)
    m.starttls(ssl_context=d.ssl_context())
    if user:
        m.login(user, password)
    return m


def message(subject="Hello", body="Hi there.\r\n", frm="Boss <boss@example.com>",
            to="alice@ext.test", extra=""):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 02 Nov 2026 10:11:12 +0100\r\nMessage-ID: <{time.time_ns()}@example.com>\r\n"
            f"{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()


def append(m, mailbox, msg, flags=None, date=None):
    typ, data = m.append(mailbox, flags, date, msg)
    assert typ == "OK", (typ, data)
    code = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
    return int(code.group(2)) if code else None


def fetch_items(data):
    """imaplib FETCH data -> list of (header bytes, literal bytes or None)."""
    out = []
    for item in data:
        if isinstance(item, tuple):
            out.append((item[0], item[1]))
        elif item not in (b")",):
            out.append((item, None))
    return out


def untagged(m, name):
    """Untagged responses of one kind imaplib collected, and clear them."""
    return m.untagged_responses.pop(name, [])


class Raw:
    """A transcript-level IMAP client over TLS: send exact bytes, read exact
    responses (literals included), for what imaplib hides or cannot send."""

    def __init__(self, d, port=None, tls=True):
        import socket
        sock = socket.create_connection(("127.0.0.1", port or d.imaps_port), timeout=30)
        self.sock = d.ssl_context().wrap_socket(sock, server_hostname="localhost") if tls else sock
        self.buf = b""
        self.n = 0
        self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise EOFError("connection closed; had " + repr(self.buf[:200]))
        self.buf += chunk

    def line(self):
        """One response line; a literal is read whole and kept inline."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            i = self.buf.index(b"\r\n")
            part, self.buf = self.buf[:i + 2], self.buf[i + 2:]
            out += part
            mm = re.search(rb"\{(\d+)\}\r\n$", part)
            if not mm:
                return out
            n = int(mm.group(1))
            while len(self.buf) < n:
                self._fill()
            out += self.buf[:n]
            self.buf = self.buf[n:]

    def cmd(self, text, tag=None):
        """Send a command; return (untagged lines, tagged line)."""
        self.n += 1
        tag = tag or f"t{self.n}"
        data = text if isinstance(text, bytes) else text.encode()
        self.send(tag.encode() + b" " + data + b"\r\n")
        lines = []
        while True:
            ln = self.line()
            if ln.startswith(tag.encode() + b" "):
                return lines, ln
            lines.append(ln)

    def login(self, user, password=PASSWORD):
        _, tagged = self.cmd(f'LOGIN "{user}" "{password}"')
        assert b" OK " in tagged, tagged
        return tagged

    @classmethod
    def selected(cls, d, user, mailbox, ok=b" OK "):
        """A new client, logged in, mailbox selected (ok in the tagged
        reply); returns it and SELECT's untagged lines."""
        r = cls(d)
        r.login(user)
        lines, t = r.cmd(f"SELECT {mailbox}")
        assert ok in t, t
        return r, lines

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
