"""Start a private sealgate daemon for a test, and talk to it.

Each Daemon lives in its own temporary folder with its own free loopback
ports, so tests run in parallel. SEALGATE_BIN names the binary under test
(the plain or the sanitizer build); tests/run.py sets it. SEALGATE_WRAPPER,
when set, is a command put in front of `sealgate serve` (valgrind, strace);
SEALGATE_TIMEOUT_SCALE multiplies the start and stop timeouts for it.
"""
import fcntl
import os
import random
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SEALGATE_BIN", os.path.join(SRC, "build", "sealgate"))
WRAPPER = shlex.split(os.environ.get("SEALGATE_WRAPPER", ""))
TIMEOUT_SCALE = float(os.environ.get("SEALGATE_TIMEOUT_SCALE", "1"))
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: AddressSanitizer")


_handed_out = set()
_rng = random.SystemRandom()
with open("/proc/sys/net/ipv4/ip_local_port_range") as _f:
    _EPHEMERAL_LOW = int(_f.read().split()[0])
# One byte per port, locked for as long as this process lives; the kernel
# drops the locks when it exits, however it exits.
_port_locks = os.open(os.path.join(tempfile.gettempdir(), "sealgate-test-ports.lock"),
                      os.O_RDWR | os.O_CREAT, 0o666)


def _claim(port):
    """Claim a port against every other test process of this machine."""
    try:
        fcntl.lockf(_port_locks, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
    except OSError:
        return False
    return True


def free_port():
    """A loopback port nobody listens on, never the same one twice here.

    Asking the kernel for port 0 and closing the socket hands the same
    ephemeral port back to the next caller (two listeners of one daemon got
    one port in CI), and outgoing connections share that range.  So pick at
    random below the ephemeral range and let a bind check rule out ports
    other processes already listen on.  A port is handed out only once per
    run: a lock on its byte of a shared file keeps the test processes that
    run in parallel from picking the same one between the choice and the
    daemon's bind (CI saw "Address already in use" from exactly that race).
    """
    for _ in range(1000):
        port = _rng.randrange(10000, max(_EPHEMERAL_LOW, 10001))
        if port in _handed_out or not _claim(port):
            continue
        _handed_out.add(port)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port")


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"port {port} did not open")


class Daemon:
    """A sealgate instance: config, init, serve, stop, admin commands."""

    PORT_KEYS = (("smtp", "listen"), ("submission", "listen"), ("submission", "listen_tls"),
                 ("imap", "listen"), ("imap", "listen_tls"), ("portal", "listen"))

    def __init__(self, name="t", conf=None, init=True):
        self.dir = tempfile.mkdtemp(prefix=f"sg-{name}-")
        self.data = os.path.join(self.dir, "var")
        self.ports = {}
        sections = {}
        for sec, key in self.PORT_KEYS:
            p = free_port()
            self.ports[f"{sec}.{key}"] = p
            sections.setdefault(sec, {})[key] = f"127.0.0.1:{p}"
        sections.setdefault("gateway", {}).update(
            {"data_dir": self.data, "log_level": "debug", "workers": "2"})
        sections["portal"]["public_url"] = f"https://localhost:{self.ports['portal.listen']}"
        sections.setdefault("limits", {}).update({"auth_delay": "0", "auth_delay_max": "0"})
        for sec, kv in (conf or {}).items():
            sections.setdefault(sec, {}).update(kv)
        self.conf = os.path.join(self.dir, "sealgate.conf")
        with open(self.conf, "w") as f:
            for sec, kv in sections.items():
                f.write(f"[{sec}]\n")
                for k, v in kv.items():
                    f.write(f"{k} = {v}\n")
                f.write("\n")
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.proc = None
        self.cert = os.path.join(self.data, "tls", "cert.pem")
        if init:
            self.cli("init", check=True)

    # -- ports ---------------------------------------------------------
    @property
    def smtp_port(self):
        return self.ports["smtp.listen"]

    @property
    def submission_port(self):
        return self.ports["submission.listen"]

    @property
    def submission_tls_port(self):
        return self.ports["submission.listen_tls"]

    @property
    def imap_port(self):
        return self.ports["imap.listen"]

    @property
    def imaps_port(self):
        return self.ports["imap.listen_tls"]

    @property
    def portal_port(self):
        return self.ports["portal.listen"]

    # -- lifecycle -----------------------------------------------------
    def cli(self, *args, input=None, check=False, timeout=120):
        r = subprocess.run([BIN, "-c", self.conf, *args], input=input, capture_output=True,
                           timeout=timeout, text=isinstance(input, str) or input is None)
        if check and r.returncode != 0:
            raise AssertionError(f"sealgate {' '.join(args)} exited {r.returncode}: "
                                 f"{r.stdout}{r.stderr}")
        check_sanitizers(r.stderr if isinstance(r.stderr, str) else r.stderr.decode(), args)
        return r

    def start(self, wait=True):
        self.log_mark = len(self.log_text())
        self.log = open(self.log_path, "ab")
        # The tests run as root on purpose; a deployment sets [gateway] user.
        env = dict(os.environ, SEALGATE_ALLOW_ROOT="1", **getattr(self, "env", {}))
        self.proc = subprocess.Popen(WRAPPER + [BIN, "-c", self.conf, "serve"], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout * TIMEOUT_SCALE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log_text()}")
            if "event=ready" in self.log_text()[getattr(self, "log_mark", 0):]:
                return
            time.sleep(0.02)
        raise TimeoutError("daemon not ready:\n" + self.log_text())

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stop; returns (exit status, seconds taken). Fails on sanitizer output."""
        if self.proc is None:
            return 0, 0.0
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout * TIMEOUT_SCALE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError(f"daemon did not stop within {timeout}s")
        finally:
            self.log.close()
            self.proc = None
        took = time.monotonic() - t0
        check_sanitizers(self.log_text(), ("serve",))
        return rc, took

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.log.close()
            self.proc = None

    def cleanup(self):
        if self.proc is not None:
            self.kill()
        if os.environ.get("SG_KEEP_TMP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    # -- clients -------------------------------------------------------
    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = True
        return ctx


def check_sanitizers(text, what):
    for mark in SANITIZER_MARKS:
        if mark in text:
            i = text.index(mark)
            raise AssertionError(f"sanitizer report from sealgate {' '.join(what)}:\n"
                                 + text[max(0, i - 200):i + 3000])


def read_until(sock, pattern, timeout=10.0):
    """Read from a socket until the regex matches; returns everything read."""
    sock.settimeout(timeout)
    buf = b""
    rx = re.compile(pattern)
    while not rx.search(buf):
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf
