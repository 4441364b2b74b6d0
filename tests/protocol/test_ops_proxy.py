"""Operations: the PROXY protocol on listeners. v1 and v2 headers from a
trusted balancer set the client's address (in the log, the audit and the
limits), before TLS on implicit-TLS ports and before the greeting on
STARTTLS ports; anyone outside [limits] proxy_networks, a malformed header
and a header that never comes are all closed."""
import json
import os
import socket
import struct
import time

from sgimap import PASSWORD, add_user
from sgtest import Daemon
from tap import run, test

USER = "alice@ext.test"
D = None
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def setup():
    global D
    os.environ.setdefault("SEALGATE_ALLOW_ROOT", "1")
    D = Daemon("ops-proxy", conf={
        "imap": {"proxy_protocol": "yes"},
        "limits": {"proxy_networks": "127.0.0.1/32", "max_connections_per_ip": "3"},
    }).start()
    add_user(D, USER)


def v1(src, sport=40000, dst=None, dport=993):
    fam = "TCP6" if ":" in src else "TCP4"
    dst = dst or ("::1" if fam == "TCP6" else "127.0.0.1")
    return f"PROXY {fam} {src} {dst} {sport} {dport}\r\n".encode()


def v2(src, sport=40000, dst="127.0.0.1", dport=993, local=False, tlv=b""):
    if local:
        return V2_SIG + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport) + tlv
    return V2_SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def connect(port, source="127.0.0.1"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    return s


def tls_session(header, port=None):
    """Send the header, then TLS on the implicit-TLS port; returns (ssl sock, greeting)."""
    s = connect(port or D.imaps_port)
    s.sendall(header)
    t = D.ssl_context().wrap_socket(s, server_hostname="localhost")
    return t, recv_line(t)


def recv_line(s):
    buf = b""
    while not buf.endswith(b"\r\n"):
        c = s.recv(1)
        if not c:
            break
        buf += c
    return buf


def closed_without_a_word(s, timeout=15):
    s.settimeout(timeout)
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


def failed_login_audited_from(ip, header):
    t, greeting = tls_session(header)
    assert greeting.startswith(b"* OK"), greeting
    t.sendall(f'a LOGIN "{USER}" "wrong"\r\n'.encode())
    assert b"NO [AUTHENTICATIONFAILED]" in recv_line(t)
    t.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = D.cli("audit", "--json", "--account", USER, check=True).stdout
        ips = [json.loads(x)["ip"] for x in out.splitlines()
               if json.loads(x)["event"] == "auth_failed"]
        if ip in ips:
            return
        time.sleep(0.1)
    raise AssertionError(f"no auth_failed from {ip} in the audit: {out}")


@test
def v1_header_before_tls_sets_the_client_address():
    failed_login_audited_from("203.0.113.7", v1("203.0.113.7"))
    assert "event=proxy peer=203.0.113.7 via=127.0.0.1 version=1" in D.log_text()


@test
def v2_header_with_tlv_before_tls_sets_the_client_address():
    tlv = b"\x01\x00\x02h2"   # PP2_TYPE_ALPN
    failed_login_audited_from("198.51.100.9", v2("198.51.100.9", tlv=tlv))
    assert "event=proxy peer=198.51.100.9 via=127.0.0.1 version=2" in D.log_text()


@test
def v1_ipv6_and_the_starttls_port():
    s = connect(D.imap_port)
    s.sendall(v1("2001:db8::5", dport=143))
    assert recv_line(s).startswith(b"* OK"), "no greeting after the header"
    s.close()
    assert "event=proxy peer=2001:db8::5" in D.log_text()


@test
def header_split_across_packets_and_protocol_bytes_after_it():
    # Header in pieces, the first command right behind its last byte.
    s = connect(D.imap_port)
    h = v2("192.0.2.77", dport=143)
    for i in range(0, len(h), 5):
        s.sendall(h[i:i + 5])
        time.sleep(0.02)
    s.sendall(b"a1 NOOP\r\n")
    assert recv_line(s).startswith(b"* OK")
    assert recv_line(s).startswith(b"a1 OK"), "the bytes after the header were lost"
    s.close()


@test
def v2_local_keeps_the_balancer_address():
    t, greeting = tls_session(v2(None, local=True))
    assert greeting.startswith(b"* OK"), greeting
    t.close()
    assert "event=proxy peer=127.0.0.1 via=127.0.0.1 version=2 local=yes" in D.log_text()


@test
def untrusted_peer_is_closed_at_once():
    s = connect(D.imaps_port, source="127.0.0.2")
    s.sendall(v1("203.0.113.66"))
    assert closed_without_a_word(s, timeout=5)
    assert "reason=proxy_untrusted peer=127.0.0.2" in D.log_text()
    assert "peer=203.0.113.66" not in D.log_text()


@test
def no_header_or_a_bad_one_is_closed():
    s = connect(D.imap_port)
    s.sendall(b"a1 LOGIN x y\r\n")            # a client talking directly
    assert closed_without_a_word(s)
    s = connect(D.imaps_port)
    s.sendall(b"PROXY TCP4 203.0.113.7 127.0.0.1 40000\r\n")
    assert closed_without_a_word(s)
    assert "reason=proxy_invalid" in D.log_text()


@test
def a_header_that_never_comes_times_out():
    s = connect(D.imaps_port)
    s.sendall(b"PROXY TCP4 203.0.113.7")        # and then nothing
    t0 = time.monotonic()
    assert closed_without_a_word(s, timeout=20)
    assert 9 <= time.monotonic() - t0 <= 15
    assert "reason=proxy_timeout" in D.log_text()


@test
def per_address_limit_counts_the_client_not_the_balancer():
    # max_connections_per_ip = 3: four clients behind the one balancer all
    # get in; a fourth connection from one client does not.
    socks = []
    for i in range(4):
        s = connect(D.imap_port)
        s.sendall(v1(f"192.0.2.{10 + i}", dport=143))
        assert recv_line(s).startswith(b"* OK"), i
        socks.append(s)
    for _ in range(2):
        s = connect(D.imap_port)
        s.sendall(v1("192.0.2.10", dport=143))
        assert recv_line(s).startswith(b"* OK")
        socks.append(s)
    s = connect(D.imap_port)
    s.sendall(v1("192.0.2.10", dport=143))
    assert recv_line(s).startswith(b"* BYE"), "fourth connection of one client let in"
    for s in socks:
        s.close()


def teardown(_):
    if D is not None:
        rc, _ = D.stop()
        D.cleanup()
        assert rc == 0


if __name__ == "__main__":
    setup()
    run(teardown=teardown)
