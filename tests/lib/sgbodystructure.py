"""IMAP response values as Python data, and an independent view of a
message's MIME structure from Python's email package, to compare with what
the server says (BODYSTRUCTURE, BODY[section])."""
import email
import email.policy
import re

_TOKEN = re.compile(rb'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|\{(\d+)\}\r\n|([^\s()"{]+))')


def parse_sexp(data, pos=0):
    """Parse one IMAP value (list, string, literal, atom, NIL) at data[pos:].
    Returns (value, new pos): lists are Python lists, strings bytes, NIL None,
    atoms bytes too (numbers stay bytes)."""
    m = _TOKEN.match(data, pos)
    if not m:
        raise ValueError(f"bad IMAP value at {pos}: {data[pos:pos + 40]!r}")
    if m.group(1):
        out, pos = [], m.end()
        while True:
            m2 = re.compile(rb"\s*\)").match(data, pos)
            if m2:
                return out, m2.end()
            v, pos = parse_sexp(data, pos)
            out.append(v)
    if m.group(2):
        raise ValueError(f"unexpected ) at {pos}")
    if m.group(3) is not None:
        return re.sub(rb"\\(.)", rb"\1", m.group(3)), m.end()
    if m.group(4) is not None:
        n = int(m.group(4))
        return data[m.end():m.end() + n], m.end() + n
    atom = m.group(5)
    return (None if atom.upper() == b"NIL" else atom), m.end()


def fetch_item(line, name):
    """The value of item `name` (bytes, e.g. b"BODYSTRUCTURE") in an untagged
    FETCH response line (literals inline, as sgimap.Raw returns them)."""
    i = line.index(b" " + name + b" ") + len(name) + 2
    return parse_sexp(line, i)[0]


def bs_parts(bs, path=""):
    """Flatten a BODYSTRUCTURE into {section: node} for every part, IMAP
    numbering: children of a multipart are 1..n, the body of a
    message/rfc822 part is entered as its own numbering (RFC 3501 6.4.5)."""
    out = {}
    if isinstance(bs[0], list):                 # multipart
        out[path or "TOP"] = ("multipart", bs)
        i = 0
        while isinstance(bs[i], list):
            out.update(bs_parts(bs[i], f"{path}.{i + 1}" if path else str(i + 1)))
            i += 1
        return out
    out[path or "1"] = ("leaf", bs)
    if bs[0].lower() == b"message" and bs[1].lower() == b"rfc822" and len(bs) > 8:
        inner = bs[8]
        if isinstance(inner[0], list):
            sub = bs_parts(inner, path or "1")
            sub.pop(path or "1", None)
            out.update({k: v for k, v in sub.items() if k != "TOP"})
        else:
            out.update(bs_parts(inner, f"{path or '1'}.1"))
    return out


def _payload_bytes(part):
    # get_payload(decode=False) re-decodes 8-bit text through the charset;
    # the stored form is the parser's own string, bytes kept as surrogates.
    p = part._payload
    if isinstance(p, str):
        return p.encode("ascii", "surrogateescape")
    return None


def email_parts(raw):
    """{section: (maintype, subtype, params, cte, body bytes or None)} from
    Python's email package (compat32 keeps the bytes as they were)."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = {}

    def walk(part, path):
        mt, st = part.get_content_maintype(), part.get_content_subtype()
        params = {k.lower(): v for k, v in (part.get_params() or [])[1:]}
        cte = (part.get("Content-Transfer-Encoding") or "7bit").strip().lower()
        if part.is_multipart() and mt == "multipart":
            out[path or "TOP"] = ("multipart", st, params, cte, None)
            for i, child in enumerate(part.get_payload(), 1):
                walk(child, f"{path}.{i}" if path else str(i))
            return
        key = path or "1"
        if mt == "message" and st == "rfc822" and part.is_multipart():
            out[key] = (mt, st, params, cte, None)
            inner = part.get_payload()[0]
            if inner.get_content_maintype() == "multipart":
                for i, child in enumerate(inner.get_payload(), 1):
                    walk(child, f"{key}.{i}")
            else:
                walk(inner, f"{key}.1")
            return
        out[key] = (mt, st, params, cte, _payload_bytes(part))

    walk(msg, "")
    return out
