"""A scripted SMTP server for relay-client tests: what real servers do that
Postfix will not do on demand (no PIPELINING, a 554 greeting, a small SIZE,
a slow MAIL reply to see whether the client pipelines).

    srv = FakeSMTP(pipelining=True, dsn=True).start()
    srv.port
    srv.sessions   # list of sessions: {"lines": [(t, line)], "replies": [(t, line)],
                   #   "pipelined": whether commands followed MAIL before its reply}
    srv.messages   # list of (mail_from_line, [rcpt_lines], unstuffed data bytes)

Recipient local parts choose the RCPT reply: ok* 250, temp* 450, perm* 550.
drop_data=N: the first N sessions hang up after the data's final dot, with
no reply and nothing kept (a relay host that dies before its 250).
"""
import select
import socket
import threading
import time


class Lines:
    """Lines from a socket, with a way to see whether more input is waiting."""

    def __init__(self, conn):
        self.conn, self.buf = conn, b""

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.conn.recv(65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def pending(self):
        """Input the client sent without waiting for our reply."""
        if self.buf:
            return True
        return bool(select.select([self.conn], [], [], 0)[0])


class FakeSMTP:
    def __init__(self, pipelining=True, dsn=False, size=None, greeting=b"220 fake ESMTP",
                 mail_reply=b"250 2.1.0 ok", mail_delay=0.0, data_reply=b"250 2.0.0 queued",
                 drop_data=0):
        self.pipelining, self.dsn, self.size = pipelining, dsn, size
        self.greeting, self.mail_reply, self.mail_delay = greeting, mail_reply, mail_delay
        self.data_reply = data_reply
        self.drop_data = drop_data
        self.sessions, self.messages = [], []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopping = False

    def start(self):
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        sess = {"lines": [], "replies": []}
        with self.lock:
            self.sessions.append(sess)
        f = Lines(conn)

        def reply(line):
            sess["replies"].append((time.monotonic(), line))
            conn.sendall(line + b"\r\n")

        try:
            reply(self.greeting)
            if not self.greeting.startswith(b"220"):
                self._drain(f, sess, reply)
                return
            mail, rcpts = None, []
            while True:
                line = f.readline()
                if not line:
                    return
                line = line.rstrip(b"\r\n")
                sess["lines"].append((time.monotonic(), line))
                verb = line[:4].upper()
                if verb == b"EHLO":
                    ext = [b"fake"]
                    if self.pipelining:
                        ext.append(b"PIPELINING")
                    if self.dsn:
                        ext.append(b"DSN")
                    if self.size is not None:
                        ext.append(b"SIZE %d" % self.size)
                    ext += [b"8BITMIME", b"ENHANCEDSTATUSCODES"]
                    for e in ext[:-1]:
                        reply(b"250-" + e)
                    reply(b"250 " + ext[-1])
                elif verb == b"MAIL":
                    time.sleep(self.mail_delay)
                    sess["pipelined"] = f.pending()  # sent more before our reply?
                    mail, rcpts = line, []
                    reply(self.mail_reply)
                elif verb == b"RCPT":
                    local = line.split(b"<", 1)[1]
                    if local.startswith(b"temp"):
                        reply(b"450 4.2.0 mailbox busy")
                    elif local.startswith(b"perm"):
                        reply(b"550 5.1.1 no such user")
                    else:
                        rcpts.append(line)
                        reply(b"250 2.1.5 ok")
                elif verb == b"DATA":
                    if not rcpts or not self.mail_reply.startswith(b"250"):
                        reply(b"554 5.5.1 no valid recipients")
                        continue
                    reply(b"354 go ahead")
                    data = []
                    while True:
                        dl = f.readline()
                        if not dl or dl == b".\r\n":
                            break
                        data.append(dl[1:] if dl.startswith(b".") else dl)
                    with self.lock:
                        drop = self.drop_data > 0
                        self.drop_data -= drop
                    if drop:
                        sess["dropped"] = True
                        return
                    with self.lock:
                        self.messages.append((mail, rcpts, b"".join(data)))
                    reply(self.data_reply)
                elif verb == b"QUIT":
                    reply(b"221 2.0.0 bye")
                    return
                elif verb == b"RSET" or verb == b"NOOP":
                    reply(b"250 2.0.0 ok")
                else:
                    reply(b"502 5.5.1 not implemented")
        except OSError:
            pass
        finally:
            conn.close()

    def _drain(self, f, sess, reply):
        while True:
            line = f.readline()
            if not line:
                return
            sess["lines"].append((time.monotonic(), line.rstrip(b"\r\n")))
            if line[:4].upper() == b"QUIT":
                reply(b"221 bye")
                return
            reply(b"503 5.5.1 go away")
