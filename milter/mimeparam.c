/*
 * NAME
 *	mimeparam.c - MIME header parameters: Content-Type and
 *	Content-Disposition (RFC 2045, 2231)
 * SUMMARY
 *	mimehdr_content_type(), mimehdr_ctype_free(), mimehdr_filenames(),
 *	mimehdr_filename(), mimehdr_names_free(), mimehdr_encrypted()
 * DESCRIPTION
 *	See mimehdr.h. GMime 3 parses the values (comments, quoted strings,
 *	RFC 2231 continuations and charsets). Its own RFC 2047 decoding of
 *	parameter values is avoided by hiding "=?" and "?=" from it and
 *	decoding the value with mimehdr_decode() afterwards; RFC 2231
 *	charsets iconv does not know are replaced before GMime sees them (it
 *	caches every name); "%00" is dropped from RFC 2231 values before GMime
 *	decodes them into C strings that would end there.
 *
 *	Threads: the private parser options are made once by mimehdr_init()
 *	and only read after that.
 * DIAGNOSTICS
 *	None: hostile input is parsed as far as it goes, never reported.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "mimedec.h"
#include "mimehdr.h"
#include "mimeparam.h"

static GMimeParserOptions *popts;

int mimeparam_init(void)
{
	if (popts == NULL)
		popts = g_mime_parser_options_new();
	return popts ? 0 : -1;
}

/*
 * After "*=" (an RFC 2231 value): its charset, kept when iconv knows it,
 * else replaced by "x-unknown" (GMime then reads the bytes as UTF-8 or
 * Latin-1), put into b after the "*=". GMime caches every charset name it
 * sees, forever: hostile names would grow the daemon without bound. The
 * bytes of s used, or 0 (nothing put) when s holds no charset.
 */
static size_t rfc2231_charset(struct buf *b, const char *s)
{
	size_t q = *s == '"', n = strcspn(s + q, "'\";, \t");
	char cs[48];

	if (s[q + n] != '\'' || n == 0)
		return 0;
	put(b, "*=", 2);
	put(b, s, q);
	if (n < sizeof(cs)) {
		memcpy(cs, s + q, n);
		cs[n] = '\0';
	}
	if (n < sizeof(cs) && mimedec_known(cs))
		put(b, cs, n);
	else
		put(b, "x-unknown", 9);
	return q + n;
}

/*
 * In an RFC 2231 value (ext: 1 a token, 2 a quoted string): the end of it
 * seen (ext 0 after), or a "%00" dropped (GMime's C string would end
 * there, "%00secret.pdf" would be ""). 1 when *s was dealt with.
 */
static int ext_value(struct buf *b, const char **s, int *ext)
{
	const char *p = *s;

	if (*ext == 1 && (*p == ';' || *p == ' ' || *p == '\t'))
		*ext = 0;
	else if (*ext == 2 && *p == '"')
		*ext = 0;
	else if (p[0] == '%' && p[1] == '0' && p[2] == '0')
		return *s += 2, 1;
	else if (*ext == 2 && p[0] == '\\' && p[1])
		return put(b, p, 2), *s += 1, 1;
	return 0;
}

/*
 * s with CR and LF removed; "=?" and "?=" hidden from GMime (hid set)
 * when s allows; RFC 2231 charsets checked, "%00" dropped from RFC 2231 values.
 */
static char *prepare(const char *s, int *hid)
{
	struct buf b = {0};
	size_t n;
	int ext = 0;

	*hid = strchr(s, '\x1a') == NULL && strchr(s, '\x1b') == NULL &&
	       (strstr(s, "=?") || strstr(s, "?="));
	put(&b, "", 0);
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n' || (ext && ext_value(&b, &s, &ext)))
			continue;
		if (*hid && s[0] == '=' && s[1] == '?')
			put(&b, "\x1a\x1b", 2), s++;
		else if (*hid && s[0] == '?' && s[1] == '=')
			put(&b, "\x1b\x1a", 2), s++;
		else if (s[0] == '*' && s[1] == '=' && !ext) {
			ext = s[2] == '"' ? 2 : 1;
			if ((n = rfc2231_charset(&b, s + 2)) > 0)
				s += 1 + n; /* "*=", the quote and the charset are put */
			else
				put(&b, s, 2 + (ext == 2)), s += 1 + (ext == 2);
		} else
			put(&b, s, 1);
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* A parameter value from GMime, its "=?" "?=" put back and RFC 2047 decoded. */
static int param(const char *v, int hid, char **out)
{
	struct buf b = {0};
	const char *s;

	*out = NULL;
	if (v == NULL)
		return 0;
	put(&b, "", 0);
	for (s = v; *s; s++) {
		if (hid && s[0] == '\x1a' && s[1] == '\x1b')
			put(&b, "=?", 2), s++;
		else if (hid && s[0] == '\x1b' && s[1] == '\x1a')
			put(&b, "?=", 2), s++;
		else
			put(&b, s, 1);
	}
	if (!b.oom)
		*out = mimehdr_decode(b.p, NULL);
	free(b.p);
	return *out ? 0 : -1;
}

/*
 * Every parameter called pname in l, RFC 2231 ones (with a charset) first,
 * each in header order, decoded, appended to *v (*n of them, NULL after).
 */
static int names_add(GMimeParamList *l, const char *pname, int hid, char ***v, size_t *n)
{
	int count = l ? g_mime_param_list_length(l) : 0;

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < count; i++) {
			GMimeParam *p = g_mime_param_list_get_parameter_at(l, i);
			const char *name = p ? g_mime_param_get_name(p) : NULL;
			char *d, **nv;

			if (name == NULL || strcasecmp(name, pname) != 0 ||
			    (g_mime_param_get_charset(p) == NULL) != pass)
				continue;
			if (param(g_mime_param_get_value(p), hid, &d) != 0)
				return -1;
			if (d == NULL)
				continue;
			if ((nv = realloc(*v, (*n + 2) * sizeof(*nv))) == NULL) {
				free(d);
				return -1;
			}
			*v = nv;
			nv[(*n)++] = d;
			nv[*n] = NULL;
		}
	}
	return 0;
}

void mimehdr_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = tolower((unsigned char)*s);
}

static int ctype_params(GMimeContentType *g, int hid, mimehdr_ctype *ct)
{
	if (param(g_mime_content_type_get_parameter(g, "boundary"), hid, &ct->boundary) ||
	    param(g_mime_content_type_get_parameter(g, "charset"), hid, &ct->charset) ||
	    param(g_mime_content_type_get_parameter(g, "protocol"), hid, &ct->protocol) ||
	    param(g_mime_content_type_get_parameter(g, "smime-type"), hid, &ct->smime_type) ||
	    names_add(g_mime_content_type_get_parameters(g), "name", hid, &ct->names, &ct->nnames))
		return -1;
	ct->name = ct->nnames ? ct->names[0] : NULL;
	if (ct->protocol)
		lower(ct->protocol);
	if (ct->smime_type)
		lower(ct->smime_type);
	return 0;
}

int mimehdr_content_type(const char *value, mimehdr_ctype *ct)
{
	GMimeContentType *g;
	const char *t, *st;
	char *v;
	int hid, rc = 0;

	memset(ct, 0, sizeof(*ct));
	strcpy(ct->type, "text");
	strcpy(ct->subtype, "plain");
	if (value == NULL)
		return 0;
	if ((v = prepare(value, &hid)) == NULL)
		return -1;
	g = g_mime_content_type_parse(popts, v);
	t = g ? g_mime_content_type_get_media_type(g) : NULL;
	st = g ? g_mime_content_type_get_media_subtype(g) : NULL;
	/* GMime answers application/octet-stream for what it cannot parse */
	if (t && st && *t && *st && strlen(t) < sizeof(ct->type) &&
	    strlen(st) < sizeof(ct->subtype) &&
	    (strcasecmp(t, "application") || strcasecmp(st, "octet-stream") ||
	     strcasestr(v, "octet-stream"))) {
		strcpy(ct->type, t);
		strcpy(ct->subtype, st);
		lower(ct->type);
		lower(ct->subtype);
		ct->parsed = 1;
		if ((rc = ctype_params(g, hid, ct)) != 0) {
			mimehdr_ctype_free(ct);
			memset(ct, 0, sizeof(*ct));
		}
	}
	if (g)
		g_object_unref(g);
	free(v);
	return rc;
}

void mimehdr_ctype_free(mimehdr_ctype *ct)
{
	free(ct->boundary);
	free(ct->charset);
	free(ct->protocol);
	free(ct->smime_type);
	mimehdr_names_free(ct->names, ct->nnames);
	ct->boundary = ct->charset = ct->protocol = ct->smime_type = ct->name = NULL;
	ct->names = NULL;
	ct->nnames = 0;
}

int mimehdr_filenames(const char *disposition, char ***names, size_t *n)
{
	GMimeContentDisposition *g;
	char *v;
	int hid, rc;

	*names = NULL;
	*n = 0;
	if (disposition == NULL)
		return 0;
	if ((v = prepare(disposition, &hid)) == NULL)
		return -1;
	g = g_mime_content_disposition_parse(popts, v);
	rc = g ? names_add(g_mime_content_disposition_get_parameters(g), "filename", hid, names, n)
	       : 0;
	if (g)
		g_object_unref(g);
	free(v);
	if (rc != 0) {
		mimehdr_names_free(*names, *n);
		*names = NULL;
		*n = 0;
	}
	return rc;
}

int mimehdr_filename(const char *disposition, char **name)
{
	char **v;
	size_t n;

	*name = NULL;
	if (mimehdr_filenames(disposition, &v, &n) != 0)
		return -1;
	if (n > 0) {
		*name = v[0];
		v[0] = v[n - 1]; /* v[0] is given away: free the others */
		n--;
	}
	mimehdr_names_free(v, n);
	return 0;
}

int mimehdr_encrypted(const mimehdr_ctype *ct)
{
	/* Any protocol, or none: the gateway knows better than a missing parameter. */
	if (strcmp(ct->type, "multipart") == 0 && strcmp(ct->subtype, "encrypted") == 0)
		return 1;
	if (strcmp(ct->type, "application") != 0 ||
	    (strcmp(ct->subtype, "pkcs7-mime") && strcmp(ct->subtype, "x-pkcs7-mime")))
		return 0;
	return ct->smime_type == NULL || strcmp(ct->smime_type, "enveloped-data") == 0 ||
	       strcmp(ct->smime_type, "authenveloped-data") == 0;
}
