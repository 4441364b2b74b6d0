"""End to end, as the recipient lives it: the organization's MTA sends a
message on the inbound SMTP port; the invitation lands in the outbox; a
person opens its link in a real browser (Debian's chromium, headless, driven
by playwright-core: tests/browser/enroll.js), types a password twice, sees
the setup page; then their mail app logs in over IMAP with that password and
finds the message. Nothing else is needed: only the link and the password.

Screenshots of the enrollment and setup pages go to the build's test log
folder (testlogs/screenshots/) on every run, and to tests/browser/screenshots/
when SG_UPDATE_SCREENSHOTS=1 (those are committed as evidence).

Where inbound ingest does not accept mail yet, the invitation comes from
`sealgate invite` instead (same mail, same outbox)."""
import imaplib
import json
import os
import shutil
import smtplib
import ssl
import subprocess

from sgportal import invite, outbox_links
from sgtest import SRC, Daemon
from tap import run, test

BROWSER_DIR = os.path.join(SRC, "tests", "browser")
PASSWORD = "orchard velvet compass 58"
RECIPIENT = "reader@ext.test"
SUBJECT = "Your contract, securely"


def shots_dir():
    build = os.environ.get("SEALGATE_BUILD", os.path.join(SRC, "build"))
    return os.path.join(build, "testlogs", "screenshots")


def setup():
    d = Daemon("browser", conf={"policy": {"internal_domains": "example.com"}}).start()
    return {"d": d}


def teardown(ctx):
    rc, _ = ctx["d"].stop()
    ctx["d"].cleanup()
    assert rc == 0, rc


def send_inbound(d):
    """The org MTA's message; True if ingest took it (250)."""
    msg = (f"From: Alice Lawyer <alice@example.com>\r\nTo: {RECIPIENT}\r\n"
           f"Subject: {SUBJECT}\r\nMessage-ID: <e2e-1@example.com>\r\n\r\n"
           "Please find the contract terms below.\r\n")
    with smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=30) as s:
        s.ehlo("mta.example.com")
        try:
            s.sendmail("alice@example.com", [RECIPIENT], msg.encode())
            return True
        except smtplib.SMTPException:
            return False


def run_browser(url, out):
    node = shutil.which("node")
    assert node, "node is missing: run scripts/setup --test"
    assert os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")), \
        "tests/browser/node_modules is missing: run scripts/setup --test"
    r = subprocess.run([node, os.path.join(BROWSER_DIR, "enroll.js"), "--url", url,
                        "--password", PASSWORD, "--out", out], capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, f"enroll.js exited {r.returncode}:\n{r.stderr[-3000:]}"
    return json.loads(r.stdout.strip().splitlines()[-1])


@test
def invitation_link_to_imap_login_in_a_browser(ctx):
    d = ctx["d"]
    ingested = send_inbound(d)
    if not ingested:
        invite(d, RECIPIENT)
    links = outbox_links(d, RECIPIENT, timeout=15)
    if not links and not ingested:
        links = [invite(d, RECIPIENT)["url"]]  # no queue runner yet: the printed link
    assert links, "no invitation in the outbox"
    url = links[-1]
    out = shots_dir()
    shutil.rmtree(out, ignore_errors=True)
    seen = run_browser(url, out)
    ctx["seen"], ctx["ingested"] = seen, ingested
    print(f"# invitation from {'inbound SMTP ingest' if ingested else 'sealgate invite'}",
          flush=True)

    assert seen["enrollStatus"] == 200 and seen["enrollHeading"] == "Create your password", seen
    assert "default-src 'none'" in seen["csp"]
    assert "not the same" in seen["errorText"], seen["errorText"]
    assert "/setup?address=reader@ext.test" in seen["setupUrl"], seen["setupUrl"]
    assert seen["setupHeading"] == "You are all set", seen
    assert str(d.imaps_port) in seen["setupText"] and str(d.submission_tls_port) in \
        seen["setupText"], seen["setupText"]
    assert seen["appleLink"] == "/setup/apple.mobileconfig?address=reader@ext.test"
    assert seen["thunderbirdLink"].startswith("/.well-known/autoconfig/mail/config-v1.1.xml")
    assert not seen["phoneOverflow"], "the enrollment page scrolls sideways on a phone"
    assert not seen["failedRequests"], seen["failedRequests"]  # no external asset
    # (the refused mismatch is a 400 page, which chromium notes in its console)
    assert not [c for c in seen["console"] if c.startswith("error") and
                "status of 400" not in c], seen["console"]
    for name in ("enroll.png", "enroll-phone.png", "enroll-error.png", "setup.png"):
        assert os.path.getsize(os.path.join(out, name)) > 10000, name

    # the mail app: only the address and the new password
    c = ssl.create_default_context(cafile=d.cert)
    m = imaplib.IMAP4_SSL("localhost", d.imaps_port, ssl_context=c)
    m.login(RECIPIENT, PASSWORD)
    typ, data = m.select("INBOX")
    assert typ == "OK", data
    if ingested:
        typ, data = m.search(None, "SUBJECT", f'"{SUBJECT}"')
        assert typ == "OK" and data[0].split(), ("message not in INBOX", data)
    m.logout()
    # the link works once
    assert url.rsplit("/", 1)[1] not in d.log_text()


@test
def screenshots_are_kept_as_evidence(ctx):
    out = shots_dir()
    assert os.path.isfile(os.path.join(out, "setup.png")), "no screenshots this run"
    keep = os.path.join(BROWSER_DIR, "screenshots")
    if os.environ.get("SG_UPDATE_SCREENSHOTS") == "1" or not os.path.isdir(keep):
        os.makedirs(keep, exist_ok=True)
        for name in ("enroll.png", "enroll-phone.png", "enroll-error.png", "setup.png"):
            shutil.copy(os.path.join(out, name), os.path.join(keep, name))
    print(f"# screenshots: {out}", flush=True)


if __name__ == "__main__":
    run(setup, teardown)
