"""A private Postfix instance for a test, on loopback, in its own folder.

    pf = Postfix("org", mailbox_domains=["example.com"],
                 transports={"ext.test": f"smtp:[127.0.0.1]:{d.smtp_port}"}).start()
    pf.port                      # its smtpd listener
    pf.mailbox("alice@example.com")   # messages delivered there (bytes, oldest first)
    pf.stop(); pf.cleanup()

As the organization's MTA it relays what its transport map names (any
client on 127.0.0.0/8 may relay). As a relay host it stores mail for
mailbox_domains in Maildir folders (virtual(8), uid of `nobody`) and
refuses recipients of reject_domains with 550 at RCPT. TLS (STARTTLS) is
offered when cert/key are given. Logs go to DIR/postfix.log (no syslog here).
"""
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from sgtest import free_port, wait_port

SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    def __init__(self, name="pf", port=None, mailbox_domains=(), reject_domains=(),
                 transports=None, cert=None, key=None, relayhost=None, extra=None):
        self.dir = tempfile.mkdtemp(prefix=f"pf-{name}-")
        os.chmod(self.dir, 0o755)
        self.name = name
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "lib")
        self.mail = os.path.join(self.dir, "mail")
        self.log_path = os.path.join(self.dir, "postfix.log")
        for p in (self.conf, self.queue, self.data, self.mail):
            os.makedirs(p, exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)
        maps = {}
        vmaps = os.path.join(self.conf, "vmailbox")
        with open(vmaps, "w") as f:
            for dom in mailbox_domains:
                f.write(f"@{dom} {dom}/catchall/\n")
        access = os.path.join(self.conf, "rcpt_access")
        with open(access, "w") as f:
            for dom in reject_domains:
                f.write(f"{dom} 550 5.1.1 no such user here\n")
        transport = os.path.join(self.conf, "transport")
        with open(transport, "w") as f:
            for dom, nexthop in (transports or {}).items():
                f.write(f"{dom} {nexthop}\n")
        main = {
            "compatibility_level": "3.6",
            "config_directory": self.conf,
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": f"{name}.postfix.test",
            "mydomain": "postfix.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": ", ".join(transports or {}),
            "transport_maps": f"texthash:{transport}",
            "virtual_mailbox_domains": ", ".join(mailbox_domains),
            "virtual_mailbox_base": self.mail,
            "virtual_mailbox_maps": f"texthash:{vmaps}",
            "virtual_uid_maps": f"static:{nobody.pw_uid}",
            "virtual_gid_maps": f"static:{nobody.pw_gid}",
            "virtual_minimum_uid": "1",
            "smtpd_recipient_restrictions":
                f"check_recipient_access texthash:{access}, permit_mynetworks, "
                "reject_unauth_destination",
            "maillog_file": self.log_path,
            "maillog_file_prefixes": self.dir,
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            "smtputf8_enable": "yes",
            "smtp_tls_security_level": "may",
            "smtp_dns_support_level": "disabled",
            "disable_dns_lookups": "yes",
            "smtpd_helo_required": "no",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "smtp_connect_timeout": "5s",
            "message_size_limit": "104857600",
            "virtual_mailbox_limit": "0",
            "shlib_directory": "/usr/lib/postfix",
            "daemon_directory": "/usr/lib/postfix/sbin",
            "meta_directory": "/etc/postfix",
        }
        if relayhost:
            main["relayhost"] = relayhost
        if cert:
            main.update({"smtpd_tls_cert_file": cert, "smtpd_tls_key_file": key,
                         "smtpd_tls_security_level": "may"})
        main.update(extra or {})
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write(f"{k} = {v}\n")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(f"127.0.0.1:{self.port} inet n - n - - smtpd\n")
            f.write(SERVICES)
        self.started = False

    def postfix(self, *args, check=True):
        r = subprocess.run(["postfix", "-c", self.conf, *args], capture_output=True, text=True,
                           timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"postfix {' '.join(args)}: {r.stdout}{r.stderr}\n"
                                 f"{self.log_text()[-3000:]}")
        return r

    def start(self):
        self.postfix("set-permissions", check=False)
        self.postfix("check")
        self.postfix("start")
        self.started = True
        wait_port(self.port, timeout=20)
        return self

    def stop(self):
        if self.started:
            self.postfix("stop", check=False)
            # the master exits on its own; wait for the pid file to go
            pid = os.path.join(self.queue, "pid", "master.pid")
            deadline = time.monotonic() + 10
            while os.path.exists(pid) and time.monotonic() < deadline:
                try:
                    with open(pid) as f:
                        os.kill(int(f.read().strip()), 0)
                except (OSError, ValueError):
                    break
                time.sleep(0.05)
            self.started = False

    def flush(self):
        self.postfix("flush", check=False)

    def cleanup(self):
        self.stop()
        if os.environ.get("SG_KEEP_TMP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def mailbox(self, domain):
        """Messages delivered to the catch-all Maildir of a domain, oldest first."""
        files = glob.glob(os.path.join(self.mail, domain, "catchall", "new", "*")) + \
            glob.glob(os.path.join(self.mail, domain, "catchall", "cur", "*"))
        out = []
        for p in sorted(files, key=os.path.getmtime):
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def wait_mail(self, domain, count=1, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.mailbox(domain)
            if len(got) >= count:
                return got
            time.sleep(0.1)
        raise TimeoutError(f"{len(self.mailbox(domain))} of {count} messages for {domain} "
                           f"at {self.name}:\n{self.log_text()[-3000:]}")

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class Sink:
    """Postfix's smtp-sink: accepts (or refuses) everything, dumps messages to files."""

    def __init__(self, port=None, args=()):
        self.dir = tempfile.mkdtemp(prefix="sink-")
        os.chmod(self.dir, 0o777)
        self.port = port or free_port()
        self.args = list(args)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["smtp-sink", "-u", "nobody", "-d", os.path.join(self.dir, "%M."), *self.args,
             f"127.0.0.1:{self.port}", "64"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def messages(self):
        out = []
        for p in sorted(glob.glob(os.path.join(self.dir, "*")), key=os.path.getmtime):
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
