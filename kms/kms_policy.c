/*
 * kms/kms_policy.c - the policy callbacks (struct mikey_kms_ops) of
 *	imgate-kms
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Who may do what (FORMATS.md sections 2 and 3) is decided for the
 *	principal: the user whose PSK verified the request's V.  psk()
 *	notes that user in struct kms_call; the authorise callbacks that
 *	mikey_kms_process calls afterwards, in the same call, decide for it:
 *
 *	REQUEST: the ticket's IDRi is the principal or matches one of its
 *	  act_for patterns (a gateway acting for its users), and the ticket
 *	  names at least one responder.  A per-user lifetime shortens the
 *	  ticket (the library then sets the K flag).
 *	RESOLVE: the principal is a network function (resolve_any; every
 *	  such resolve is written to the log as an audit line), or for some
 *	  IDRr R of the ticket it is R, a member of group R or an exploder of
 *	  group R; or one of its act_for patterns could be such an identity
 *	  (it matches R, or overlaps a member or exploder pattern of group
 *	  R).  Acting for a network function is deliberately not enough:
 *	  the power to resolve every ticket is never delegated by a pattern.
 *
 *	When a request names its requester (IDRi/IDRr) and also the PSK
 *	(IDRpsk), the PSK's owner is the principal, and the named requester
 *	must be that owner or match its act_for.
 *
 *	An identity without a PSK gets a random per-process dummy PSK, so
 *	that V is computed and fails exactly as for a wrong PSK: same answer
 *	(ERR 0), about the same time; only the log and the metrics say
 *	"unknown_id".
 *
 *	Patterns are matched by pure functions (kms_pattern.c) and users and
 *	groups are looked up by a hash with the identity normalised into a
 *	stack buffer (kms_conf.c): nothing here allocates per request.
 */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "kms/kms.h"


/* ---------------------------------------------------------------------- */
/* The policy callbacks */

void
kms_policy_begin(struct kms_policy *p)
{
	memset(&p->call, 0, sizeof(p->call));
}

/* idstr - an identity's bytes as (pointer, length) of chars */
#define ID_P(id)	((const char *)(id)->data.p)
#define ID_LEN(id)	((id)->data.len)

/* is_user - 1 if id is u (normalised comparison) */
static int
is_user(const struct kms_user *u, const struct mikey_id *id)
{
	char norm[KMS_URI_MAX + 1];

	return kms_uri_norm(ID_P(id), ID_LEN(id), norm, sizeof(norm)) >= 0 &&
	    strcmp(norm, u->id) == 0;
}

/* any_match - 1 if some pattern of sv matches s */
static int
any_match(const struct kms_strv *sv, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (kms_pattern_match(sv->v[i], s, len))
			return 1;
	return 0;
}

/* any_overlap - 1 if pattern a overlaps some pattern of sv */
static int
any_overlap(const char *a, const struct kms_strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (kms_pattern_overlap(a, sv->v[i]))
			return 1;
	return 0;
}

/* speaks_for - u is id, or id matches u's act_for */
static int
speaks_for(const struct kms_user *u, const struct mikey_id *id)
{
	return is_user(u, id) || any_match(&u->act_for, ID_P(id), ID_LEN(id));
}

static int
op_psk(void *arg, const struct mikey_id *id, const struct mikey_id *idpsk,
    uint8_t *key, size_t *key_len)
{
	struct kms_policy *p = arg;
	const struct mikey_id *who = idpsk != NULL ? idpsk : id;
	const struct kms_user *u = NULL;

	if (who != NULL)
		u = kms_users_find(p->users, ID_P(who), ID_LEN(who));
	if (u == NULL || u->psk_len > *key_len) {
		/* compute and fail V as for a wrong PSK (see DESIGN) */
		p->call.unknown = 1;
		p->call.why = "unknown_identity";
		memcpy(key, p->dummy_psk, sizeof(p->dummy_psk));
		*key_len = sizeof(p->dummy_psk);
		return 0;
	}
	p->call.principal = u;
	memcpy(key, u->psk, u->psk_len);
	*key_len = u->psk_len;
	return 0;
}

static int
op_current_tpk(void *arg, struct mikey_tpk *tpk)
{
	struct kms_policy *p = arg;
	const struct kms_mkey *k;

	memset(tpk, 0, sizeof(*tpk));
	if (p->keys == NULL || p->keys->n == 0) {
		p->call.why = "no_current_key";
		return -1;
	}
	k = &p->keys->v[p->keys->current];
	tpk->version = k->version;
	memcpy(tpk->key, k->key, KMS_MASTER_LEN);
	tpk->key_len = KMS_MASTER_LEN;
	p->call.has_version = 1;
	p->call.version = k->version;
	return 0;
}

static int
op_lookup_tpk(void *arg, int has_version, uint32_t version,
    const struct mikey_id *idpsk, struct mikey_tpk *tpk)
{
	struct kms_policy *p = arg;
	const struct kms_mkey *k;

	memset(tpk, 0, sizeof(*tpk));
	if (idpsk != NULL || !has_version) {
		/* modes 3 and 4 (a ticket sealed under a PSK) are not ours */
		p->call.why = "ticket_not_sealed_by_kms";
		return -1;
	}
	p->call.has_version = 1;
	p->call.version = version;
	if ((k = kms_keys_find(p->keys, version)) == NULL) {
		p->call.why = "key_version_unknown";
		return -1;
	}
	if (k->state == KMS_KEY_RETIRED) {
		p->call.why = "key_version_retired";
		return -1;
	}
	tpk->version = version;
	memcpy(tpk->key, k->key, KMS_MASTER_LEN);
	tpk->key_len = KMS_MASTER_LEN;
	return 0;
}

static int
op_authorise_request(void *arg, const struct mikey_id *requester,
    struct mikey_grant *g)
{
	struct kms_policy *p = arg;
	const struct kms_user *u = p->call.principal;
	int64_t start, end;

	if (u == NULL) {
		p->call.why = "unknown_identity";
		return -1;
	}
	if (!speaks_for(u, requester)) {
		p->call.why = "psk_owner_may_not_act_for_requester";
		return -1;
	}
	if (!speaks_for(u, &g->idi)) {
		p->call.why = "idi_not_requester_or_act_for";
		return -1;
	}
	if (g->nresp == 0) {
		p->call.why = "no_responder";
		return -1;
	}
	log_trace("policy", "kms policy request allowed principal=%s "
	    "as=%s", u->id, is_user(u, &g->idi) ? "self" : "act_for");
	if (u->lifetime != 0) {
		start = mikey_ntp_to_unix(g->start);
		end = mikey_ntp_to_unix(g->end);
		if (end - start > (int64_t)u->lifetime)
			g->end = g->start + ((uint64_t)u->lifetime << 32);
	}
	return 0;
}

/* audit - the log line of a resolve by a network function */
static void
audit(const struct kms_user *u, const struct mikey_policy *pol)
{
	char idi[2 * KMS_URI_MAX + 8], resp[1024], one[4 * KMS_URI_MAX + 4];
	size_t i, off = 0, l;

	if (pol->has_idi)
		log_vis(idi, sizeof(idi), pol->idi.data.p, pol->idi.data.len);
	else
		snprintf(idi, sizeof(idi), "-");
	resp[0] = '\0';
	for (i = 0; i < pol->nresp; i++) {
		log_vis(one, sizeof(one), pol->resp[i].data.p,
		    pol->resp[i].data.len);
		l = strlen(one);
		if (off + l + 2 >= sizeof(resp)) {
			snprintf(resp + off, sizeof(resp) - off, "...");
			break;
		}
		off += (size_t)snprintf(resp + off, sizeof(resp) - off, "%s%s",
		    i ? "," : "", one);
	}
	log_notice("kms audit resolve by network function requester=%s "
	    "idi=%s responders=%s", u->id, idi, off ? resp : "-");
}

/* allowed - trace why a resolve was allowed; returns 0 */
static int
allowed(const struct kms_user *u, const char *as, const struct kms_group *g)
{
	log_trace("policy", "kms policy resolve allowed principal=%s as=%s "
	    "group=%s", u->id, as, g != NULL ? g->uri : "-");
	return 0;
}

static int
op_authorise_resolve(void *arg, const struct mikey_id *requester,
    const struct mikey_policy *pol)
{
	struct kms_policy *p = arg;
	const struct kms_user *u = p->call.principal;
	const struct kms_group *g;
	const struct mikey_id *r;
	size_t i, j, ulen;

	if (u == NULL) {
		p->call.why = "unknown_identity";
		return -1;
	}
	if (!speaks_for(u, requester)) {
		p->call.why = "psk_owner_may_not_act_for_requester";
		return -1;
	}
	ulen = strlen(u->id);
	if (any_match(&p->conf->netfn, u->id, ulen)) {
		p->call.netfn = 1;
		audit(u, pol);
		return 0;
	}
	/* the principal itself: named, member, exploder */
	for (i = 0; i < pol->nresp; i++) {
		r = &pol->resp[i];
		if (is_user(u, r))
			return allowed(u, "named", NULL);
		g = kms_conf_group(p->conf, ID_P(r), ID_LEN(r));
		if (g != NULL && any_match(&g->members, u->id, ulen))
			return allowed(u, "member", g);
		if (g != NULL && any_match(&g->exploders, u->id, ulen))
			return allowed(u, "exploder", g);
	}
	/* someone it acts for could be one of those */
	for (j = 0; j < u->act_for.n; j++)
		for (i = 0; i < pol->nresp; i++) {
			r = &pol->resp[i];
			if (kms_pattern_match(u->act_for.v[j], ID_P(r),
			    ID_LEN(r)))
				return allowed(u, "act_for_named", NULL);
			g = kms_conf_group(p->conf, ID_P(r), ID_LEN(r));
			if (g != NULL && any_overlap(u->act_for.v[j],
			    &g->members))
				return allowed(u, "act_for_member", g);
			if (g != NULL && any_overlap(u->act_for.v[j],
			    &g->exploders))
				return allowed(u, "act_for_exploder", g);
		}
	p->call.why = "not_a_responder";
	return -1;
}

const struct mikey_kms_ops kms_policy_ops = {
	op_psk, op_current_tpk, op_lookup_tpk, op_authorise_request,
	op_authorise_resolve
};
