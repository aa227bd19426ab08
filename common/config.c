/*
 * NAME
 *	config.c - the forcetls.conf file (libconfig), one table of settings
 * SUMMARY
 *	See config.h.
 * DESCRIPTION
 *	Values are copied out of libconfig into the cfg object, so the
 *	libconfig tree is freed right after loading. Lookups are linear in the
 *	(small) table; programs read their settings once per (re)load.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "config.h"

typedef struct {
	char *str;
	long num;
	char **items;
	size_t nitems;
	int line; /* where the file sets it; 0: the default */
} cfg_value;

struct cfg {
	const cfg_def *defs;
	size_t ndefs;
	cfg_value *values;
	char *file; /* NULL: built-in defaults only */
};

typedef struct {
	char *buf;
	size_t len, used;
	int count;
} errbuf;

static void err_add(errbuf *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void err_add(errbuf *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	e->count++;
	if (e->buf == NULL || e->used + 1 >= e->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(e->buf + e->used, e->len - e->used, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	e->used += (size_t)n < e->len - e->used ? (size_t)n : e->len - e->used - 1;
	if (e->used + 1 < e->len) {
		e->buf[e->used++] = '\n';
		e->buf[e->used] = '\0';
	}
}

static int in_list(const char *const *list, const char *name)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

/* Append one item, whole: patterns may hold commas and spaces. */
static int add_item(const char *s, cfg_value *v)
{
	char **items = realloc(v->items, (v->nitems + 1) * sizeof(*items));

	if (items == NULL)
		return -1;
	v->items = items;
	if ((items[v->nitems] = strdup(s)) == NULL)
		return -1;
	v->nitems++;
	return 0;
}

/*
 * A built-in default: comma-separated items, blanks around each trimmed
 * (the settings table's form only). Blanks inside an item stay: the
 * default "^-----BEGIN PGP MESSAGE-----" is one pattern, not three.
 */
static int split_list(const char *s, cfg_value *v)
{
	char *copy, *tok, *save = NULL;
	int rc = 0;

	if (s == NULL || *s == '\0')
		return 0;
	if ((copy = strdup(s)) == NULL)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok != NULL && rc == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		char *end = tok + strlen(tok);

		while (*tok == ' ' || *tok == '\t')
			tok++;
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*tok != '\0')
			rc = add_item(tok, v);
	}
	free(copy);
	return rc;
}

static void free_value(cfg_value *v)
{
	free(v->str);
	for (size_t i = 0; i < v->nitems; i++)
		free(v->items[i]);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

static int set_default(const cfg_def *d, cfg_value *v)
{
	switch (d->type) {
	case CFG_STRING:
		return (v->str = strdup(d->def_str != NULL ? d->def_str : "")) == NULL ? -1 : 0;
	case CFG_LIST:
		return split_list(d->def_str, v);
	case CFG_INT:
	case CFG_BOOL:
		v->num = d->def_int;
		return 0;
	}
	return -1;
}

static const char *type_name(cfg_type t)
{
	switch (t) {
	case CFG_STRING:
		return "a string";
	case CFG_INT:
		return "an integer";
	case CFG_BOOL:
		return "true or false";
	case CFG_LIST:
		return "a string or a list of strings";
	}
	return "?";
}

static void take_value(const char *file, const cfg_def *d, config_setting_t *s, cfg_value *v,
                       errbuf *e)
{
	int line = config_setting_source_line(s);
	int type = config_setting_type(s);

	v->line = line;

	switch (d->type) {
	case CFG_STRING:
		if (type != CONFIG_TYPE_STRING)
			goto bad_type;
		if (d->choices != NULL && !in_list(d->choices, config_setting_get_string(s))) {
			char allowed[256] = "";

			for (const char *const *c = d->choices; *c != NULL; c++) {
				strncat(allowed, *c, sizeof(allowed) - strlen(allowed) - 1);
				if (c[1] != NULL)
					strncat(allowed, ", ",
					        sizeof(allowed) - strlen(allowed) - 1);
			}
			err_add(e, "%s:%d: %s: \"%s\" is not one of %s", file, line, d->path,
			        config_setting_get_string(s), allowed);
			return;
		}
		free(v->str);
		v->str = strdup(config_setting_get_string(s));
		return;
	case CFG_INT:
		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
			goto bad_type;
		if (config_setting_get_int64(s) < d->min || config_setting_get_int64(s) > d->max) {
			err_add(e, "%s:%d: %s: expected an integer from %ld to %ld", file, line,
			        d->path, d->min, d->max);
			return;
		}
		v->num = (long)config_setting_get_int64(s);
		return;
	case CFG_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			goto bad_type;
		v->num = config_setting_get_bool(s);
		return;
	case CFG_LIST:
		for (size_t i = 0; i < v->nitems; i++)
			free(v->items[i]);
		v->nitems = 0;
		if (type == CONFIG_TYPE_STRING) { /* a single string is a one-item list */
			if (*config_setting_get_string(s) != '\0' &&
			    add_item(config_setting_get_string(s), v) < 0)
				err_add(e, "out of memory");
			return;
		}
		if (type != CONFIG_TYPE_LIST && type != CONFIG_TYPE_ARRAY)
			goto bad_type;
		for (int i = 0; i < config_setting_length(s); i++) {
			config_setting_t *it = config_setting_get_elem(s, (unsigned)i);

			if (config_setting_type(it) != CONFIG_TYPE_STRING) {
				err_add(e, "%s:%d: %s: item %d is not a string", file, line,
				        d->path, i + 1);
				return;
			}
			if (add_item(config_setting_get_string(it), v) < 0)
				err_add(e, "out of memory");
		}
		return;
	}
bad_type:
	err_add(e, "%s:%d: %s: expected %s", file, line, d->path, type_name(d->type));
}

/* Every setting under a section this program owns must be in the table. */
static void check_unknown(const char *file, const cfg_def *defs, size_t ndefs,
                          config_setting_t *section, errbuf *e)
{
	for (int i = 0; i < config_setting_length(section); i++) {
		config_setting_t *s = config_setting_get_elem(section, (unsigned)i);
		char path[256];
		size_t j;

		snprintf(path, sizeof(path), "%s.%s", config_setting_name(section),
		         config_setting_name(s));
		for (j = 0; j < ndefs; j++)
			if (strcmp(defs[j].path, path) == 0)
				break;
		if (j == ndefs)
			err_add(e, "%s:%d: unknown setting %s", file, config_setting_source_line(s),
			        path);
	}
}

/*
 * config_read_file(3) with an open(2) that does not block: a FIFO at the
 * path is "not a regular file", not a reload thread waiting for a writer.
 * 0, or -1 with the reason in e (then lc is not initialised).
 */
static int read_config(config_t *lc, const char *file, errbuf *e)
{
	struct stat st;
	FILE *fp;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0 || fstat(fd, &st) < 0) {
		err_add(e, "%s: cannot read the configuration file: %s", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		err_add(e, "%s: cannot read the configuration file: not a regular file", file);
		close(fd);
		return -1;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if ((fp = fdopen(fd, "r")) == NULL) {
		err_add(e, "%s: cannot read the configuration file: %s", file, strerror(errno));
		close(fd);
		return -1;
	}
	config_init(lc);
	if (config_read(lc, fp) != CONFIG_TRUE) {
		if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
			err_add(e, "%s: cannot read the configuration file", file);
		else
			err_add(e, "%s:%d: %s", file, config_error_line(lc), config_error_text(lc));
		config_destroy(lc);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

cfg *cfg_load(const char *file, const cfg_def *defs, size_t ndefs, const char *const *own,
              const char *const *other, char *errors, size_t errlen)
{
	errbuf e = {errors, errlen, 0, 0};
	config_t lc;
	cfg *c = calloc(1, sizeof(*c));

	if (errors != NULL && errlen > 0)
		errors[0] = '\0';
	if (c == NULL || (c->values = calloc(ndefs, sizeof(*c->values))) == NULL) {
		free(c);
		err_add(&e, "out of memory");
		return NULL;
	}
	c->defs = defs;
	c->ndefs = ndefs;
	for (size_t i = 0; i < ndefs; i++)
		if (set_default(&defs[i], &c->values[i]) < 0)
			err_add(&e, "out of memory");
	if (file == NULL)
		goto done;
	if ((c->file = strdup(file)) == NULL)
		err_add(&e, "out of memory");

	if (read_config(&lc, file, &e) < 0)
		goto done;
	config_setting_t *root = config_root_setting(&lc);

	for (int i = 0; i < config_setting_length(root); i++) {
		config_setting_t *sec = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(sec);

		if (in_list(own, name)) {
			if (!config_setting_is_group(sec))
				err_add(&e, "%s:%d: %s: expected a group { ... }", file,
				        config_setting_source_line(sec), name);
			else
				check_unknown(file, defs, ndefs, sec, &e);
		} else if (!in_list(other, name)) {
			err_add(&e, "%s:%d: unknown section %s", file,
			        config_setting_source_line(sec), name);
		}
	}
	for (size_t i = 0; i < ndefs; i++) {
		config_setting_t *s = config_lookup(&lc, defs[i].path);

		if (s != NULL)
			take_value(file, &defs[i], s, &c->values[i], &e);
	}
	config_destroy(&lc);
done:
	if (e.count > 0) {
		cfg_free(c);
		return NULL;
	}
	return c;
}

void cfg_free(cfg *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->ndefs; i++)
		free_value(&c->values[i]);
	free(c->values);
	free(c->file);
	free(c);
}

static const cfg_value *find(const cfg *c, const char *path, cfg_type type)
{
	for (size_t i = 0; i < c->ndefs; i++)
		if (strcmp(c->defs[i].path, path) == 0 && c->defs[i].type == type)
			return &c->values[i];
	abort(); /* a setting the program never declared: a programming error */
}

const char *cfg_str(const cfg *c, const char *path)
{
	const char *s = find(c, path, CFG_STRING)->str;

	return s != NULL ? s : "";
}

long cfg_int(const cfg *c, const char *path)
{
	return find(c, path, CFG_INT)->num;
}

int cfg_bool(const cfg *c, const char *path)
{
	return find(c, path, CFG_BOOL)->num != 0;
}

size_t cfg_list(const cfg *c, const char *path, const char *const **items)
{
	const cfg_value *v = find(c, path, CFG_LIST);

	*items = (const char *const *)v->items;
	return v->nitems;
}

int cfg_line(const cfg *c, const char *path)
{
	for (size_t i = 0; i < c->ndefs; i++)
		if (strcmp(c->defs[i].path, path) == 0)
			return c->values[i].line;
	return 0;
}

const char *cfg_where(const cfg *c, const char *path, char *buf, size_t len)
{
	int line = cfg_line(c, path);

	if (c->file == NULL)
		snprintf(buf, len, "(built-in defaults)");
	else if (line > 0)
		snprintf(buf, len, "%s:%d", c->file, line);
	else
		snprintf(buf, len, "%s", c->file);
	return buf;
}

char *cfg_absolute(const char *path)
{
	char cwd[PATH_MAX];
	char *abs;

	if (path == NULL || path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return path != NULL ? strdup(path) : NULL;
	if ((abs = malloc(strlen(cwd) + strlen(path) + 2)) != NULL)
		sprintf(abs, "%s/%s", cwd, path);
	return abs;
}
