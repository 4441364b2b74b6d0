"""Foundation: configuration errors, init, listeners, TLS, the first protocol
breath of SMTP/IMAP/portal, SIGHUP reload, and an orderly SIGTERM stop."""
import http.client
import imaplib
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import stat
import subprocess
import time

from sgtest import BIN, Daemon, read_until
from tap import run, test


def check_config(text):
    d = Daemon("cfg", init=False)
    try:
        with open(d.conf, "a") as f:
            f.write(text)
        return d.cli("check-config")
    finally:
        d.cleanup()


@test
def check_config_misspelled_key_names_file_and_line():
    r = check_config("[smtp]\nmax_mesage_size = 1M\n")
    assert r.returncode == 1, r
    lines = open(r.args[2]).read().splitlines() if False else None
    assert re.search(r"sealgate\.conf:\d+: \[smtp\] max_mesage_size: unknown key", r.stderr), r.stderr


@test
def check_config_bad_port_cidr_size_each_say_so():
    for text, needle in (("[relay]\nport = 0\n", "[relay] port: value out of range"),
                         ("[limits]\nproxy_networks = 10.1.1.1/8\n", "bad CIDR"),
                         ("[limits]\nproxy_networks = 10.0.0.0/40\n", "bad CIDR prefix"),
                         ("[smtp]\nmax_message_size = 12Q\n", "unknown size unit")):
        r = check_config(text)
        assert r.returncode == 1 and needle in r.stderr, (text, r.stderr)
        assert re.search(r"sealgate\.conf:\d+: ", r.stderr), r.stderr


@test
def check_config_line_number_is_the_offending_line():
    d = Daemon("cfgline", init=False)
    try:
        with open(d.conf) as f:
            n = len(f.read().splitlines())
        with open(d.conf, "a") as f:
            f.write("[policy]\ninvite_ttl = soon\n")
        r = d.cli("check-config")
        assert r.returncode == 1
        assert f"sealgate.conf:{n + 2}: [policy] invite_ttl:" in r.stderr, r.stderr
    finally:
        d.cleanup()


@test
def check_config_prints_effective_defaults():
    d = Daemon("cfgprint", init=False)
    try:
        r = d.cli("check-config", check=True)
        for needle in ("[gateway]", "hostname = localhost", "retention = 365d",
                       "max_message_size = 50M", "external_recipients = correspondents",
                       f"data_dir = {d.data}", "trusted_networks = 127.0.0.0/8, ::1/128"):
            assert needle in r.stdout, needle
    finally:
        d.cleanup()


@test
def check_config_has_no_definite_leak_under_valgrind():
    if os.environ.get("SEALGATE_BUILD", "").endswith("asan"):
        return  # valgrind cannot run an ASan binary; the plain build checks this
    d = Daemon("valgrind", init=False)
    try:
        r = subprocess.run(["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
                            "--error-exitcode=9", BIN, "-c", d.conf, "check-config"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "definitely lost: 0 bytes" in r.stderr or "no leaks are possible" in r.stderr, \
            r.stderr[-2000:]
    finally:
        d.cleanup()


@test
def init_is_idempotent_and_private():
    d = Daemon("init")
    try:
        st = os.stat(d.data)
        assert stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode)
        key = os.path.join(d.data, "tls", "key.pem")
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        before = open(d.cert, "rb").read()
        d.cli("init", check=True)
        assert open(d.cert, "rb").read() == before, "init replaced the certificate"
        cert = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", d.cert],
                              capture_output=True, text=True, check=True).stdout
        assert "DNS:localhost" in cert and "IP Address:127.0.0.1" in cert
    finally:
        d.cleanup()


def smtp_session(d):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
    return s


@test
def smtp_greets_and_upgrades_to_tls():
    d = Daemon("smtp").start()
    try:
        s = smtp_session(d)
        code, msg = s.ehlo("client.example")
        assert code == 250 and s.has_extn("starttls") and s.has_extn("enhancedstatuscodes")
        assert s.noop()[0] == 250
        assert s.rset()[0] == 250
        s.starttls(context=d.ssl_context())
        code, msg = s.ehlo("client.example")
        assert code == 250 and not s.has_extn("starttls")
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        assert s.quit()[0] == 221
    finally:
        d.stop()
        d.cleanup()


@test
def smtp_starttls_discards_pipelined_plaintext():
    d = Daemon("inject").start()
    try:
        raw = socket.create_connection(("127.0.0.1", d.smtp_port), timeout=10)
        read_until(raw, rb"220 .*\r\n")
        raw.sendall(b"EHLO x\r\n")
        read_until(raw, rb"250 [^\r]*\r\n")
        raw.sendall(b"STARTTLS\r\nNOOP\r\n")
        got = read_until(raw, rb"220 2\.0\.0[^\r]*\r\n")
        assert b"250" not in got.split(b"220 2.0.0")[1]
        tls = d.ssl_context().wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"QUIT\r\n")
        got = read_until(tls, rb"221 [^\r]*\r\n")
        assert got.startswith(b"221"), got  # the injected NOOP was never answered
        tls.close()
    finally:
        d.stop()
        d.cleanup()


@test
def smtp_refuses_long_line_and_bare_lf():
    d = Daemon("smtplimits").start()
    try:
        for payload in (b"NOOP " + b"x" * 5000 + b"\r\n", b"NOOP\n"):
            raw = socket.create_connection(("127.0.0.1", d.smtp_port), timeout=10)
            read_until(raw, rb"220 .*\r\n")
            raw.sendall(payload)
            got = read_until(raw, rb"500 [^\r]*\r\n")
            assert got.startswith(b"500 5.5.2"), got
            raw.close()
    finally:
        d.stop()
        d.cleanup()


@test
def imap_greets_logindisabled_then_starttls():
    d = Daemon("imap").start()
    try:
        m = imaplib.IMAP4("127.0.0.1", d.imap_port, timeout=10)
        assert "LOGINDISABLED" in m.capabilities and "STARTTLS" in m.capabilities
        assert m.noop()[0] == "OK"
        m.starttls(ssl_context=d.ssl_context())
        typ, data = m.capability()
        caps = data[0].decode().split()
        assert typ == "OK" and "LOGINDISABLED" not in caps and "STARTTLS" not in caps
        assert m.logout()[0] == "BYE"
    finally:
        d.stop()
        d.cleanup()


def s_client(port, *extra):
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                           "-servername", "localhost", *extra], input="", capture_output=True,
                          text=True, timeout=20)


@test
def implicit_tls_ports_answer_s_client_and_refuse_old_tls():
    d = Daemon("stls").start()
    try:
        for port, banner in ((d.imaps_port, "* OK"), (d.submission_tls_port, "220 ")):
            r = s_client(port, "-CAfile", d.cert, "-verify_return_error")
            assert "Verify return code: 0 (ok)" in r.stdout, r.stdout
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with d.ssl_context().wrap_socket(raw, server_hostname="localhost") as tls:
                    got = read_until(tls, rb"\r\n")
                    assert got.decode().startswith(banner), got
            r = s_client(port, "-tls1_1")
            assert "Cipher is (NONE)" in r.stdout and "BEGIN CERTIFICATE" not in r.stdout, r.stdout
            assert "alert protocol version" in r.stderr, r.stderr
        r = s_client(d.imaps_port, "-tls1_2")
        assert "Protocol  : TLSv1.2" in r.stdout, r.stdout
    finally:
        d.stop()
        d.cleanup()


@test
def portal_healthz_over_https():
    d = Daemon("portal").start()
    try:
        c = http.client.HTTPSConnection("127.0.0.1", d.portal_port, timeout=10,
                                        context=d.ssl_context())
        c.request("GET", "/healthz")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"ok\n"
        assert r.getheader("X-Frame-Options") == "DENY"
        assert r.getheader("Referrer-Policy") == "no-referrer"
        c.close()
    finally:
        d.stop()
        d.cleanup()


def peer_cert(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True)


@test
def sighup_reloads_the_certificate():
    d = Daemon("hup").start()
    try:
        first = peer_cert(d.imaps_port)
        tls = os.path.join(d.data, "tls")
        os.rename(os.path.join(tls, "cert.pem"), os.path.join(tls, "old-cert.pem"))
        os.rename(os.path.join(tls, "key.pem"), os.path.join(tls, "old-key.pem"))
        d.cli("init", check=True)  # makes a new self-signed pair
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "event=reload tls=ok" not in d.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert peer_cert(d.imaps_port) != first
        # a broken certificate keeps the old one serving
        open(os.path.join(tls, "cert.pem"), "w").write("garbage")
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "event=reload tls=failed" not in d.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "event=reload tls=failed" in d.log_text()
        assert peer_cert(d.imaps_port)
    finally:
        d.stop()
        d.cleanup()


@test
def sigterm_with_50_idle_connections_exits_0_within_5s():
    d = Daemon("term").start()
    socks = []
    try:
        for i in range(50):
            port = d.smtp_port if i % 2 else d.imap_port
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            read_until(s, rb"\r\n")
            socks.append((port, s))
        time.sleep(0.2)
        rc, took = d.stop(signal.SIGTERM)
        assert rc == 0 and took < 5.0, (rc, took)
        for port, s in socks:
            got = read_until(s, rb"\r\n", timeout=2)
            expect = b"421 4.3.2" if port == d.smtp_port else b"* BYE"
            assert got.startswith(expect), got
    finally:
        for _, s in socks:
            s.close()
        d.cleanup()


@test
def log_lines_are_level_component_key_value():
    d = Daemon("log").start()
    try:
        s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
        s.quit()
    finally:
        d.stop()
        text = d.log_text()
        d.cleanup()
    lines = [x for x in text.splitlines() if x.strip()]
    assert lines
    for line in lines:
        assert re.match(r"^(ERROR|WARN|INFO|DEBUG) [a-z]+ \S+=", line), line


@test
def a_test_port_is_never_handed_to_two_test_processes_at_once():
    # The suite runs test files in parallel; CI once saw a daemon fail with
    # "Address already in use" because another test process picked the same
    # free port before the first daemon bound it.
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
    pick = ("import sys; sys.path.insert(0, %r); import sgtest\n"
            "if sys.argv[1:]:\n    sgtest._rng.randrange = lambda a, b: int(sys.argv[1])\n"
            "try:\n    print(sgtest.free_port())\n"
            "except RuntimeError:\n    print('refused')\n"
            "sys.stdout.flush(); sys.stdin.read()\n") % lib
    import sgtest
    port = sgtest.free_port()
    other = subprocess.run(["python3", "-c", pick, str(port)], input="", capture_output=True,
                           text=True, timeout=30)
    assert other.stdout.strip() == "refused", other
    free = subprocess.run(["python3", "-c", pick], input="", capture_output=True, text=True,
                          timeout=30)
    assert free.stdout.strip().isdigit() and int(free.stdout) != port, free


if __name__ == "__main__":
    run()
