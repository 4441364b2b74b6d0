/*
 * portal_policy.c: the rules a new password must pass, at enrollment and
 * at a change: [policy] password_min_length characters, at most
 * SEC_PASSWORD_MAX bytes, not the address nor a meaningful part of it,
 * and libpwquality's check (cracklib's dictionary, sequences, the old
 * password). The dictionary lookup reads files, so callers run the check
 * on a worker; cracklib keeps state between calls, so one lock serializes
 * it.
 */
#include <glib.h>
#include <pthread.h>
#include <pwquality.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/gw_log.h"
#include "gateway/portal_private.h"

/* Parts of the address shorter than this are too common inside ordinary
 * words ("com", "ext", "uk") to refuse a password for holding them. */
#define PORTAL_POLICY_PART_MIN	4
/* libpwquality's own length floor; ours is password_min_length. */
#define PORTAL_PWQ_MIN_LENGTH	6

struct portal_policy {
	_Atomic unsigned	 refs;
	unsigned		 min_len;
	pthread_mutex_t		 lock;
	pwquality_settings_t	*pwq;	/* NULL when libpwquality could not start */
};

struct portal_policy *
portal_policy_new(const struct conf *conf)
{
	struct portal_policy *pp = xcalloc(1, sizeof *pp);
	void *aux = NULL;
	char buf[PWQ_MAX_ERROR_MESSAGE_LEN];
	int rc;

	atomic_init(&pp->refs, 1);
	pp->min_len = conf->policy.password_min_length;
	pthread_mutex_init(&pp->lock, NULL);
	if ((pp->pwq = pwquality_default_settings()) == NULL) {
		log_warn("portal", "event=pwquality error=\"no settings\" check=off");
		return pp;
	}
	/* The system's pwquality.conf may tune the dictionary check; a missing
	 * file is no error. */
	rc = pwquality_read_config(pp->pwq, NULL, &aux);
	if (rc != 0 && rc != PWQ_ERROR_CFGFILE_OPEN)
		log_warn("portal", "event=pwquality_config error=\"%s\"",
		    pwquality_strerror(buf, sizeof buf, rc, aux));
	else if (aux != NULL)
		(void)pwquality_strerror(buf, sizeof buf, rc, aux);
	/* Our rules decide length; GECOS and local users mean nothing for an
	 * outside recipient's address. */
	(void)pwquality_set_int_value(pp->pwq, PWQ_SETTING_MIN_LENGTH, PORTAL_PWQ_MIN_LENGTH);
	(void)pwquality_set_int_value(pp->pwq, PWQ_SETTING_GECOS_CHECK, 0);
	(void)pwquality_set_int_value(pp->pwq, PWQ_SETTING_LOCAL_USERS, 0);
	(void)pwquality_set_int_value(pp->pwq, PWQ_SETTING_DICT_CHECK, 1);
	return pp;
}

struct portal_policy *
portal_policy_ref(struct portal_policy *pp)
{
	atomic_fetch_add(&pp->refs, 1);
	return pp;
}

void
portal_policy_unref(struct portal_policy **ppp)
{
	struct portal_policy *pp = *ppp;

	if (pp == NULL)
		return;
	*ppp = NULL;
	if (atomic_fetch_sub(&pp->refs, 1) != 1)
		return;
	pwquality_free_settings(pp->pwq);
	pthread_mutex_destroy(&pp->lock);
	free(pp);
}

/* ASCII case-insensitive search, without copying the password. */
static bool
portal_contains_ci(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	size_t i;

	if (nlen == 0 || nlen > hlen)
		return false;
	for (i = 0; i + nlen <= hlen; i++)
		if (g_ascii_strncasecmp(hay + i, needle, nlen) == 0)
			return true;
	return false;
}

/* The address, its local part, and each domain label but the last. */
static bool
portal_has_address(const char *address, const char *pw, size_t pwlen)
{
	const char *at = strrchr(address, '@'), *label, *dot;

	if (portal_contains_ci(pw, pwlen, address, strlen(address)))
		return true;
	if (at == NULL)
		return false;
	if ((size_t)(at - address) >= PORTAL_POLICY_PART_MIN - 1 &&
	    portal_contains_ci(pw, pwlen, address, (size_t)(at - address)))
		return true;
	for (label = at + 1; (dot = strchr(label, '.')) != NULL; label = dot + 1)
		if ((size_t)(dot - label) >= PORTAL_POLICY_PART_MIN &&
		    portal_contains_ci(pw, pwlen, label, (size_t)(dot - label)))
			return true;
	return false;
}

static enum portal_policy_rc
portal_policy_pwq(struct portal_policy *pp, const char *pw, const char *old, char *why_out,
    size_t why_size)
{
	char buf[PWQ_MAX_ERROR_MESSAGE_LEN];
	void *aux = NULL;
	const char *msg;
	int rc;

	if (pp->pwq == NULL)
		return PORTAL_POLICY_OK;
	pthread_mutex_lock(&pp->lock);
	rc = pwquality_check(pp->pwq, pw, old, NULL, &aux);
	pthread_mutex_unlock(&pp->lock);
	if (rc >= 0) {
		if (aux != NULL)
			(void)pwquality_strerror(buf, sizeof buf, rc, aux);
		return PORTAL_POLICY_OK;
	}
	msg = pwquality_strerror(buf, sizeof buf, rc, aux);
	if (why_out != NULL && why_size > 0)
		snprintf(why_out, why_size, "%s", msg != NULL ? msg : "too easy to guess");
	return PORTAL_POLICY_WEAK;
}

enum portal_policy_rc
portal_policy_check(struct portal_policy *pp, const char *address, const char *pw,
    size_t pwlen, const char *old, char *why_out, size_t why_size)
{
	if (why_out != NULL && why_size > 0)
		why_out[0] = '\0';
	if (pwlen > SEC_PASSWORD_MAX)
		return PORTAL_POLICY_LONG;
	if ((unsigned long)g_utf8_strlen(pw, (gssize)pwlen) < pp->min_len)
		return PORTAL_POLICY_SHORT;
	if (old != NULL && strlen(old) == pwlen && sec_equal(old, pw, pwlen))
		return PORTAL_POLICY_SAME;
	if (address != NULL && portal_has_address(address, pw, pwlen))
		return PORTAL_POLICY_ADDRESS;
	return portal_policy_pwq(pp, pw, old, why_out, why_size);
}

void
portal_policy_message(const struct conf *conf, enum portal_policy_rc rc, const char *why,
    char *out, size_t size)
{
	switch (rc) {
	case PORTAL_POLICY_SHORT:
		snprintf(out, size, "Use at least %u characters. A few unrelated words "
		    "together make a long password that is easy to remember.",
		    conf->policy.password_min_length);
		break;
	case PORTAL_POLICY_LONG:
		snprintf(out, size, "Use at most %d characters.", SEC_PASSWORD_MAX);
		break;
	case PORTAL_POLICY_ADDRESS:
		snprintf(out, size, "Do not use your email address or part of it in your "
		    "password.");
		break;
	case PORTAL_POLICY_SAME:
		snprintf(out, size, "The new password must be different from the current one.");
		break;
	case PORTAL_POLICY_WEAK:
		snprintf(out, size, "This password is too easy to guess%s%s%s. Try a few "
		    "unrelated words together.", why != NULL && *why != '\0' ? " (" : "",
		    why != NULL ? why : "", why != NULL && *why != '\0' ? ")" : "");
		break;
	default:
		snprintf(out, size, "This password cannot be used.");
		break;
	}
}

const char *
portal_policy_code(enum portal_policy_rc rc)
{
	switch (rc) {
	case PORTAL_POLICY_OK:
		return "ok";
	case PORTAL_POLICY_SHORT:
		return "password_too_short";
	case PORTAL_POLICY_LONG:
		return "password_too_long";
	case PORTAL_POLICY_ADDRESS:
		return "password_contains_address";
	case PORTAL_POLICY_SAME:
		return "password_unchanged";
	case PORTAL_POLICY_WEAK:
		return "password_too_weak";
	}
	return "password_rejected";
}
