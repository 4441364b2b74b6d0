"""Operations, acceptance: `meson install` into a temporary root puts the
binary, the systemd unit, the sysusers and tmpfiles snippets, the packaged
configuration (production ports) and the man pages in their places; the
unit passes `systemd-analyze verify`; and the installed binary runs with
the installed configuration adjusted to loopback ports."""
import configparser
import os
import re
import shutil
import subprocess
import tempfile

from sgtest import BIN, free_port, wait_port
from tap import run, test

BUILD = os.environ.get("SEALGATE_BUILD", os.path.dirname(BIN))
ROOT = None
PREFIX = None


def setup():
    global ROOT, PREFIX
    ROOT = tempfile.mkdtemp(prefix="sg-install-")
    r = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--destdir", ROOT],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    info = subprocess.run(["meson", "introspect", BUILD, "--buildoptions"],
                          capture_output=True, text=True, check=True).stdout
    PREFIX = re.search(r'"name": "prefix", "value": "([^"]+)"', info).group(1)


def inst(*parts):
    return os.path.join(ROOT + PREFIX, *parts)


def statedir():
    unit = open(inst("lib", "systemd", "system", "sealgate.service")).read()
    return re.search(r"^ReadWritePaths=(\S+)$", unit, re.M).group(1)


def etc(*parts):
    # sysconfdir is /etc for /usr, else prefix/etc
    base = ROOT + "/etc" if PREFIX == "/usr" else inst("etc")
    return os.path.join(base, *parts)


@test
def everything_lands_in_its_place():
    for path in (inst("sbin", "sealgate"), inst("lib", "systemd", "system", "sealgate.service"),
                 inst("lib", "sysusers.d", "sealgate.conf"),
                 inst("lib", "tmpfiles.d", "sealgate.conf"), etc("sealgate", "sealgate.conf"),
                 inst("share", "man", "man8", "sealgate.8"),
                 inst("share", "man", "man5", "sealgate.conf.5")):
        assert os.path.isfile(path), path
    assert os.access(inst("sbin", "sealgate"), os.X_OK)
    unit = open(inst("lib", "systemd", "system", "sealgate.service")).read()
    assert f"ExecStart={PREFIX}/sbin/sealgate -c " in unit, unit
    for line in ("Type=notify", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                 "ProtectHome=yes", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE", "SystemCallFilter=@system-service",
                 "MemoryDenyWriteExecute=yes", "ExecReload=/bin/kill -HUP $MAINPID",
                 "User=sealgate"):
        assert line in unit.splitlines(), line


@test
def the_unit_passes_systemd_analyze_verify():
    unit = inst("lib", "systemd", "system", "sealgate.service")
    # verify checks that ExecStart exists: point it at the installed binary.
    tmp = tempfile.mkdtemp(prefix="sg-unit-")
    text = open(unit).read().replace(f"{PREFIX}/sbin/sealgate", inst("sbin", "sealgate"))
    path = os.path.join(tmp, "sealgate.service")
    with open(path, "w") as f:
        f.write(text)
    # --man=no: the man pages are installed under the temporary root only.
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", path], capture_output=True,
                       text=True, timeout=60)
    out = "\n".join(x for x in (r.stdout + r.stderr).splitlines() if "sealgate" in x)
    assert r.returncode == 0 and out == "", r.stdout + r.stderr
    # and the sandbox is as tight as systemd can tell (lower is better; 10 is none)
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", path],
                       capture_output=True, text=True, timeout=60)
    level = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout).group(1))
    print(f"# systemd-analyze security: exposure {level}")
    shutil.rmtree(tmp)
    assert level <= 2.5, r.stdout[-2000:]


@test
def sysusers_and_tmpfiles_snippets_are_valid():
    root = tempfile.mkdtemp(prefix="sg-sysroot-")
    os.makedirs(os.path.join(root, "etc"))
    try:
        r = subprocess.run(["systemd-sysusers", "--root", root,
                            inst("lib", "sysusers.d", "sealgate.conf")],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        passwd = open(os.path.join(root, "etc", "passwd")).read()
        assert re.search(r"^sealgate:x:\d+:\d+:sealgate secure-mail gateway:/var/lib/sealgate:",
                         passwd, re.M), passwd
        state = root + statedir()
        os.makedirs(os.path.dirname(state))
        snippet = inst("lib", "tmpfiles.d", "sealgate.conf")
        assert f"d {statedir()} 0700 sealgate sealgate -" in open(snippet).read()
        r = subprocess.run(["systemd-tmpfiles", "--root", root, "--create", snippet],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        st = os.stat(state)
        assert oct(st.st_mode & 0o777) == "0o700", oct(st.st_mode)
        assert st.st_uid == int(re.search(r"^sealgate:x:(\d+):", passwd, re.M).group(1))
    finally:
        shutil.rmtree(root)


@test
def packaged_config_has_the_production_ports():
    r = subprocess.run([inst("sbin", "sealgate"), "-c", etc("sealgate", "sealgate.conf"),
                        "check-config"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(r.stdout)
    assert cp["smtp"]["listen"].endswith(":25")
    assert cp["submission"]["listen"].endswith(":587")
    assert cp["submission"]["listen_tls"].endswith(":465")
    assert cp["imap"]["listen"].endswith(":143")
    assert cp["imap"]["listen_tls"].endswith(":993")
    assert cp["portal"]["listen"].endswith(":443")
    assert cp["gateway"]["user"] == "sealgate"
    assert cp["gateway"]["log"] == "syslog"
    # data_dir is the unit's one writable path and the tmpfiles snippet's
    assert cp["gateway"]["data_dir"] == statedir(), (cp["gateway"]["data_dir"], statedir())
    assert statedir().endswith("/lib/sealgate")


@test
def installed_binary_runs_with_the_installed_config_on_loopback():
    conf = open(etc("sealgate", "sealgate.conf")).read()
    ports = {}

    def loopback(m):
        p = free_port()
        ports[m.group(1)] = p
        return f"{m.group(1)} = 127.0.0.1:{p}"

    conf = re.sub(r"^(listen(?:_tls)?) = 0\.0\.0\.0:\d+$", loopback, conf, flags=re.M)
    data = os.path.join(ROOT, "data")
    conf = re.sub(r"^data_dir = .*$", f"data_dir = {data}", conf, flags=re.M)
    conf = conf.replace("log = syslog", "log = stderr").replace("user = sealgate", "user =")
    conf = conf.replace("public_url = https://mail.example.com",
                        "public_url = https://localhost")
    assert "0.0.0.0" not in conf, conf
    path = os.path.join(ROOT, "loopback.conf")
    with open(path, "w") as f:
        f.write(conf)
    binary = inst("sbin", "sealgate")
    env = dict(os.environ, SEALGATE_ALLOW_ROOT="1")
    subprocess.run([binary, "-c", path, "init"], check=True, capture_output=True, timeout=120)
    log = open(os.path.join(ROOT, "serve.log"), "wb")
    p = subprocess.Popen([binary, "-c", path, "serve"], stdout=log, stderr=subprocess.STDOUT,
                         env=env)
    try:
        listens = re.findall(r"^listen(?:_tls)? = 127\.0\.0\.1:(\d+)$", conf, re.M)
        assert len(listens) == 6, listens
        for port in listens:
            wait_port(int(port), timeout=20)
        import socket
        with socket.create_connection(("127.0.0.1", int(listens[0])), timeout=10) as s:
            assert s.recv(100).startswith(b"220 mail.example.com"), "no SMTP greeting"
    finally:
        p.terminate()
        rc = p.wait(timeout=10)
        log.close()
    assert rc == 0, open(os.path.join(ROOT, "serve.log")).read()


@test
def serve_tells_systemd_ready_reloading_and_stopping():
    """Type=notify: with NOTIFY_SOCKET set (a datagram socket this test
    binds, as systemd does), serve sends READY=1 once it listens,
    RELOADING=1 then READY=1 around a SIGHUP, and STOPPING=1 on SIGTERM."""
    import signal
    import socket
    from sgtest import Daemon

    tmp = tempfile.mkdtemp(prefix="sg-notify-")
    path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    d = Daemon("notify")
    d.env = {"NOTIFY_SOCKET": path}
    try:
        d.start()

        def expect(word):
            while True:
                msg = sock.recv(4096).decode()
                if word in msg.split("\n"):
                    return msg
        assert "STATUS=serving" in expect("READY=1")
        d.proc.send_signal(signal.SIGHUP)
        expect("RELOADING=1")
        expect("READY=1")
        d.proc.send_signal(signal.SIGTERM)
        expect("STOPPING=1")
        rc, _ = d.stop()
        assert rc == 0, rc
    finally:
        sock.close()
        shutil.rmtree(tmp, ignore_errors=True)
        d.cleanup()


def teardown(_):
    if ROOT is not None and os.environ.get("SG_KEEP_TMP") is None:
        shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    setup()
    run(teardown=teardown)
