#!/bin/sh
# Diffs sealgate's ENVELOPE/BODYSTRUCTURE/BODY against Dovecot's for
# message files: runs Dovecot's imap binary in PREAUTH mode over a private
# maildir (no daemon, no config outside a temp dir). Needs root (Dovecot
# drops to nobody) and dovecot-imapd. Usage: dovecot_compare.sh BUILD FILE...
set -eu
build=$1; shift
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
mkdir -p "$d/run" "$d/state" "$d/home" "$d/mail/cur" "$d/mail/new" "$d/mail/tmp"
cat > "$d/dovecot.conf" <<CONF
base_dir = $d/run
state_dir = $d/state
log_path = $d/log
ssl = no
mail_location = maildir:$d/mail
CONF
i=1
for f in "$@"; do cp "$f" "$d/mail/cur/$i.eml:2,"; i=$((i+1)); done
chown -R nobody "$d"; chmod 755 "$d"
printf 'a select INBOX\r\nb fetch 1:* (envelope bodystructure body)\r\nc logout\r\n' |
  runuser -u nobody -- env USER=t HOME="$d/home" MAIL="maildir:$d/mail" \
  /usr/lib/dovecot/imap -c "$d/dovecot.conf" 2>/dev/null |
  awk '/^\* [0-9]+ FETCH/{p=1} /^b OK/{p=0} p' > "$d/dovecot.txt"
"$build/tests/unit/mime/mime_dump" "$@" > "$d/sealgate.txt"
python3 - "$d/dovecot.txt" "$d/sealgate.txt" "$@" <<'PY'
import re, sys
dv = open(sys.argv[1], 'rb').read().split(b'\r\n* ')
sg = open(sys.argv[2], 'rb').read().split(b'\r\n* ')
for name, a, b in zip(sys.argv[3:], sg, dv):
    a = re.sub(rb'^\*? ?\d+ FETCH', b'', a.strip())
    b = re.sub(rb'^\*? ?\d+ FETCH', b'', b.strip())
    print(name, 'SAME' if a == b else 'DIFF\n  sealgate: %r\n  dovecot:  %r' % (a, b))
PY
