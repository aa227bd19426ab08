/*
 * NAME
 *	fuzz_config - libFuzzer target for the configuration file reader (common/config.c)
 * DESCRIPTION
 *	The input is a forcetls.conf as an admin (or an editor) might leave it.
 *	It is written to a memory file and loaded with cfg_load() against a
 *	settings table with every kind of setting (strings with and without
 *	choices, bounded integers, booleans, lists) in two sections of our own,
 *	with one foreign section skipped. Properties checked besides the
 *	sanitizers:
 *	- cfg_load() gives a configuration, or NULL with an error text;
 *	- every integer lies within its bounds, every choice is one of its
 *	  values, every list item and string is a C string;
 *	- cfg_where() names a place for every setting.
 */
/* memfd_create needs _GNU_SOURCE, which the build defines */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_config: %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static const char *const level_choices[] = {"none", "may", "encrypt", "verify", NULL};

static const cfg_def defs[] = {
        {"tables.forced_tls", CFG_STRING, "/etc/forcetls/forced-tls.table", 0, 0, 0, NULL},
        {"tables.default_level", CFG_STRING, "encrypt", 0, 0, 0, level_choices},
        {"milter.internal_networks", CFG_LIST, "127.0.0.0/8, ::1", 0, 0, 0, NULL},
        {"milter.relay_timeout", CFG_INT, NULL, 60, 1, 240, NULL},
        {"milter.relay_spool_threshold", CFG_INT, NULL, 1048576, 65536, 67108864, NULL},
        {"milter.opportunistic", CFG_BOOL, NULL, 1, 0, 0, NULL},
        {"milter.header_patterns", CFG_LIST, "", 0, 0, 0, NULL},
};
static const char *const own[] = {"milter", "tables", NULL};
static const char *const other[] = {"policyd", NULL};

static void check(const cfg *c)
{
	char where[256];

	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		const cfg_def *d = &defs[i];
		const char *const *items;
		size_t n;

		CHECK(cfg_where(c, d->path, where, sizeof(where)) == where && where[0] != '\0');
		switch (d->type) {
		case CFG_STRING:
			CHECK(cfg_str(c, d->path) != NULL);
			if (d->choices != NULL) {
				size_t k = 0;

				while (d->choices[k] != NULL &&
				       strcmp(d->choices[k], cfg_str(c, d->path)))
					k++;
				CHECK(d->choices[k] != NULL);
			}
			break;
		case CFG_INT:
			CHECK(cfg_int(c, d->path) >= d->min && cfg_int(c, d->path) <= d->max);
			break;
		case CFG_BOOL:
			CHECK(cfg_bool(c, d->path) == 0 || cfg_bool(c, d->path) == 1);
			break;
		case CFG_LIST:
			n = cfg_list(c, d->path, &items);
			for (size_t k = 0; k < n; k++)
				CHECK(items[k] != NULL && strlen(items[k]) < 1u << 20);
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], errors[4096];
	int fd = memfd_create("forcetls.conf", MFD_CLOEXEC);
	cfg *c;

	CHECK(fd >= 0);
	CHECK(write(fd, data, size) == (ssize_t)size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	errors[0] = '\0';
	c = cfg_load(path, defs, sizeof(defs) / sizeof(defs[0]), own, other, errors,
	             sizeof(errors));
	if (c == NULL)
		CHECK(errors[0] != '\0');
	else {
		check(c);
		cfg_free(c);
	}
	close(fd);
	return 0;
}
