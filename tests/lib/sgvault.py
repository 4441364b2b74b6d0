"""The vault as the SMTP tests see it, through tests/unit/smtp/smtp_vault_tool
(the store API; no portal or IMAP needed): enroll a token, read and decrypt
an INBOX, count accounts, blobs and queue entries; and the outbox files.
"""
import email
import email.policy
import glob
import os
import re
import subprocess
import tempfile
import time

from sgtest import BIN

BUILD = os.environ.get("SEALGATE_BUILD", os.path.dirname(BIN))
TOOL = os.path.join(BUILD, "tests", "unit", "smtp", "smtp_vault_tool")
PASSWORD = "correct horse battery staple"
LINK = re.compile(r"^(https://\S+)/enroll/([A-Za-z0-9_-]{43})\r?$", re.M)


def tool(data_dir, *args, check=True):
    r = subprocess.run([TOOL, data_dir, *args], capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"smtp_vault_tool {' '.join(args[:1])}: {r.returncode} "
                             f"{r.stdout}{r.stderr}")
    return r


def kv(line):
    return dict(x.split("=", 1) for x in line.split())


def stats(d):
    return {k: int(v) for k, v in kv(tool(d.data, "stats").stdout.strip()).items()}


def account(d, address):
    return kv(tool(d.data, "account", address).stdout.strip())


def queue(d):
    return [kv(x) for x in tool(d.data, "queue").stdout.splitlines() if x.strip()]


def enroll(d, token, password=PASSWORD):
    return kv(tool(d.data, "enroll", token, password).stdout.strip())


def read_inbox(d, address, password=PASSWORD):
    """[(info dict, message bytes)] for the INBOX, in UID order."""
    out = tempfile.mkdtemp(prefix="sgread-")
    r = tool(d.data, "read", address, password, out)
    msgs = []
    for line in r.stdout.splitlines():
        if line.startswith("uid="):
            info = kv(line)
            with open(os.path.join(out, f"{info['uid']}.eml"), "rb") as f:
                msgs.append((info, f.read()))
    for p in glob.glob(os.path.join(out, "*")):
        os.unlink(p)
    os.rmdir(out)
    return msgs


def outbox(d):
    """Outbox mails (bytes), by queue id order."""
    files = glob.glob(os.path.join(d.data, "outbox", "*.eml"))
    files.sort(key=lambda p: int(os.path.basename(p)[:-4]))
    out = []
    for p in files:
        with open(p, "rb") as f:
            out.append(f.read())
    return out


def wait_outbox(d, count, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = outbox(d)
        if len(got) >= count:
            return got
        time.sleep(0.05)
    raise TimeoutError(f"{len(outbox(d))} of {count} outbox mails:\n{d.log_text()[-3000:]}")


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def text_part(raw):
    msg = parse(raw)
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def token_of(raw):
    """The enrollment token of an invitation: the link on a line of its own."""
    m = LINK.search(text_part(raw))
    assert m, text_part(raw)
    return m.group(2)


def invitations_for(d, address):
    return [m for m in outbox(d) if parse(m).get("X-Sealgate") == "invitation" and
            address in parse(m).get("To", "")]


def wait_invitation(d, address, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = invitations_for(d, address)
        if got:
            return got[0]
        time.sleep(0.05)
    raise TimeoutError(f"no invitation for {address}:\n{d.log_text()[-3000:]}")


def enqueue(d, sender, rcpts, msg, envid=None, ret=None):
    """Queue a mail as submission will: rcpts are addresses or (addr, notify, orcpt)."""
    spec = []
    for r in rcpts:
        if isinstance(r, str):
            spec.append(r)
        else:
            addr, notify, orcpt = (tuple(r) + (None, None))[:3]
            spec.append(addr + (f":{notify or 0}" if notify or orcpt else "") +
                        (f":{orcpt}" if orcpt else ""))
    fd, path = tempfile.mkstemp(prefix="sgq-")
    with os.fdopen(fd, "wb") as f:
        f.write(msg)
    try:
        args = ["enqueue", sender, ",".join(spec), path]
        if envid or ret:
            args.append(envid or "")
        if ret:
            args.append(ret)
        return kv(tool(d.data, *args).stdout.strip())
    finally:
        os.unlink(path)
