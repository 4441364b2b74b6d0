"""Talk to a test daemon's portal (HTTPS) and make invitations.

Portal(d).get("/setup") returns a Resp with .status, .headers (an
http.client.HTTPMessage) and .body (bytes); .text and .json() decode it.
invite(d, "bob@ext.test") runs `sealgate invite --json` and returns its
answer (address, url, token, expires, queued).
"""
import http.client
import json
import os
import time
import urllib.parse

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'",
    "Strict-Transport-Security": "max-age=",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Resp {self.status} {self.body[:300]!r}>"


class Portal:
    """source: a loopback address to connect from ("127.0.0.9"), so that a
    test has its own POST limit and authentication throttle."""

    def __init__(self, daemon, timeout=60, source=None):
        self.d = daemon
        self.ctx = daemon.ssl_context()
        self.timeout = timeout
        self.source = (source, 0) if source else None

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPSConnection("localhost", self.d.portal_port, context=self.ctx,
                                        timeout=self.timeout, source_address=self.source)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return Resp(r.status, r.headers, r.read())
        finally:
            c.close()

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post_form(self, path, fields):
        body = urllib.parse.urlencode(fields)
        return self.request("POST", path, body=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})

    def post_json(self, path, obj, raw=None, content_type="application/json"):
        body = raw if raw is not None else json.dumps(obj)
        return self.request("POST", path, body=body, headers={"Content-Type": content_type})

    def timed(self, fn, *args, **kw):
        t0 = time.monotonic()
        r = fn(*args, **kw)
        return r, time.monotonic() - t0


def check_security_headers(resp):
    for name, needle in SECURITY_HEADERS.items():
        v = resp.headers.get(name)
        assert v is not None and needle in v, (name, v, resp)


def invite(daemon, address):
    r = daemon.cli("invite", address, "--json", check=True)
    out = json.loads(r.stdout)
    out["token"] = out["url"].rsplit("/", 1)[1]
    out["path"] = urllib.parse.urlparse(out["url"]).path
    return out


def outbox_links(daemon, address=None, timeout=10.0):
    """Enrollment links in data_dir/outbox/*.eml (the queue runner writes
    them when [relay] host is empty), newest last; waits for at least one."""
    import email
    import email.policy
    import re
    deadline = time.monotonic() + timeout
    box = os.path.join(daemon.data, "outbox")
    rx = re.compile(r"^(https://\S+/enroll/[A-Za-z0-9_-]{43})\s*$", re.M)
    while True:
        links = []
        names = sorted(os.listdir(box), key=lambda n: os.path.getmtime(os.path.join(box, n))) \
            if os.path.isdir(box) else []
        for name in names:
            with open(os.path.join(box, name), "rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.default)
            if address and address.lower() not in str(msg.get("To", "")).lower():
                continue
            part = msg.get_body(preferencelist=("plain",))
            if part is None:
                continue
            links += rx.findall(part.get_content())
        if links or time.monotonic() > deadline:
            return links
        time.sleep(0.1)
