#!/usr/bin/env python3
"""Writes tests/mime/corpus/*.eml: tricky messages for the mime/ tests.

Kept as a script so the exact bytes (CRLF or bare LF, 8-bit, NUL) are
readable in review; the .eml files are committed too. Run from anywhere.
"""
import base64
import os

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')


def crlf(s):
    return s.replace('\n', '\r\n')


def w(name, data):
    if isinstance(data, str):
        data = data.encode('utf-8')
    with open(os.path.join(D, name + '.eml'), 'wb') as f:
        f.write(data)


w('simple', crlf("""Received: from mta.example.com by gw; Tue, 1 Jul 2003 10:52:37 +0200
From: Alice Example <alice@example.com>
To: Bob <bob@ext.test>
Subject: Hello there
Date: Tue, 1 Jul 2003 10:52:37 +0200
Message-ID: <simple-1@example.com>

Hello Bob,
this is a test.
"""))

w('nested_multipart', crlf("""From: alice@example.com
To: bob@ext.test
Subject: nested
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=us-ascii

plain text
--inner
Content-Type: text/html; charset=us-ascii

<p>html text</p>
--inner--

--outer
Content-Type: application/octet-stream; name="data.bin"
Content-Disposition: attachment; filename="data.bin"
Content-Transfer-Encoding: base64

AAECAwQFBgc=
--outer--
"""))

w('rfc822_in_multipart', crlf("""From: alice@example.com
To: bob@ext.test
Subject: Fwd: forwarded
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain

See the forwarded message.
--b1
Content-Type: message/rfc822
Content-Disposition: inline

From: Carol <carol@example.org>
To: alice@example.com
Subject: original
Date: Mon, 30 Jun 2003 09:00:00 -0700
Message-ID: <orig@example.org>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b2"

--b2
Content-Type: text/plain

original text
--b2
Content-Type: text/html

<b>original</b>
--b2--
--b1--
"""))

w('rfc822_toplevel', crlf("""From: alice@example.com
Subject: wrapper
MIME-Version: 1.0
Content-Type: message/rfc822

From: inner@example.org
Subject: inner message

inner body
"""))

w('encoded_words', crlf("""From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>
To: =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>, "=?utf-8?q?Ren=C3=A9e?=" <renee@example.fr>
Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=
 =?UTF-8?Q?_und_mehr?=
Date: Wed, 2 Jul 2003 12:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

body
"""))

w('filenames', crlf("""From: alice@example.com
Subject: attachments with non-ASCII names
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_abc"

--=_abc
Content-Type: text/plain; charset=utf-8

two attachments
--=_abc
Content-Type: application/pdf; name="=?UTF-8?B?w6l0w6kucGRm?="
Content-Disposition: attachment;
 filename*0*=UTF-8''%C3%A9t%C3%A9;
 filename*1=".pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--=_abc
Content-Type: text/plain; name*=iso-8859-1'fr'r%E9sum%E9.txt
Content-Disposition: attachment; filename*=iso-8859-1'fr'r%E9sum%E9.txt;
 size=5; creation-date="Wed, 2 Jul 2003 12:00:00 +0000"
Content-Language: fr, en
Content-Location: http://example.com/resume.txt
Content-ID: <part3@example.com>
Content-Description: A "résumé"

hello
--=_abc--
"""))

w('eightbit', crlf("""From: Jörg <joerg@example.de>
To: bob@ext.test
Subject: Grüße aus Köln – 8-bit header
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Schöne Grüße, naïve café.
"""))

w('no_content_type', crlf("""From: alice@example.com
Subject: no content type

just text
"""))

w('bare_lf', """From: alice@example.com
Subject: bare LF line ends
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=lf

--lf
Content-Type: text/plain

first part
--lf
Content-Type: text/plain

second part
--lf--
""")

w('missing_final_boundary', crlf("""From: alice@example.com
Subject: truncated
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="x"

--x
Content-Type: text/plain

one
--x
Content-Type: text/plain

two, and then the message just stops
"""))

w('preamble_epilogue', crlf("""From: alice@example.com
Subject: preamble and epilogue
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="pe"

This is a multi-part message in MIME format.
--pe
Content-Type: text/plain

part one
--pe--
This epilogue is ignored by clients.
"""))

w('empty_parts', crlf("""From: alice@example.com
Subject: empty parts
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="e"

--e
Content-Type: text/plain

--e

no headers in this part
--e
Content-Type: text/plain
--e
Content-Type: message/rfc822

--e--
"""))

w('multipart_no_parts', crlf("""From: alice@example.com
Subject: a multipart without parts
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="none"

only a preamble, no boundary line at all
"""))

w('qp_latin1', crlf("""From: alice@example.com
Subject: quoted-printable latin1
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 cr=E8me br=FBl=E9e, une tr=E8s longue ligne qui est coup=
=E9e en deux.
"""))

w('base64_utf8', crlf("""From: alice@example.com
Subject: base64 utf-8
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: base64

""" + base64.encodebytes("Ελληνικά και Straße – ünïcödé text\n".encode()).decode()))

w('html_only', crlf("""From: alice@example.com
Subject: html only
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><style>p { color: red; }</style></head>
<body><p>Hello &amp; welcome to <b>Sealgate</b>&nbsp;&#8364;5</p></body></html>
"""))

w('group_addresses', crlf("""From: alice@example.com
To: undisclosed-recipients:;
Cc: Team: bob@ext.test, "Carol C." <carol@ext.test>;, dave@ext.test
Bcc: Empty Group:;
Subject: groups

text
"""))

w('quoted_names', crlf("""From: "Doe, John \\"JD\\"" <john.doe@example.com>
Reply-To: "Support, Team" <support@example.com>, plain@example.com (Plain Person)
To: "a\\\\b" <ab@example.com>, "quoted local"@example.com, <@relay.example:routed@example.com>
Sender: nodomain
Subject: quotes, commas "and" \\backslashes\\
Message-ID: <quoted@example.com>
In-Reply-To: <parent@example.com>

text
"""))

w('digest', crlf("""From: list@example.com
Subject: digest
MIME-Version: 1.0
Content-Type: multipart/digest; boundary="dg"

--dg

From: one@example.com
Subject: first

first body
--dg

From: two@example.com
Subject: second

second body
--dg--
"""))

w('nul_bytes', b"From: alice@example.com\r\nSubject: NUL \x00 in header\r\n\r\nbody with \x00 NUL\r\n")

w('no_separator', crlf("""From: alice@example.com
Subject: no blank line and no body
"""))

w('boundary_prefix', crlf("""From: alice@example.com
Subject: inner boundary extends the outer one
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: multipart/alternative; boundary="b-inner"

--b-inner
Content-Type: text/plain

alt one
--b-inner
Content-Type: text/plain

alt two
--b-inner--
--b
Content-Type: text/plain

last
--b--
"""))

w('nested_unclosed', crlf("""From: alice@example.com
Subject: inner multipart never closed
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="o"

--o
Content-Type: multipart/related; boundary="i"

--i
Content-Type: text/plain

inner one
--o
Content-Type: text/plain

outer two
--o--
"""))
