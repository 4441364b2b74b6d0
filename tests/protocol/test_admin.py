"""Admin commands against a running daemon: invite, user
list|show|disable|enable|reset|delete|add, queue list|flush|delete, stats;
each with --json, clear errors and exit codes (1 usage or not found, 2 store
error). The daemon keeps serving while they run (LMDB, several processes)."""
import imaplib
import json
import os
import re
import shutil
import socket
import ssl
import time

from sgportal import Portal, invite, outbox_links
from sgtest import Daemon, free_port
from tap import run, test

PW = "violet kettle sunrise 42"


def setup():
    d = Daemon("admin", conf={"policy": {"internal_domains": "example.com, .corp.example"}})
    d.start()
    # a second daemon whose relay never answers: its queue keeps entries
    dead = free_port()
    q = Daemon("adminq", conf={"relay": {"host": "127.0.0.1", "port": str(dead)}}).start()
    return {"d": d, "q": q, "ip": 20}


def teardown(ctx):
    for name in ("d", "q"):
        rc, _ = ctx[name].stop()
        ctx[name].cleanup()
        assert rc == 0, (name, rc)


def portal(ctx):
    ctx["ip"] += 1
    return Portal(ctx["d"], source=f"127.0.0.{ctx['ip']}")


def cli_json(d, *args):
    r = d.cli(*args, "--json")
    assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout)


def enroll(ctx, inv, pw=PW):
    r = portal(ctx).post_json("/api/v1/enroll", {"token": inv["token"], "password": pw})
    assert r.status == 200, r


def imap(d, user, pw):
    c = ssl.create_default_context(cafile=d.cert)
    m = imaplib.IMAP4_SSL("localhost", d.imaps_port, ssl_context=c)
    m.login(user, pw)
    return m


def imap_refused(d, user, pw):
    try:
        imap(d, user, pw).logout()
    except imaplib.IMAP4.error:
        return True
    return False


@test
def usage_errors_exit_1(ctx):
    d = ctx["d"]
    for args in (("user",), ("user", "bogus"), ("user", "show"), ("user", "list", "extra"),
                 ("user", "list", "--bogus"), ("user", "reset", "a@b", "--recovery-key"),
                 ("user", "add", "a@ext.test"), ("queue",), ("queue", "delete"),
                 ("queue", "delete", "abc"), ("queue", "delete", "-1"), ("queue", "list", "x"),
                 ("stats", "extra"), ("invite",), ("invite", "a@ext.test", "b@ext.test"),
                 ("invite", "not-an-address"), ("invite", "boss@example.com"),
                 ("invite", "ceo@x.corp.example")):
        r = d.cli(*args)
        assert r.returncode == 1, (args, r.returncode, r.stdout, r.stderr)
        assert r.stderr.strip(), args
        assert r.stdout == "", (args, r.stdout)
    assert "usage: sealgate user list" in d.cli("user").stderr
    assert "internal domain" in d.cli("invite", "boss@example.com").stderr


@test
def not_found_exits_1(ctx):
    d = ctx["d"]
    for verb in ("show", "disable", "enable", "delete", "reset"):
        r = d.cli("user", verb, "ghost@ext.test")
        assert r.returncode == 1 and "no such account" in r.stderr, (verb, r.stderr)
    r = ctx["q"].cli("queue", "delete", "999999")
    assert r.returncode == 1 and "no queue entry" in r.stderr, r.stderr


@test
def store_error_exits_2(ctx):
    d = Daemon("adminbad", init=False)
    try:
        for args in (("user", "list"), ("stats",), ("queue", "list"), ("invite", "a@ext.test")):
            r = d.cli(*args)
            assert r.returncode == 2, (args, r.returncode, r.stderr)
            assert r.stderr.startswith("sealgate: "), r.stderr
    finally:
        d.cleanup()


@test
def invite_queues_the_mail_and_prints_a_working_link(ctx):
    d = ctx["d"]
    r = d.cli("invite", "Alice.Outside@ext.test")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "alice.outside@ext.test invited; invitation queued", lines
    assert re.fullmatch(rf"https://localhost:{d.portal_port}/enroll/[A-Za-z0-9_-]{{43}}",
                        lines[1]), lines
    path = lines[1].split(str(d.portal_port), 1)[1]
    assert portal(ctx).get(path).status == 200
    # the daemon's queue runner delivers it to the outbox within a second or two
    links = outbox_links(d, "alice.outside@ext.test")
    assert links == [lines[1]], links
    assert lines[1].rsplit("/", 1)[1] not in d.log_text()


@test
def invite_again_reissues_keeping_the_key(ctx):
    d = ctx["d"]
    first = invite(d, "bob@ext.test")
    assert first["reissued"] is False and first["state"] == "invited", first
    assert first["queued"] > 0 and first["expires"].endswith("Z")
    again = invite(d, "bob@ext.test")
    assert again["reissued"] is True and again["token"] != first["token"], again
    p = portal(ctx)
    assert p.get(first["path"]).status == 410
    assert p.get(again["path"]).status == 200
    enroll(ctx, again)
    r = d.cli("invite", "bob@ext.test")
    assert r.returncode == 1 and "user reset" in r.stderr, r.stderr


@test
def user_list_and_show(ctx):
    d = ctx["d"]
    invite(d, "carol@ext.test")
    r = d.cli("user", "list")
    assert r.returncode == 0 and r.stdout.startswith("ADDRESS"), r
    assert re.search(r"^carol@ext\.test\s+invited\s", r.stdout, re.M), r.stdout
    assert re.search(r"^bob@ext\.test\s+active\s", r.stdout, re.M), r.stdout
    users = {u["address"]: u for u in cli_json(d, "user", "list")}
    assert users["carol@ext.test"]["state"] == "invited"
    assert users["bob@ext.test"]["state"] == "active" and users["bob@ext.test"]["enrolled"]
    r = d.cli("user", "show", "BOB@ext.test")
    assert r.returncode == 0 and "state:          active" in r.stdout, r.stdout
    assert "INBOX" in r.stdout and "enrolled" in r.stdout, r.stdout
    show = cli_json(d, "user", "show", "bob@ext.test")
    names = [m["name"] for m in show["mailboxes"]]
    assert "INBOX" in names and "Sent" in names and "Trash" in names, names
    assert show["has_password"] is True and show["has_recovery"] is True
    assert [a["event"] for a in show["audit"]][-1] == "enrolled", show["audit"]


@test
def disable_and_enable_take_effect_in_the_running_daemon(ctx):
    d = ctx["d"]
    enroll(ctx, invite(d, "dora@ext.test"))
    imap(d, "dora@ext.test", PW).logout()
    assert cli_json(d, "user", "disable", "dora@ext.test") == \
        {"address": "dora@ext.test", "state": "disabled"}
    assert imap_refused(d, "dora@ext.test", PW)
    r = d.cli("user", "enable", "dora@ext.test")
    assert r.returncode == 0 and r.stdout == "dora@ext.test active\n", r
    imap(d, "dora@ext.test", PW).logout()
    r = d.cli("user", "enable", "carol@ext.test")
    assert r.returncode == 1 and "enrolling" in r.stderr, r.stderr


def append_one(d, user, pw, subject):
    m = imap(d, user, pw)
    msg = f"From: a@example.com\r\nTo: {user}\r\nSubject: {subject}\r\n\r\nbody\r\n"
    typ, data = m.append("INBOX", None, None, msg.encode())
    assert typ == "OK", data
    m.logout()


def inbox_subjects(d, user, pw):
    m = imap(d, user, pw)
    m.select("INBOX")
    typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    m.logout()
    if typ != "OK" or data == [None]:
        return []
    return [part[1].decode().strip() for part in data if isinstance(part, tuple)]


@test
def reset_with_the_recovery_key_keeps_mail(ctx):
    d = ctx["d"]
    enroll(ctx, invite(d, "erin@ext.test"))
    append_one(d, "erin@ext.test", PW, "kept")
    out = cli_json(d, "user", "reset", "erin@ext.test")
    assert out["state"] == "invited" and out["kept_mail"] is True, out
    assert imap_refused(d, "erin@ext.test", PW)
    tok = out["url"].rsplit("/", 1)[1]
    enroll(ctx, {"token": tok}, pw="second password here 9")
    assert inbox_subjects(d, "erin@ext.test", "second password here 9") == ["Subject: kept"]
    assert any(a["event"] == "account_reset" for a in
               cli_json(d, "user", "show", "erin@ext.test")["audit"])


@test
def reset_without_the_recovery_key_needs_a_choice(ctx):
    d = ctx["d"]
    enroll(ctx, invite(d, "fred@ext.test"))
    append_one(d, "fred@ext.test", PW, "before")
    key = os.path.join(d.data, "recovery.key")
    offline = os.path.join(d.dir, "recovery.key.offline")
    shutil.move(key, offline)
    try:
        r = d.cli("user", "reset", "fred@ext.test")
        assert r.returncode == 1 and "--recovery-key" in r.stderr and "--new-key" in r.stderr, r
        assert not imap_refused(d, "fred@ext.test", PW)  # nothing changed
        r = d.cli("user", "reset", "fred@ext.test", "--recovery-key", offline, "--new-key")
        assert r.returncode == 1, r
        r = d.cli("user", "reset", "fred@ext.test", "--recovery-key", "/nonexistent")
        assert r.returncode == 1, r
        r = d.cli("user", "reset", "fred@ext.test", "--recovery-key", offline)
        assert r.returncode == 0 and "key and mail kept" in r.stdout, (r.stdout, r.stderr)
        enroll(ctx, {"token": r.stdout.split()[-1].rsplit("/", 1)[1]}, pw="third password x 42")
        assert inbox_subjects(d, "fred@ext.test", "third password x 42") == ["Subject: before"]
        out = cli_json(d, "user", "reset", "fred@ext.test", "--new-key")
        assert out["kept_mail"] is False, out
        enroll(ctx, {"token": out["url"].rsplit("/", 1)[1]}, pw="fourth password y 42")
        assert inbox_subjects(d, "fred@ext.test", "fourth password y 42") == []
    finally:
        shutil.move(offline, key)


@test
def delete_removes_the_account(ctx):
    d = ctx["d"]
    enroll(ctx, invite(d, "gone@ext.test"))
    r = d.cli("user", "delete", "gone@ext.test")
    assert r.returncode == 0 and r.stdout == "gone@ext.test deleted\n", r
    assert imap_refused(d, "gone@ext.test", PW)
    assert d.cli("user", "show", "gone@ext.test").returncode == 1
    assert d.cli("user", "delete", "gone@ext.test").returncode == 1


@test
def user_add_reads_the_password_from_stdin(ctx):
    d = ctx["d"]
    r = d.cli("user", "add", "hank@ext.test", "--password-stdin", "--json", input=PW + "\n")
    assert r.returncode == 0 and json.loads(r.stdout) == {"address": "hank@ext.test",
                                                          "state": "active"}, r
    imap(d, "hank@ext.test", PW).logout()
    r = d.cli("user", "add", "hank@ext.test", "--password-stdin", input=PW + "\n")
    assert r.returncode == 1 and "already" in r.stderr, r
    r = d.cli("user", "add", "ivy@ext.test", "--password-stdin", input="")
    assert r.returncode == 1, r


@test
def stats_count_what_list_shows(ctx):
    d = ctx["d"]
    users = cli_json(d, "user", "list")
    s = cli_json(d, "stats")
    for state in ("invited", "active", "disabled"):
        assert s["accounts"][state] == sum(u["state"] == state for u in users), (state, s)
    assert s["messages"] >= 1 and s["bytes"] > 0 and s["map_size"] > 0, s
    r = d.cli("stats")
    assert r.returncode == 0 and re.search(r"^users active:\s+\d+$", r.stdout, re.M), r.stdout
    assert re.search(r"^queue depth:\s+\d+$", r.stdout, re.M), r.stdout


def wait_attempted(q, n, timeout=15.0):
    """Entries whose first delivery attempt failed (the relay is dead)."""
    deadline = time.monotonic() + timeout
    while True:
        entries = cli_json(q, "queue", "list")
        if len(entries) >= n and (all(e["attempts"] >= 1 for e in entries) or
                                  time.monotonic() > deadline):
            return entries
        if time.monotonic() > deadline:
            return entries
        time.sleep(0.2)


@test
def queue_list_flush_delete(ctx):
    q = ctx["q"]
    invite(q, "q1@ext.test")
    invite(q, "q2@ext.test")
    entries = wait_attempted(q, 2)
    assert len(entries) == 2, entries
    for e in entries:
        assert e["kind"] == "invitation" and e["from"] == "" and e["size"] > 0, e
    assert sorted(r for e in entries for r in e["recipients"]) == ["q1@ext.test", "q2@ext.test"]
    r = q.cli("queue", "list")
    assert r.returncode == 0 and r.stdout.startswith("ID"), r
    assert "invitation <> -> <q1@ext.test>" in r.stdout or \
        "invitation <> -> <q2@ext.test>" in r.stdout, r.stdout
    assert "/enroll/" not in r.stdout  # the message (and its token) is never shown
    out = cli_json(q, "queue", "flush")
    assert out["flushed"] == 2, out
    # due now: the runner (polling every second) tries again at once instead
    # of after [relay] retry_initial (a minute)
    deadline = time.monotonic() + 10
    while True:
        again = cli_json(q, "queue", "list")
        if all(e["attempts"] >= 2 for e in again) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [e["attempts"] >= 2 for e in again] == [True, True], again
    victim = entries[0]["id"]
    r = q.cli("queue", "delete", str(victim))
    assert r.returncode == 0 and r.stdout == f"{victim} deleted\n", r
    left = [e["id"] for e in cli_json(q, "queue", "list")]
    assert victim not in left and len(left) == 1, left
    assert cli_json(q, "queue", "delete", str(left[0])) == {"deleted": left[0]}
    assert cli_json(q, "queue", "list") == []
    assert cli_json(q, "stats")["queue"] == 0
    r = q.cli("queue", "flush")
    assert r.returncode == 0 and r.stdout == "0 entries due now\n", r


@test
def daemon_kept_serving(ctx):
    for name in ("d", "q"):
        d = ctx[name]
        assert d.proc.poll() is None, name
        assert Portal(d, source="127.0.0.99").get("/healthz").status == 200
        with socket.create_connection(("127.0.0.1", d.imap_port), timeout=5) as s:
            assert s.recv(100).startswith(b"* OK")


if __name__ == "__main__":
    run(setup, teardown)
