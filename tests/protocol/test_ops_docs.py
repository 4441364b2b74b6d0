"""Operations: the man pages keep up with the code. sealgate.conf(5) lists
every key of conf/conf_keys.c with its default (the block doc/gen_conf_keys.py
generates, verbatim), sealgate(8) names every command of gateway/gw_main.c,
and both render without groff warnings."""
import os
import re
import subprocess
import sys
import tempfile

from tap import run, test

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRC, "doc"))
import gen_conf_keys  # noqa: E402


def read(*parts):
    with open(os.path.join(SRC, *parts)) as f:
        return f.read()


@test
def conf_man_page_lists_every_key_with_its_default():
    man = read("doc", "sealgate.conf.5")
    keys = gen_conf_keys.keys()
    assert len(keys) >= 40, len(keys)
    for section, key, typ, default, doc in keys:
        shown = gen_conf_keys.roff(default if default else "(empty)")
        entry = f".B {key}\n({typ}; default: {shown})\n{gen_conf_keys.roff(doc)}.\n"
        sec = man.find(f"\n.SS [{section}]\n")
        end = man.find("\n.SS ", sec + 1)
        assert sec >= 0, section
        assert entry in man[sec:end + 1 if end > 0 else len(man)], \
            f"[{section}] {key} missing or stale: run python3 doc/gen_conf_keys.py --update"


@test
def example_config_is_current_and_loads_as_the_defaults():
    """conf/sealgate.conf shows every key with its default: it is what the
    generator writes, and with every key uncommented check-config prints
    the same effective configuration as the embedded default."""
    assert read("conf", "sealgate.conf") == gen_conf_keys.example(), \
        "conf/sealgate.conf is stale: run python3 doc/gen_conf_keys.py --update"
    binary = os.environ.get("SEALGATE_BIN", os.path.join(SRC, "build", "sealgate"))
    with tempfile.TemporaryDirectory() as tmp:
        text = re.sub(r"(?m)^#(\w+ =)", r"\1", read("conf", "sealgate.conf"))
        path = os.path.join(tmp, "all.conf")
        with open(path, "w") as f:
            f.write(text)
        keys = re.findall(r"(?m)^(\w+) =", text)
        assert len(keys) == len(gen_conf_keys.keys()), len(keys)

        def effective(*args):
            r = subprocess.run([binary, *args, "check-config"], cwd=tmp, capture_output=True,
                               text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            return r.stdout.split("\n", 1)[1]     # past "# effective configuration, from"
        assert effective("-c", path) == effective()


@test
def sealgate_man_page_names_every_command():
    man = read("doc", "sealgate.8")
    table = read("gateway", "gw_main.c")
    names = re.findall(r'^\t\{ "([a-z-]+)", gw_cmd_', table, re.M)
    assert "serve" in names and "backup" in names, names
    for name in names:
        roff = name.replace("-", "\\-")
        assert re.search(rf'^\.B[IR]* "?{re.escape(roff)}(\s|"|$)', man, re.M), name


@test
def man_pages_render_without_warnings():
    for page in ("sealgate.8", "sealgate.conf.5"):
        r = subprocess.run(["groff", "-man", "-ww", "-z", os.path.join(SRC, "doc", page)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stderr == "", (page, r.stderr)


if __name__ == "__main__":
    run()
