/*
 * NAME
 *	tlsmaps_level.c - the Postfix TLS security levels: names and strictness
 * SUMMARY
 *	tlsmaps_level_name(), tlsmaps_level_parse(), tlsmaps_level_rank(),
 *	tlsmaps_level_mandatory(), tlsmaps_level_needs_cert()
 * DESCRIPTION
 *	The level words of the table syntax, in tlsmaps_level order, and the
 *	strictness order "the strictest match wins" uses (tlsmaps.h).
 */
#include <string.h>
#include <strings.h>

#include "tlsmaps_int.h"

static const char *const level_names[TLSMAPS_LEVEL_COUNT] = {
        "none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure",
};

/* none < may < dane < encrypt < dane-only < verify < fingerprint = secure */
static const int level_ranks[TLSMAPS_LEVEL_COUNT] = {0, 1, 3, 2, 4, 6, 5, 6};

const char *tlsmaps_level_name(tlsmaps_level level)
{
	return (unsigned)level < TLSMAPS_LEVEL_COUNT ? level_names[level] : NULL;
}

int tlsmaps_level_parse(const char *s, size_t len, tlsmaps_level *level)
{
	for (unsigned i = 0; i < TLSMAPS_LEVEL_COUNT; i++) {
		if (strlen(level_names[i]) == len && strncasecmp(s, level_names[i], len) == 0) {
			*level = (tlsmaps_level)i;
			return 0;
		}
	}
	return -1;
}

int tlsmaps_level_rank(tlsmaps_level level)
{
	return (unsigned)level < TLSMAPS_LEVEL_COUNT ? level_ranks[level] : -1;
}

int tlsmaps_level_mandatory(tlsmaps_level level)
{
	/* Opportunistic DANE falls back to may without TLSA records. */
	return level != TLSMAPS_LEVEL_NONE && level != TLSMAPS_LEVEL_MAY &&
	       level != TLSMAPS_LEVEL_DANE && (unsigned)level < TLSMAPS_LEVEL_COUNT;
}

int tlsmaps_level_needs_cert(tlsmaps_level level)
{
	return level == TLSMAPS_LEVEL_FINGERPRINT || level == TLSMAPS_LEVEL_VERIFY ||
	       level == TLSMAPS_LEVEL_SECURE;
}
