/*
 * test_store_atrest.c: nothing readable at rest. Random markers go into
 * subjects, bodies, attachments (base64 in the MIME text, as mail carries
 * them), summaries, a queued reply, a password and an invitation token;
 * the messages are sealed as ingest seals them and appended. Then no
 * marker may appear in any file under data_dir: not raw, not hex (either
 * case), not base64 at any of the three alignments.
 */
#include "store_test.h"

#define NMSG		6
#define MARKER_LEN	16
#define PW		"atrest-password-9f2c"

struct markers {
	char	v[64][MARKER_LEN + 1];
	size_t	n;
};

static const char *
marker_new(struct markers *m)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[MARKER_LEN];
	size_t i;

	CHECK(m->n < SG_NITEMS(m->v));
	sec_random(raw, sizeof raw);
	for (i = 0; i < MARKER_LEN; i++)
		m->v[m->n][i] = hex[raw[i] & 15];
	m->v[m->n][MARKER_LEN] = '\0';
	return m->v[m->n++];
}

/* A MIME message with the markers in the subject, the body and an
 * attachment whose bytes hold the third (base64-encoded in the text). */
static char *
mime_message(const char *subj, const char *body, const char *att, size_t att_pad)
{
	size_t n = att_pad + MARKER_LEN, i;
	char *bytes = xmalloc(n), *b64, *msg;

	for (i = 0; i < att_pad; i++)
		bytes[i] = (char)(i * 7);
	memcpy(bytes + att_pad, att, MARKER_LEN);
	b64 = sec_base64_encode(bytes, n);
	msg = xasprintf("From: sender@corp.example\r\nTo: ext@example.org\r\n"
	    "Subject: quarterly %s\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nThe secret is %s.\r\n"
	    "--b\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n", subj, body, b64);
	free(b64);
	free(bytes);
	return msg;
}

static bool
contains(const uint8_t *hay, size_t len, const char *s)
{
	return t_memmem(hay, len, s, strlen(s)) != NULL;
}

static void
hex_of(const char *s, size_t n, bool upper, char *out)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[(unsigned char)s[i] >> 4];
		out[2 * i + 1] = digits[(unsigned char)s[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The base64 characters that depend only on the marker when it starts
 * k bytes into a 3-byte group. */
static char *
b64_core(const char *s, size_t n, size_t k)
{
	uint8_t buf[3 + 64];
	size_t g0 = (k + 2) / 3, g1 = (k + n) / 3;	/* whole groups [g0, g1) */
	char *enc, *core;

	memset(buf, 'Q', k);
	memcpy(buf + k, s, n);
	enc = sec_base64_encode(buf, k + n);
	core = xstrndup(enc + 4 * g0, 4 * (g1 - g0));
	free(enc);
	return core;
}

/* Does any encoding of s occur in the file? Names the one found. */
static const char *
leak_in(const uint8_t *p, size_t len, const char *s)
{
	static char what[32];
	char hex[2 * 64 + 1], *core;
	size_t n = strlen(s), k;
	bool found;

	if (contains(p, len, s))
		return "raw";
	hex_of(s, n, false, hex);
	if (contains(p, len, hex))
		return "hex";
	hex_of(s, n, true, hex);
	if (contains(p, len, hex))
		return "HEX";
	for (k = 0; k < 3; k++) {
		core = b64_core(s, n, k);
		found = strlen(core) >= 12 && contains(p, len, core);
		free(core);
		if (found) {
			snprintf(what, sizeof what, "base64+%zu", k);
			return what;
		}
	}
	return NULL;
}

static void
scan_dir(const char *dir, const struct markers *m, size_t *files)
{
	struct dirent *e;
	struct stat sb;
	const char *how;
	uint8_t *p;
	size_t len, i;
	DIR *d = opendir(dir);
	char *path;

	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		path = t_path(dir, e->d_name);
		CHECK(lstat(path, &sb) == 0);
		if (S_ISDIR(sb.st_mode)) {
			scan_dir(path, m, files);
		} else if (S_ISREG(sb.st_mode)) {
			CHECK((p = t_slurp(path, &len)) != NULL);
			for (i = 0; i < m->n; i++)
				if ((how = leak_in(p, len, m->v[i])) != NULL)
					fail_msg("marker %zu found (%s) in %s", i, how, path);
			free(p);
			(*files)++;
		}
		free(path);
	}
	closedir(d);
}

/* Seal message and summary under one content key, as ingest does. */
static uint64_t
append(struct store *st, const struct store_account *a, uint64_t mbox, const char *msg,
    const char *sum)
{
	struct t_sealed sealed;
	struct t_append ap = { .s = &sealed, .account_id = a->id, .mailbox_id = mbox };

	t_seal(&sealed, a->pk, msg, strlen(msg), sum, strlen(sum));
	CHECK_RC(store_write_wait(st, t_append_op, &ap), STORE_OK);
	t_sealed_free(&sealed);
	return ap.out.blob_id;
}

struct qput {
	struct store_qentry	e;
};

static enum store_rc
qput_op(struct store_txn *t, void *arg)
{
	return store_queue_put(t, &((struct qput *)arg)->e);
}

static void
test_no_marker_at_rest(void **state)
{
	struct t_fx *fx = *state;
	struct markers m = { .n = 0 };
	char token[STORE_TOKEN_TEXT_LEN + 1], *msg, *sum, *reply;
	struct sec_buf pt = { NULL, 0, 0 }, sp = { NULL, 0, 0 };
	struct store_account a;
	struct qput q = { .e = { .next_attempt = 1 } };
	struct sec_sk *k;
	uint64_t inbox, blobs[NMSG];
	uint8_t *ct;
	size_t files = 0, i, len;
	const char *s, *b, *at;

	CHECK_RC(store_account_add(fx->st, "ext@example.org", PW, strlen(PW), SEC_KDF_INTERACTIVE,
	    &a), STORE_OK);
	inbox = t_mbox_id(fx->st, a.id, "INBOX");
	for (i = 0; i < NMSG; i++) {
		s = marker_new(&m);
		b = marker_new(&m);
		at = marker_new(&m);
		/* Small and large (overflow pages, several stream chunks). */
		msg = mime_message(s, b, at, i % 2 ? 150000 + i : 10 + i);
		sum = xasprintf("{\"subject\":\"quarterly %s\",\"text\":\"the secret is %s\","
		    "\"search\":\"%s %s\"}", s, b, marker_new(&m), at);
		blobs[i] = append(fx->st, &a, inbox, msg, sum);
		free(msg);
		free(sum);
	}
	reply = xasprintf("To: boss@corp.example\r\nSubject: re %s\r\n\r\n%s\r\n", marker_new(&m),
	    marker_new(&m));
	store_queue_seal(fx->st, reply, strlen(reply), &ct, &q.e.len);
	q.e.data = ct;
	CHECK_RC(store_write_wait(fx->st, qput_op, &q), STORE_OK);
	free(ct);
	free(reply);
	(void)t_invite(fx->st, "new@example.org", token);
	CHECK(m.n + 2 <= SG_NITEMS(m.v));
	memcpy(m.v[m.n++], token, MARKER_LEN);	/* the token's text */
	memcpy(m.v[m.n++], PW, MARKER_LEN);	/* the password */
	/* The mail is there and reads back, so we look for the right thing. */
	CHECK_RC(store_login(fx->st, "ext@example.org", PW, strlen(PW), &a, &k), STORE_OK);
	CHECK(t_read(fx->st, k, a.id, blobs[1], &pt, &sp) == 0);
	CHECK(contains(pt.data, pt.len, m.v[4]) && contains(pt.data, pt.len, m.v[5]));
	CHECK(contains(sp.data, sp.len, m.v[7]));	/* the summary's own marker */
	sec_buf_wipe(&pt);
	sec_buf_wipe(&sp);
	sec_sk_unref(&k);
	store_close(&fx->st);
	scan_dir(fx->dir, &m, &files);
	CHECK(files >= 6);	/* data.mdb, lock.mdb and the four key files */
	{
		char *data = xasprintf("%s/store/data.mdb", fx->dir);
		uint8_t *p = t_slurp(data, &len);

		CHECK(p != NULL && len > 300000);	/* the large messages are in it */
		CHECK(contains(p, len, "ext@example.org"));	/* the allowed metadata */
		free(p);
		free(data);
	}
	fx->st = t_open_opts(fx->dir, 0, 0, false);	/* for the teardown */
}

/* The scanner itself finds each encoding. */
static void
test_scanner_finds_encodings(void **state)
{
	const char *mk = "0123abcd4567ef89";
	char hex[33], *core, buf[128];
	size_t k;

	(void)state;
	CHECK(leak_in((const uint8_t *)mk, 16, mk) != NULL);
	hex_of(mk, 16, true, hex);
	CHECK(leak_in((const uint8_t *)hex, 32, mk) != NULL);
	for (k = 0; k < 3; k++) {
		memset(buf, 'z', k);
		memcpy(buf + k, mk, 16);
		core = sec_base64_encode(buf, k + 16);
		CHECK(leak_in((const uint8_t *)core, strlen(core), mk) != NULL);
		free(core);
	}
	CHECK(leak_in((const uint8_t *)"nothing here at all", 19, mk) == NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scanner_finds_encodings),
		cmocka_unit_test_setup_teardown(test_no_marker_at_rest, t_fx_setup, t_fx_teardown),
	};

	return STORE_TEST_MAIN(tests);
}
