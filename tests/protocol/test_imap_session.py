"""IMAP: states, TLS-only login, AUTHENTICATE PLAIN, capabilities, ID,
ENABLE, NAMESPACE, mailboxes (LIST with special-use and LIST-EXTENDED,
CREATE/RENAME/DELETE hierarchies, SUBSCRIBE, STATUS) and bad input."""
import imaplib
import re

from sgimap import PASSWORD, Raw, add_user, imap_starttls, imaps
from sgtest import Daemon
from tap import run, test

USER = "alice@ext.test"
D = None


def setup():
    global D
    D = Daemon("imapsess").start()
    add_user(D, USER)


@test
def login_is_refused_before_tls():
    m = imaplib.IMAP4("127.0.0.1", D.imap_port, timeout=10)
    assert "LOGINDISABLED" in m.capabilities and "AUTH=PLAIN" not in m.capabilities
    try:
        m.login(USER, PASSWORD)
        raise AssertionError("login succeeded without TLS")
    except imaplib.IMAP4.error as e:
        assert "PRIVACYREQUIRED" in str(e), e
    m.logout()


@test
def login_after_starttls_shows_post_login_capabilities():
    m = imap_starttls(D)
    typ, data = m.login(USER, PASSWORD)
    assert typ == "OK" and b"[CAPABILITY IMAP4rev1" in data[0], data
    for cap in (b"IDLE", b"UIDPLUS", b"MOVE", b"SPECIAL-USE", b"CONDSTORE", b"ESEARCH",
                b"LIST-STATUS", b"NAMESPACE", b"APPENDLIMIT=52428800", b"LITERAL+"):
        assert cap in data[0], cap
    m.logout()


@test
def wrong_password_fails_and_session_goes_on():
    r = Raw(D)
    _, tagged = r.cmd(f'LOGIN "{USER}" "nope"')
    assert b"NO [AUTHENTICATIONFAILED]" in tagged, tagged
    _, tagged = r.cmd(f'LOGIN "nobody@ext.test" "nope"')
    assert b"NO [AUTHENTICATIONFAILED]" in tagged, tagged
    r.login(USER)
    r.close()


@test
def authenticate_plain_with_and_without_initial_response():
    import base64
    cred = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    r = Raw(D)
    _, tagged = r.cmd(f"AUTHENTICATE PLAIN {cred}")
    assert b"OK [CAPABILITY" in tagged, tagged
    r.close()
    r = Raw(D)
    r.send(b"a1 AUTHENTICATE PLAIN\r\n")
    assert r.line().startswith(b"+"), "no continuation"
    r.send(cred.encode() + b"\r\n")
    assert r.line().startswith(b"a1 OK"), "continuation login failed"
    r.close()
    m = imaps(D)
    m.authenticate("PLAIN", lambda _: f"\0{USER}\0{PASSWORD}".encode())
    m.logout()


@test
def capability_id_namespace_enable():
    r = Raw(D)
    assert r.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1"), r.greeting
    lines, tagged = r.cmd('ID ("name" "Thunderbird" "version" "128.0")')
    assert lines[0].startswith(b'* ID ("name" "sealgate"'), lines
    r.login(USER)
    lines, tagged = r.cmd("NAMESPACE")
    assert lines == [b'* NAMESPACE (("" "/")) NIL NIL\r\n'], lines
    lines, tagged = r.cmd("ENABLE CONDSTORE")
    assert lines == [b"* ENABLED CONDSTORE\r\n"], lines
    r.close()


@test
def commands_in_the_wrong_state_are_refused():
    r = Raw(D)
    _, tagged = r.cmd("SELECT INBOX")
    assert b" NO " in tagged or b" BAD " in tagged, tagged
    r.login(USER)
    _, tagged = r.cmd("FETCH 1 FLAGS")
    assert b"BAD No mailbox selected" in tagged, tagged
    _, tagged = r.cmd(f'LOGIN "{USER}" "{PASSWORD}"')
    assert b"BAD" in tagged, tagged
    r.close()


@test
def malformed_commands_get_bad_and_the_session_goes_on():
    r = Raw(D)
    r.login(USER)
    for bad in ("FROB", "SELECT", 'LIST "" "*" extra junk', "FETCH x:y (FLAGS)",
                "UID FETCH 1:* (BODY[HEADER.FIELDS From])", "STORE 1 +FLAGS (\\Bogus"):
        _, tagged = r.cmd(bad)
        assert b" BAD " in tagged, (bad, tagged)
    lines, tagged = r.cmd("NOOP")
    assert b"OK" in tagged
    r.send(b"\r\n")  # an empty line is ignored
    _, tagged = r.cmd("NOOP")
    assert b"OK" in tagged
    r.close()


def list_lines(lines):
    out = {}
    for ln in lines:
        mm = re.match(rb'\* LIST \(([^)]*)\) "/" (.*)\r\n', ln)
        assert mm, ln
        name = mm.group(2).strip(b'"').decode()
        out[name] = set(mm.group(1).decode().split())
    return out


@test
def list_shows_special_use_on_plain_list():
    r = Raw(D)
    r.login(USER)
    lines, tagged = r.cmd('LIST "" "*"')
    got = list_lines(lines)
    for name, attr in (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
                       ("Junk", "\\Junk"), ("Archive", "\\Archive")):
        assert attr in got[name], (name, got)
    assert "INBOX" in got and "\\HasNoChildren" in got["INBOX"]
    lines, _ = r.cmd('LIST "" ""')
    assert lines == [b'* LIST (\\Noselect) "/" ""\r\n'], lines
    lines, _ = r.cmd('LIST (SPECIAL-USE) "" "*"')
    assert set(list_lines(lines)) == {"Sent", "Drafts", "Trash", "Junk", "Archive"}
    lines, _ = r.cmd('LIST "" "*" RETURN (SPECIAL-USE SUBSCRIBED)')
    assert "\\Subscribed" in list_lines(lines)["Sent"]
    lines, _ = r.cmd('LIST "" "inbox"')
    assert list(list_lines(lines)) == ["INBOX"], lines
    r.close()


@test
def create_rename_delete_hierarchy():
    r = Raw(D)
    r.login(USER)
    _, t = r.cmd('CREATE "Projects/2026/Q1"')
    assert b"OK" in t, t
    lines, _ = r.cmd('LIST "" "Projects/%"')
    got = list_lines(lines)
    assert got == {"Projects/2026": {"\\HasChildren"}}, got
    lines, _ = r.cmd('LIST "" "Projects*"')
    assert set(list_lines(lines)) == {"Projects", "Projects/2026", "Projects/2026/Q1"}
    _, t = r.cmd('CREATE "Projects"')
    assert b"NO [ALREADYEXISTS]" in t, t
    _, t = r.cmd('DELETE "Projects"')
    assert b"NO" in t, t
    _, t = r.cmd('RENAME "Projects" "Work"')
    assert b"OK" in t, t
    lines, _ = r.cmd('LIST "" "Work*"')
    assert set(list_lines(lines)) == {"Work", "Work/2026", "Work/2026/Q1"}
    lines, _ = r.cmd('LIST "" "Projects*"')
    assert lines == []
    for name in ("Work/2026/Q1", "Work/2026", "Work"):
        _, t = r.cmd(f'DELETE "{name}"')
        assert b"OK" in t, (name, t)
    _, t = r.cmd('DELETE "INBOX"')
    assert b"NO" in t
    _, t = r.cmd('DELETE "NoSuch"')
    assert b"NO [NONEXISTENT]" in t, t
    r.close()


@test
def mailbox_names_travel_in_modified_utf7():
    r = Raw(D)
    r.login(USER)
    _, t = r.cmd('CREATE "R&AOk-sum&AOk-"')  # "Résumé"
    assert b"OK" in t, t
    lines, _ = r.cmd('LIST "" "R*"')
    assert b'"R&AOk-sum&AOk-"' in lines[0], lines
    _, t = r.cmd('CREATE "Bad&Name"')
    assert b"NO" in t or b"BAD" in t, t
    r.cmd('DELETE "R&AOk-sum&AOk-"')
    r.close()


@test
def uidvalidity_is_new_for_a_recreated_mailbox():
    r = Raw(D)
    r.login(USER)
    r.cmd("CREATE Tmp")
    lines, _ = r.cmd("STATUS Tmp (UIDVALIDITY)")
    first = int(re.search(rb"UIDVALIDITY (\d+)", lines[0]).group(1))
    r.cmd("DELETE Tmp")
    r.cmd("CREATE Tmp")
    lines, _ = r.cmd("STATUS Tmp (UIDVALIDITY)")
    second = int(re.search(rb"UIDVALIDITY (\d+)", lines[0]).group(1))
    assert second > first, (first, second)
    r.cmd("DELETE Tmp")
    r.close()


@test
def subscribe_lsub_and_create_special_use():
    r = Raw(D)
    r.login(USER)
    _, t = r.cmd('CREATE "Old Mail" (USE (\\Archive))')
    assert b"OK" in t, t
    r.cmd('UNSUBSCRIBE "Old Mail"')
    lines, _ = r.cmd('LSUB "" "*"')
    assert not any(b"Old Mail" in x for x in lines), lines
    r.cmd('SUBSCRIBE "Old Mail"')
    lines, _ = r.cmd('LSUB "" "*"')
    assert any(b"Old Mail" in x for x in lines), lines
    lines, _ = r.cmd('LIST "" "Old*"')
    assert b"\\Archive" in lines[0], lines
    _, t = r.cmd('CREATE "X" (USE (\\Bogus))')
    assert b"NO [USEATTR]" in t, t
    r.cmd('DELETE "Old Mail"')
    r.close()


@test
def status_and_list_status():
    r = Raw(D)
    r.login(USER)
    lines, t = r.cmd("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ RECENT SIZE)")
    assert re.match(rb"\* STATUS \"INBOX\" \(MESSAGES \d+ RECENT 0 UIDNEXT \d+ UIDVALIDITY \d+ "
                    rb"UNSEEN \d+ HIGHESTMODSEQ [1-9]\d* SIZE \d+\)", lines[0]), lines
    lines, t = r.cmd('LIST "" "%" RETURN (STATUS (MESSAGES UNSEEN))')
    assert sum(1 for x in lines if x.startswith(b"* STATUS")) >= 6, lines
    _, t = r.cmd("STATUS NoSuch (MESSAGES)")
    assert b"NO [NONEXISTENT]" in t, t
    r.close()


@test
def logout_says_bye():
    r = Raw(D)
    r.login(USER)
    lines, tagged = r.cmd("LOGOUT")
    assert lines == [b"* BYE Logging out\r\n"] and b"OK" in tagged
    r.close()


@test
def admin_disable_from_another_process_ends_open_sessions():
    import time
    r = Raw(D)
    r.login(USER)
    r.cmd("SELECT INBOX")
    t0 = time.monotonic()
    D.cli("user", "disable", USER, check=True)
    try:
        line = r.line()  # the housekeeping check runs every 10 s
        assert line.startswith(b"* BYE"), line
        assert time.monotonic() - t0 < 15, time.monotonic() - t0
        r2 = Raw(D)
        _, tagged = r2.cmd(f'LOGIN "{USER}" "{PASSWORD}"')
        assert b" NO " in tagged, tagged
        r2.close()
    finally:
        D.cli("user", "enable", USER, check=True)
        r.close()
    m = imaps(D, USER)
    m.logout()


def teardown(_):
    rc, took = D.stop()
    D.cleanup()
    assert rc == 0, rc


if __name__ == "__main__":
    setup()
    run(teardown=teardown)
