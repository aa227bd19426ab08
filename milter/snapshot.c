/*
 * NAME
 *	snapshot.c - forcetls-milter's configuration and tables, as one refcounted unit
 * SUMMARY
 *	msnapshot_load(), msnapshot_start(), msnapshot_run(), msnapshot_reload(),
 *	msnapshot_stop(), msnapshot_current(), msnapshot_release(),
 *	msnapshot_config()
 * DESCRIPTION
 *	The settings table of the milter section lives here, with every
 *	default. Network lists (internal_networks, gateway_networks) become
 *	small tlsmaps tables, so they get the same syntax, diagnostics and
 *	longest-prefix matching as the forced-TLS table.
 *
 *	libmilter calls us from many threads: the current snapshot lives in a
 *	reloader (common/reload.c), which holds it under a mutex taken only for
 *	the swap; reference counts are atomic.
 * DIAGNOSTICS
 *	Every configuration and table error is logged, as FILE:LINE: reason.
 */
#include <errno.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mmetrics.h"
#include "snapshot.h"

static const char *const tls_failure_choices[] = {"defer", "gateway", NULL};
static const char *const level_choices[] = {
        "none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure", NULL,
};
static const char *const failure_choices[] = {"tls", "hold", "reject", "pass", NULL};
static const char *const routing_choices[] = {"header", "relay", NULL};
static const char *const mta_choices[] = {"auto", "postfix", "sendmail", NULL};

static const cfg_def settings[] = {
        {"tables.forced_tls", CFG_STRING, "/etc/forcetls/forced-tls.table", 0, 0, 0, NULL},
        {"tables.default_level", CFG_STRING, "encrypt", 0, 0, 0, level_choices},
        {"tables.on_tls_failure", CFG_STRING, "defer", 0, 0, 0, tls_failure_choices},
        {"milter.listen", CFG_STRING, "inet:10030@127.0.0.1", 0, 0, 0, NULL},
        {"milter.user", CFG_STRING, "forcetls", 0, 0, 0, NULL},
        {"milter.socket_owner", CFG_STRING, "", 0, 0, 0, NULL},
        {"milter.socket_group", CFG_STRING, "", 0, 0, 0, NULL},
        {"milter.socket_mode", CFG_STRING, "0660", 0, 0, 0, NULL},
        {"milter.internal_networks", CFG_LIST, "127.0.0.0/8, ::1", 0, 0, 0, NULL},
        {"milter.gateway_networks", CFG_LIST, "", 0, 0, 0, NULL},
        {"milter.tls_header", CFG_STRING, "X-TLSLevel", 0, 0, 0, NULL},
        {"milter.tls_require_value", CFG_STRING, "Require", 0, 0, 0, NULL},
        {"milter.tls_try_value", CFG_STRING, "Try", 0, 0, 0, NULL},
        {"milter.opportunistic", CFG_BOOL, NULL, 1, 0, 0, NULL},
        {"milter.encrypt_header", CFG_STRING, "X-Encrypt: yes", 0, 0, 0, NULL},
        {"milter.encrypt_success_header", CFG_STRING, "X-Encrypt-Status: success", 0, 0, 0, NULL},
        {"milter.encrypt_failure_header", CFG_STRING, "X-Encrypt-Status: failure", 0, 0, 0, NULL},
        {"milter.decrypt_header", CFG_STRING, "X-Decrypt: yes", 0, 0, 0, NULL},
        {"milter.decrypt_success_header", CFG_STRING, "X-Decrypt-Status: success", 0, 0, 0, NULL},
        {"milter.decrypt_failure_header", CFG_STRING, "X-Decrypt-Status: failure", 0, 0, 0, NULL},
        {"milter.backup_header", CFG_STRING, "X-TLS-Backup: gateway", 0, 0, 0, NULL},
        {"milter.subject_tag", CFG_STRING, "^\\s*\\[(encrypt|secure)\\]", 0, 0, 0, NULL},
        {"milter.strip_subject_tag", CFG_BOOL, NULL, 0, 0, 0, NULL},
        {"milter.header_patterns", CFG_LIST, "", 0, 0, 0, NULL},
        {"milter.body_patterns", CFG_LIST, "", 0, 0, 0, NULL},
        {"milter.body_scan_limit", CFG_INT, NULL, 1048576, 0, 1073741824, NULL},
        {"milter.attachment_patterns", CFG_LIST, "", 0, 0, 0, NULL},
        {"milter.mime_decode", CFG_BOOL, NULL, 1, 0, 0, NULL},
        {"milter.body_read_limit", CFG_INT, NULL, 10485760, 0, 1073741824, NULL},
        {"milter.mime_max_depth", CFG_INT, NULL, 16, 1, 100, NULL},
        {"milter.mime_max_parts", CFG_INT, NULL, 200, 1, 100000, NULL},
        {"milter.decrypt_patterns", CFG_LIST, "^-----BEGIN PGP MESSAGE-----", 0, 0, 0, NULL},
        {"milter.encrypt_table", CFG_STRING, "", 0, 0, 0, NULL},
        {"milter.encrypt_senders", CFG_LIST, "", 0, 0, 0, NULL},
        {"milter.on_encrypt_failure", CFG_STRING, "tls", 0, 0, 0, failure_choices},
        {"milter.inbound_enforce", CFG_BOOL, NULL, 1, 0, 0, NULL},
        {"milter.inbound_reply", CFG_STRING, "450 4.7.0 TLS is required for this session", 0, 0, 0,
         NULL},
        {"milter.routing", CFG_STRING, "header", 0, 0, 0, routing_choices},
        {"milter.mta", CFG_STRING, "auto", 0, 0, 0, mta_choices},
        /* Relay mode (handoff.c, relay.h). */
        {"milter.relay_gateways", CFG_LIST, "", 0, 0, 0, NULL},
        {"milter.relay_mx_lookup", CFG_BOOL, NULL, 0, 0, 0, NULL},
        {"milter.relay_ca_file", CFG_STRING, "", 0, 0, 0, NULL},
        {"milter.relay_verify", CFG_BOOL, NULL, 1, 0, 0, NULL},
        {"milter.relay_auth_user", CFG_STRING, "", 0, 0, 0, NULL},
        {"milter.relay_auth_password_file", CFG_STRING, "", 0, 0, 0, NULL},
        {"milter.relay_timeout", CFG_INT, NULL, 60, 1, RELAY_TIMEOUT_MAX, NULL},
        {"milter.relay_helo", CFG_STRING, "", 0, 0, 0, NULL},
        {"milter.relay_spool_dir", CFG_STRING, "/var/spool/forcetls", 0, 0, 0, NULL},
        {"milter.relay_spool_threshold", CFG_INT, NULL, 1048576, 65536, 67108864, NULL},
        {"milter.log_decisions", CFG_BOOL, NULL, 1, 0, 0, NULL},
        /* The shrink guard across restarts (reload.h, reload_ops.state_file); "": off. */
        {"milter.state_file", CFG_STRING, "/var/lib/forcetls/milter.state", 0, 0, 0, NULL},
        /* Inbound: the one rule of both daemons (envelope.c, tlsmaps_decide_inbound). */
        {"tables.inbound_exempt_internal", CFG_BOOL, NULL, 1, 0, 0, NULL},
        {"tables.inbound_exempt_authenticated", CFG_BOOL, NULL, 1, 0, 0, NULL},
        RELOAD_CFG_ROWS,
        {"milter.metrics_listen", CFG_STRING, "", 0, 0, 0, NULL}, /* mmetrics.c */
};
static const char *const own_sections[] = {"milter", "tables", NULL};
static const char *const other_sections[] = {"policyd", "tlsmaps", NULL};

/* NULL before start and after stop: sessions still open then get no snapshot (TEMPFAIL). */
static _Atomic(reloader *) rl;

cfg *msnapshot_config(const msnapshot_options *o)
{
	char errors[8192];
	cfg *c = cfg_load(o->config, settings, sizeof(settings) / sizeof(settings[0]), own_sections,
	                  other_sections, errors, sizeof(errors));

	if (c == NULL)
		log_errx_lines(errors);
	return c;
}

static tlsmaps_table *load_table(const char *path, const cfg *c)
{
	const char *level = cfg_str(c, "tables.default_level");
	tlsmaps_options topt;
	unsigned nerrors = 0;
	tlsmaps_table *t;

	tlsmaps_options_init(&topt);
	tlsmaps_level_parse(level, strlen(level), &topt.default_level);
	if (strcmp(cfg_str(c, "tables.on_tls_failure"), "gateway") == 0)
		topt.on_tls_failure = TLSMAPS_TLSFAIL_GATEWAY;
	topt.report = log_report;
	if ((t = tlsmaps_load(&path, 1, &topt, &nerrors)) == NULL)
		log_errx("%s: %u error%s; table not loaded", path, nerrors,
		         nerrors == 1 ? "" : "s");
	return t;
}

/* A list of networks as a table (tlsmaps_networks_load); NULL for an empty list. */
static int network_table(const cfg *c, const char *path, tlsmaps_table **out)
{
	const char *const *items;
	size_t n = cfg_list(c, path, &items);
	tlsmaps_options topt;
	unsigned nerrors = 0;

	*out = NULL;
	if (n == 0)
		return 0;
	tlsmaps_options_init(&topt);
	topt.report = log_report;
	if ((*out = tlsmaps_networks_load(items, n, path, &topt, &nerrors)) == NULL) {
		log_errx("%s: %u error%s", path, nerrors, nerrors == 1 ? "" : "s");
		return -1;
	}
	return 0;
}

static int header_setting(const cfg *c, const char *path, hdr_spec *h)
{
	char where[PATH_MAX + 16];

	if (hdr_spec_parse(cfg_str(c, path), h) < 0) {
		log_errx("%s: %s: \"%s\": expected \"Name: value\"",
		         cfg_where(c, path, where, sizeof(where)), path, cfg_str(c, path));
		return -1;
	}
	return 0;
}

/* backup_header: "Name: value", a name no other header setting has. */
static int backup_setting(const cfg *c, decide_config *dc)
{
	char why[256], where[PATH_MAX + 16];

	if (header_setting(c, "milter.backup_header", &dc->backup) < 0)
		return -1;
	if (decide_backup_check(dc, why, sizeof(why)) < 0) {
		log_errx("%s: %s", cfg_where(c, "milter.backup_header", where, sizeof(where)), why);
		return -1;
	}
	return 0;
}

/* tls_header and its two values, checked like the other header settings. */
static int tls_header_setting(const cfg *c, decide_config *dc)
{
	char why[256], where[PATH_MAX + 16];

	if (decide_tls_header(dc, cfg_str(c, "milter.tls_header"),
	                      cfg_str(c, "milter.tls_require_value"),
	                      cfg_str(c, "milter.tls_try_value"), why, sizeof(why)) < 0) {
		static const char *const paths[] = {"milter.tls_require_value",
		                                    "milter.tls_try_value", "milter.tls_header"};
		const char *path = paths[2];

		/* The setting named in why that the file sets. */
		for (int i = 0; i < 3; i++)
			if (strstr(why, paths[i]) != NULL && cfg_line(c, paths[i]) > 0) {
				path = paths[i];
				break;
			}
		log_errx("%s: %s", cfg_where(c, path, where, sizeof(where)), why);
		return -1;
	}
	return 0;
}

/* The exemptions of the inbound rule, shared with forcetls-policyd (tables section). */
static void inbound_options(const cfg *c, tlsmaps_inbound_options *o)
{
	tlsmaps_inbound_options_init(o);
	o->exempt_internal = cfg_bool(c, "tables.inbound_exempt_internal");
	o->exempt_authenticated = cfg_bool(c, "tables.inbound_exempt_authenticated");
}

static int parse_reply(msnapshot *s, const char *reply)
{
	/* "450 4.7.0 text": a 4xx or 5xx code, an enhanced code, text. */
	char code[4] = "", xcode[16] = "", where[PATH_MAX + 16];
	int n = 0;

	if (sscanf(reply, "%3[0-9] %15[0-9.] %n", code, xcode, &n) != 2 || n == 0 ||
	    (code[0] != '4' && code[0] != '5') || xcode[0] != code[0] ||
	    strpbrk(reply, "\r\n%") != NULL) {
		log_errx("%s: milter.inbound_reply: \"%s\": expected \"4xx x.y.z text\" or 5xx",
		         cfg_where(s->cfg, "milter.inbound_reply", where, sizeof(where)), reply);
		return -1;
	}
	snprintf(s->inbound_code, sizeof(s->inbound_code), "%s", code);
	snprintf(s->inbound_xcode, sizeof(s->inbound_xcode), "%s", xcode);
	snprintf(s->inbound_text, sizeof(s->inbound_text), "%s", reply + n);
	return 0;
}

static void snapshot_free(msnapshot *s)
{
	if (s == NULL)
		return;
	tlsmaps_table_free(s->forced);
	tlsmaps_table_free(s->encrypt_table);
	tlsmaps_table_free(s->internal);
	tlsmaps_table_free(s->gateway);
	rules_free(s->rules);
	rules_free(s->decrypt_rules);
	relay_client_free(s->relay);
	cfg_free(s->cfg);
	free(s);
}

static void free_rsnap(rsnap *r)
{
	snapshot_free((msnapshot *)r);
}

/* The content rules (rules.h) and their limits (content.h); every error logged. */
static int content_settings(const cfg *c, msnapshot *s)
{
	rules_config rc;
	char why[512];
	int bad = 0;

	memset(&rc, 0, sizeof(rc));
	rc.subject_tag = cfg_str(c, "milter.subject_tag");
	rc.nheader_patterns = cfg_list(c, "milter.header_patterns", &rc.header_patterns);
	rc.nbody_patterns = cfg_list(c, "milter.body_patterns", &rc.body_patterns);
	rc.nattachment_patterns =
	        cfg_list(c, "milter.attachment_patterns", &rc.attachment_patterns);
	rc.body_scan_limit = (size_t)cfg_int(c, "milter.body_scan_limit");
	if ((s->rules = rules_new(&rc, why, sizeof(why))) == NULL) {
		log_errx("milter.%s", why);
		bad = 1;
	}
	memset(&rc, 0, sizeof(rc));
	rc.nbody_patterns = cfg_list(c, "milter.decrypt_patterns", &rc.body_patterns);
	rc.body_scan_limit = (size_t)cfg_int(c, "milter.body_scan_limit");
	if (rc.nbody_patterns > 0 &&
	    (s->decrypt_rules = rules_new(&rc, why, sizeof(why))) == NULL) {
		log_errx("milter.decrypt_%s", why);
		bad = 1;
	}
	s->content.decode = cfg_bool(c, "milter.mime_decode");
	s->content.scan_limit = (size_t)cfg_int(c, "milter.body_scan_limit");
	s->content.read_limit = (size_t)cfg_int(c, "milter.body_read_limit");
	s->content.max_depth = (unsigned)cfg_int(c, "milter.mime_max_depth");
	s->content.max_parts = (unsigned)cfg_int(c, "milter.mime_max_parts");
	return bad ? -1 : 0;
}

/* Which MTA the file says (milter.mta), and routing that it cannot do. */
static int mta_setting(const cfg *c, msnapshot *s)
{
	const char *mta = cfg_str(c, "milter.mta");
	char where[PATH_MAX + 16];

	s->mta = strcmp(mta, "postfix") == 0    ? MTA_POSTFIX
	         : strcmp(mta, "sendmail") == 0 ? MTA_SENDMAIL
	                                        : MTA_UNKNOWN;
	if (s->mta == MTA_SENDMAIL && !s->dc.relay) {
		log_errx("%s: milter.routing: \"header\" cannot work with milter.mta = "
		         "\"sendmail\": "
		         "Sendmail cannot route on a header; set routing = \"relay\"",
		         cfg_where(c, "milter.routing", where, sizeof(where)));
		return -1;
	}
	return 0;
}

/* routing = "relay": the gateway client, checked now (relay.h); the spool. */
static int relay_settings(const cfg *c, msnapshot *s)
{
	relay_options ro;
	char why[512], where[PATH_MAX + 16], host[256];
	struct stat st;

	s->dc.relay = strcmp(cfg_str(c, "milter.routing"), "relay") == 0;
	if (!s->dc.relay)
		return 0;
	memset(&ro, 0, sizeof(ro));
	ro.ngateways = cfg_list(c, "milter.relay_gateways", &ro.gateways);
	ro.mx_lookup = cfg_bool(c, "milter.relay_mx_lookup");
	ro.ca_file = cfg_str(c, "milter.relay_ca_file");
	ro.verify = cfg_bool(c, "milter.relay_verify");
	ro.auth_user = cfg_str(c, "milter.relay_auth_user");
	ro.auth_password_file = cfg_str(c, "milter.relay_auth_password_file");
	ro.timeout = (unsigned)cfg_int(c, "milter.relay_timeout");
	ro.helo = cfg_str(c, "milter.relay_helo");
	if (*ro.helo == '\0') {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		ro.helo = host;
	}
	s->spool_dir = cfg_str(c, "milter.relay_spool_dir");
	s->spool_threshold = (size_t)cfg_int(c, "milter.relay_spool_threshold");
	if (stat(s->spool_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_errx("%s: milter.relay_spool_dir: %s: %s",
		         cfg_where(c, "milter.relay_spool_dir", where, sizeof(where)), s->spool_dir,
		         errno ? strerror(errno) : "not a directory");
		return -1;
	}
	if (ro.ngateways == 0) {
		log_errx(
		        "%s: milter.relay_gateways: routing = \"relay\" needs at least one gateway",
		        cfg_where(c, "milter.routing", where, sizeof(where)));
		return -1;
	}
	if ((s->relay = relay_client_new(&ro, why, sizeof(why))) == NULL) {
		log_errx("%s: milter.relay: %s",
		         cfg_where(c, "milter.relay_gateways", where, sizeof(where)), why);
		return -1;
	}
	return 0;
}

msnapshot *msnapshot_load(const msnapshot_options *o)
{
	msnapshot *s = calloc(1, sizeof(*s));
	const cfg *c;
	const char *fail;
	int bad = 0;

	if (s == NULL)
		return NULL;
	if ((s->cfg = msnapshot_config(o)) == NULL) {
		free(s);
		return NULL;
	}
	c = s->cfg;
	rsnap_init(&s->rs, free_rsnap, c);
	s->table_path = o->table != NULL ? o->table : cfg_str(c, "tables.forced_tls");
	s->rs.table = s->table_path;
	rsnap_table_seen(&s->rs, s->table_path);
	if ((s->forced = load_table(s->table_path, c)) == NULL)
		bad = 1;
	else
		s->rs.entries = tlsmaps_table_count(s->forced);
	if (*cfg_str(c, "milter.encrypt_table") != '\0' &&
	    (s->encrypt_table = load_table(cfg_str(c, "milter.encrypt_table"), c)) == NULL)
		bad = 1;
	if (network_table(c, "milter.internal_networks", &s->internal) < 0 ||
	    network_table(c, "milter.gateway_networks", &s->gateway) < 0)
		bad = 1;

	if (tls_header_setting(c, &s->dc) < 0)
		bad = 1;
	s->dc.opportunistic = cfg_bool(c, "milter.opportunistic");
	s->dc.strip_subject_tag = cfg_bool(c, "milter.strip_subject_tag");
	s->dc.remove_tls_required = 1;
	if (header_setting(c, "milter.encrypt_header", &s->dc.encrypt) < 0 ||
	    header_setting(c, "milter.encrypt_success_header", &s->dc.encrypt_success) < 0 ||
	    header_setting(c, "milter.encrypt_failure_header", &s->dc.encrypt_failure) < 0 ||
	    header_setting(c, "milter.decrypt_header", &s->dc.decrypt) < 0 ||
	    header_setting(c, "milter.decrypt_success_header", &s->dc.decrypt_success) < 0 ||
	    header_setting(c, "milter.decrypt_failure_header", &s->dc.decrypt_failure) < 0 ||
	    backup_setting(c, &s->dc) < 0)
		bad = 1;
	fail = cfg_str(c, "milter.on_encrypt_failure");
	s->dc.on_encrypt_failure = strcmp(fail, "hold") == 0     ? ON_FAIL_HOLD
	                           : strcmp(fail, "reject") == 0 ? ON_FAIL_REJECT
	                           : strcmp(fail, "pass") == 0   ? ON_FAIL_PASS
	                                                         : ON_FAIL_TLS;
	s->inbound_enforce = cfg_bool(c, "milter.inbound_enforce");
	inbound_options(c, &s->inbound);
	s->log_decisions = cfg_bool(c, "milter.log_decisions");
	if (parse_reply(s, cfg_str(c, "milter.inbound_reply")) < 0)
		bad = 1;
	s->nsenders = cfg_list(c, "milter.encrypt_senders", &s->senders);

	if (content_settings(c, s) < 0)
		bad = 1;
	if (relay_settings(c, s) < 0 || mta_setting(c, s) < 0 || mmetrics_check(c) < 0)
		bad = 1;
	if (bad) {
		snapshot_free(s);
		return NULL;
	}
	return s;
}

static rsnap *build(void *arg)
{
	msnapshot *s = msnapshot_load(arg);

	return s != NULL ? &s->rs : NULL;
}

int msnapshot_start(const msnapshot_options *o)
{
	reload_ops ops = {build, NULL, (void *)o, o->state_file};

	reloader *r = reloader_new(&ops);

	atomic_store(&rl, r);
	return r != NULL ? 0 : -1;
}

int msnapshot_run(void)
{
	return reloader_run(rl);
}

int msnapshot_metrics(void)
{
	msnapshot *s = msnapshot_current();
	int rc = s != NULL ? mmetrics_start(rl, s->cfg) : -1;

	msnapshot_release(s);
	return rc;
}

void msnapshot_reload(const char *trigger)
{
	reloader_request(rl, trigger);
}

void msnapshot_counts(unsigned long *ok, unsigned long *refused)
{
	reloader_counts(rl, ok, refused);
}

void msnapshot_stop(void)
{
	mmetrics_stop(); /* first: its thread reads the reloader */
	reloader_free(atomic_exchange(&rl, NULL));
}

msnapshot *msnapshot_current(void)
{
	reloader *r = atomic_load(&rl);

	return r != NULL ? (msnapshot *)reloader_current(r) : NULL;
}

void msnapshot_release(msnapshot *s)
{
	if (s != NULL)
		rsnap_release(&s->rs);
}
