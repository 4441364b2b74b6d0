"""Operations: privileges. serve started as root binds, then runs as
[gateway] user for good (uid, gid, groups, no dumpable core); it refuses to
run as root without a user; init as root hands the data directory over.
The test user is made here with useradd --system."""
import os
import pwd
import re
import subprocess
import time

from sgimap import PASSWORD, add_user, imaps, message, append
from sgtest import BIN, Daemon
from tap import run, test

TEST_USER = "sgtest-ops"
D = None


def ensure_user():
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", TEST_USER], check=True)
        return pwd.getpwnam(TEST_USER)


def proc_ids(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def setup():
    global D
    pw = ensure_user()
    D = Daemon("ops-privs", conf={"gateway": {"user": TEST_USER}}, init=False)
    # The temporary folder is root's (0700): the user must reach data_dir.
    os.chmod(D.dir, 0o755)
    r = D.cli("init", check=True)
    assert f"owned by {TEST_USER}" in r.stdout, r.stdout
    return pw


@test
def init_as_root_hands_the_data_dir_to_the_user(pw):
    for root, dirs, files in os.walk(D.data):
        for name in dirs + files + ["."]:
            st = os.lstat(os.path.join(root, name))
            assert (st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid), (root, name, st)


@test
def serve_runs_as_the_user_after_binding(pw):
    add_user(D, "alice@ext.test")
    D.start()
    pid = D.proc.pid
    uids, gids = proc_ids(pid, "Uid"), proc_ids(pid, "Gid")
    assert uids == [pw.pw_uid] * 4, uids          # real, effective, saved, fs
    assert gids == [pw.pw_gid] * 4, gids
    groups = proc_ids(pid, "Groups")
    assert 0 not in groups, groups
    # Every thread (workers, the store's writer) dropped too.
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            text = f.read()
        assert re.search(rf"^Uid:\s+{pw.pw_uid}\s+{pw.pw_uid}\s+{pw.pw_uid}", text, re.M), tid
    # Capabilities gone (a non-root uid after setresuid keeps none).
    with open(f"/proc/{pid}/status") as f:
        caps = dict(line.split(":\t") for line in f if line.startswith("Cap"))
    assert int(caps["CapEff"], 16) == 0 and int(caps["CapPrm"], 16) == 0, caps
    log = D.log_text()
    assert f"event=privileges_dropped user={TEST_USER}" in log, log
    # Bound the ports before the drop: the listeners work.
    m = imaps(D, "alice@ext.test")
    uid = append(m, "INBOX", message(subject="after the drop"))
    assert uid is not None
    m.logout()


@test
def serve_is_not_dumpable(pw):
    # A non-dumpable process's /proc files belong to root, not to its user.
    st = os.stat(f"/proc/{D.proc.pid}/environ")
    assert st.st_uid == 0, st


@test
def a_second_serve_on_the_same_data_dir_is_refused(pw):
    r = subprocess.run([BIN, "-c", D.conf, "serve"], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode != 0
    assert "another sealgate serve uses this data_dir" in r.stderr + r.stdout, r.stderr
    rc, _ = D.stop()
    assert rc == 0


@test
def serve_as_root_without_user_is_refused(pw):
    d = Daemon("ops-root")
    try:
        env = {k: v for k, v in os.environ.items()
               if k not in ("SEALGATE_ALLOW_ROOT", "SEALGATE_BUILD")}
        r = subprocess.run([BIN, "-c", d.conf, "serve"], capture_output=True, text=True,
                           timeout=20, env=env)
        assert r.returncode != 0, r
        assert "refusing to run as root without [gateway] user" in r.stderr, r.stderr
        assert "event=listen" not in r.stderr, "bound before refusing"
    finally:
        d.cleanup()


@test
def serve_as_another_unprivileged_user_is_refused(pw):
    # Started as nobody with user = sgtest-ops: cannot switch, so says so.
    nobody = pwd.getpwnam("nobody")
    r = subprocess.run([BIN, "-c", D.conf, "serve"], capture_output=True, text=True,
                       timeout=20, user=nobody.pw_uid, group=nobody.pw_gid,
                       extra_groups=[])
    assert r.returncode != 0
    assert "cannot switch" in r.stderr, r.stderr


def teardown(_):
    if D is not None:
        D.cleanup()


if __name__ == "__main__":
    run(setup, teardown)
