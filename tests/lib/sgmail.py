"""Realistic test messages, the same bytes for the same index: plain text,
multipart/alternative and multipart/mixed with a base64 attachment,
quoted-printable and encoded-word subjects, sizes around 4-20 KiB. Protocol
tests and bench/imap use it to fill mailboxes."""
import base64
import random

WORDS = ("the of and to in is that for it as was with be by on not he this are or his from "
         "at which but have an they you were her she there been one all we their has would "
         "when if so no will can more other what time up about out into only them some could "
         "meeting contract invoice report quarter budget schedule review proposal shipment "
         "payment account delivery customer supplier agenda minutes draft final approval "
         "secure gateway encrypted message recipient attachment signature reply forward").split()

RARE_WORD = "quetzalcoatlite"     # in a few messages only (SEARCH TEXT benchmarks)


def _para(rng, words):
    out, line = [], []
    for _ in range(words):
        line.append(rng.choice(WORDS))
        if len(line) >= 12:
            out.append(" ".join(line))
            line = []
    if line:
        out.append(" ".join(line))
    return "\r\n".join(out) + "\r\n"


def _qp(text):
    """A small quoted-printable encoder (soft breaks at 76, CRLF kept)."""
    out = []
    for line in text.split("\r\n"):
        enc, cur = [], 0
        for ch in line.encode("utf-8"):
            piece = chr(ch) if 33 <= ch <= 126 and ch != 61 or ch == 32 else f"={ch:02X}"
            if cur + len(piece) > 75:
                enc.append("=\r\n")
                cur = 0
            enc.append(piece)
            cur += len(piece)
        out.append("".join(enc))
    return "\r\n".join(out)


def message(i, to="alice@ext.test", rare_every=2500):
    """Message number i (from 0) as bytes with CRLF line ends."""
    rng = random.Random(i * 7919 + 13)
    size = rng.randint(3500, 19000)
    words = size // 6
    body = _para(rng, words)
    if rare_every and i % rare_every == 17:
        body = body.replace(" the ", f" {RARE_WORD} ", 1)
    kind = rng.random()
    subject = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} #{i}"
    if i % 7 == 3:
        subject = f"=?utf-8?q?R=C3=A9sum=C3=A9_{rng.choice(WORDS)}?= #{i}"
    day = 1 + i % 28
    head = (f"Received: from mx.example.com by gw.example.com; "
            f"Mon, {day:02d} Nov 2026 10:{i % 60:02d}:00 +0100\r\n"
            f"From: Sender {i % 50} <sender{i % 50}@example.com>\r\n"
            f"To: Alice <{to}>\r\n"
            + (f"Cc: Carol <carol{i % 5}@example.com>\r\n" if i % 3 == 0 else "")
            + f"Subject: {subject}\r\n"
            f"Date: Mon, {day:02d} Nov 2026 10:{i % 60:02d}:00 +0100\r\n"
            f"Message-ID: <msg{i}.{rng.randint(0, 1 << 30)}@example.com>\r\n"
            + (f"In-Reply-To: <msg{i - 1}@example.com>\r\n" if i % 4 == 1 and i else "")
            + "MIME-Version: 1.0\r\n")
    if kind < 0.55:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n" + body).encode()
    b = f"=_b{i}_{rng.randint(0, 1 << 30):x}"
    if kind < 0.85:
        html = "<html><body><p>" + body.replace("\r\n", "<br>\r\n") + "</p></body></html>\r\n"
        return (head + f'Content-Type: multipart/alternative; boundary="{b}"\r\n\r\n'
                f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{_qp(body)}\r\n"
                f"--{b}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}"
                f"--{b}--\r\n").encode()
    blob = bytes(rng.getrandbits(8) for _ in range(rng.randint(1000, 6000)))
    att = base64.encodebytes(blob).decode().replace("\n", "\r\n")
    text = body[:len(body) // 2]
    return (head + f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n'
            "This is a multi-part message in MIME format.\r\n\r\n"
            f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
            f"--{b}\r\nContent-Type: application/pdf; name=\"report-{i}.pdf\"\r\n"
            f"Content-Disposition: attachment; filename=\"report-{i}.pdf\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{att}"
            f"--{b}--\r\n").encode()
