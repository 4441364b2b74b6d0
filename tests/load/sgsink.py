"""A relay host for fault tests: an asyncio SMTP server that accepts every
message and records it, and that can go away (listener closed, open
connections cut) and come back on the same port. No STARTTLS: the daemon
under test uses [relay] starttls = off (or opportunistic)."""
import asyncio
import email.parser
import email.policy
import re


class Sink:
    def __init__(self, port):
        self.port = port
        self.server = None
        self.conns = set()
        self.messages = []          # (envelope rcpts, raw bytes)
        self.sessions = 0
        self.refused = []           # commands answered 5xx (a client bug or ours)

    async def start(self):
        self.server = await asyncio.start_server(self.session, "127.0.0.1", self.port,
                                                 reuse_address=True)

    async def stop(self):
        """Go away: no listener, and every open connection cut mid-way."""
        if self.server is not None:
            self.server.close()
            self.server = None
        for w in list(self.conns):
            try:
                w.transport.abort()
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.conns.clear()

    async def session(self, r, w):
        self.conns.add(w)
        self.sessions += 1
        rcpts = []

        async def say(text):
            w.write(text.encode() + b"\r\n")
            await w.drain()

        try:
            await say("220 sink.example ESMTP")
            while True:
                line = await r.readuntil(b"\r\n")
                verb = line[:4].upper()
                if verb in (b"EHLO",):
                    await say("250-sink.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                              "250-SMTPUTF8\r\n250 SIZE 104857600")
                elif verb == b"HELO":
                    await say("250 sink.example")
                elif verb == b"MAIL":
                    rcpts = []
                    await say("250 2.1.0 Ok")
                elif verb == b"RCPT":
                    m = re.search(rb"<([^>]*)>", line)
                    rcpts.append(m.group(1).decode() if m else "")
                    await say("250 2.1.5 Ok")
                elif verb == b"DATA":
                    await say("354 go ahead")
                    data = await r.readuntil(b"\r\n.\r\n")
                    raw = re.sub(rb"(?m)^\.\.", b".", data[:-3])
                    self.messages.append((list(rcpts), raw))
                    await say("250 2.0.0 Ok: kept")
                elif verb == b"RSET":
                    rcpts = []
                    await say("250 2.0.0 Ok")
                elif verb == b"NOOP":
                    await say("250 2.0.0 Ok")
                elif verb == b"QUIT":
                    await say("221 2.0.0 Bye")
                    break
                else:
                    self.refused.append(line[:80])
                    await say("502 5.5.2 Not here")
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self.conns.discard(w)
            try:
                w.close()
            except Exception:  # noqa: BLE001
                pass

    def invitations(self):
        """Recipient address -> number of invitation mails received."""
        out = {}
        parser = email.parser.BytesParser(policy=email.policy.compat32)
        for rcpts, raw in self.messages:
            head = parser.parsebytes(raw, headersonly=True)
            if head.get("X-Sealgate", "").strip() != "invitation":
                continue
            for a in rcpts:
                out[a.lower()] = out.get(a.lower(), 0) + 1
        return out
