"""Raw SMTP conversations for what no client library sends: pipelined
bursts, bare LF, NUL bytes, hang-ups mid-DATA, 100 KB lines.

    s = Raw(port)                      # reads the greeting
    s.send(b"EHLO x\\r\\n")
    code, lines = s.reply()            # one whole reply, multi-line or not
    s.expect(b"NOOP\\r\\n", r"^250 2\\.0\\.0")
    s.script([(b"RSET\\r\\n", r"^250 "), ...])
"""
import re
import socket
import ssl

REPLY_LINE = re.compile(rb"^(\d{3})([ -])(.*)$")


class Closed(Exception):
    pass


class Raw:
    def __init__(self, port, host="127.0.0.1", timeout=10.0, greet=True):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.greeting = self.reply() if greet else None

    def send(self, data):
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed(f"connection closed; unread: {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """One reply: (code, [text lines]) with the code as an int."""
        lines = []
        while True:
            line = self._line()
            m = REPLY_LINE.match(line)
            if not m:
                raise AssertionError(f"malformed reply line {line!r}")
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) == b" ":
                return int(m.group(1)), lines

    def reply_text(self):
        code, lines = self.reply()
        return f"{code} " + "\n".join(lines)

    def expect(self, data, pattern):
        if data:
            self.send(data)
        text = self.reply_text()
        assert re.search(pattern, text), f"sent {data[:200]!r}: got {text!r}, want {pattern!r}"
        return text

    def script(self, steps):
        for data, pattern in steps:
            self.expect(data, pattern)

    def closed(self, timeout=5.0):
        """True if the server closes the connection (after any pending bytes)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def starttls(self, ctx, server_hostname="localhost"):
        self.expect(b"STARTTLS\r\n", r"^220 2\.0\.0")
        assert self.buf == b"", self.buf
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def message(subject="test", body="hello\r\n", sender="alice@example.com",
            to="bob@ext.test", extra=""):
    """A small RFC 5322 message with CRLF line ends, as bytes."""
    text = (f"From: Alice Example <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{abs(hash((subject, body)))}@example.com>\r\n"
            f"Date: Thu, 27 Nov 2025 10:00:00 +0000\r\n{extra}\r\n{body}")
    return text.encode()


def dot_stuff(data):
    """DATA framing: dot-stuff and terminate (data must end with CRLF)."""
    out = re.sub(rb"(?m)^\.", b"..", data)
    return out + b".\r\n"


def tls_client_context(cafile=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
