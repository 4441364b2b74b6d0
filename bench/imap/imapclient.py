"""A small, fast IMAP client for bench/imap: it sends exact commands and reads
responses up to the tagged line, skipping literals without copying them
line by line, so that the client costs little next to the server."""
import re
import socket
import ssl

_LIT_ANY = re.compile(rb"\{(\d+)\+?\}\r\n")


class ImapError(Exception):
    pass


class Conn:
    def __init__(self, port, cafile, host="127.0.0.1", timeout=600):
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = ctx.wrap_socket(raw)
        self.buf = bytearray()
        self.rbuf = bytearray(1 << 17)
        self.rview = memoryview(self.rbuf)
        self.n = 0
        self.greeting = self._line()

    def _fill(self):
        n = self.sock.recv_into(self.rbuf)
        if n == 0:
            raise ImapError("connection closed")
        self.buf += self.rview[:n]

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i + 2])
                del self.buf[:i + 2]
                return line
            self._fill()

    def read_tagged(self, tag):
        """Read to the tagged line; returns (bytes before it, tagged line).
        Searches for CRLF + tag at C speed and checks a hit once against the
        literals before it, so a 5 MB listing costs the client little."""
        tagb = tag.encode() + b" "
        needle = b"\r\n" + tagb
        frm = 0
        while True:
            if frm == 0 and self.buf.startswith(tagb):
                i = 0
            else:
                j = self.buf.find(needle, frm)
                i = j + 2 if j >= 0 else -1
            if i >= 0:
                e = self.buf.find(b"\r\n", i)
                if e < 0:
                    self._fill()
                    continue
                if self._outside_literals(i):
                    body = bytes(self.buf[:i])
                    tagged = bytes(self.buf[i:e + 2])
                    del self.buf[:e + 2]
                    return body, tagged
                frm = i
                continue
            frm = max(0, len(self.buf) - len(needle))
            self._fill()

    def _outside_literals(self, at):
        """True if no literal before offset `at` covers it."""
        pos = 0
        for m in _LIT_ANY.finditer(self.buf, 0, at):
            if m.start() < pos:
                continue
            pos = m.end() + int(m.group(1))
            if pos > at:
                return False
        return True

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, text, ok=True):
        self.n += 1
        tag = f"T{self.n}"
        self.send(f"{tag} {text}\r\n".encode() if isinstance(text, str)
                  else tag.encode() + b" " + text + b"\r\n")
        body, tagged = self.read_tagged(tag)
        if ok and not tagged.startswith(f"{tag} OK".encode()):
            raise ImapError(f"{text[:60]!r}: {tagged!r}")
        return body, tagged

    def login(self, user, password):
        return self.cmd(f'LOGIN "{user}" "{password}"')

    def append(self, mailbox, msgs, literal_plus=True):
        """One (MULTI)APPEND; returns the tagged line."""
        self.n += 1
        tag = f"T{self.n}"
        if literal_plus:
            parts = [f"{tag} APPEND {mailbox}".encode()]
            for m in msgs:
                parts.append(f" {{{len(m)}+}}\r\n".encode() + m)
            self.send(b"".join(parts) + b"\r\n")
        else:
            for k, m in enumerate(msgs):
                head = f"{tag} APPEND {mailbox}" if k == 0 else ""
                self.send(f"{head} {{{len(m)}}}\r\n".encode())
                ln = self._line()
                if not ln.startswith(b"+"):
                    raise ImapError(f"APPEND: {ln!r}")
                self.send(m)
            self.send(b"\r\n")
        _, tagged = self.read_tagged(tag)
        if not tagged.startswith(f"{tag} OK".encode()):
            raise ImapError(f"APPEND: {tagged!r}")
        return tagged

    def idle(self):
        self.n += 1
        tag = f"T{self.n}"
        self.send(f"{tag} IDLE\r\n".encode())
        while True:
            ln = self._line()
            if ln.startswith(b"+"):
                return tag
            if ln.startswith(tag.encode()):
                raise ImapError(f"IDLE: {ln!r}")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
