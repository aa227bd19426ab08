/*
 * NAME
 *	jsonw.c - write JSON strings and members to a stdio stream
 * SUMMARY
 *	See jsonw.h.
 */
#include "jsonw.h"

void jsonw_string(FILE *f, const char *s)
{
	putc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				putc(*p, f);
		}
	}
	putc('"', f);
}

static void member(FILE *f, int first, const char *name)
{
	if (!first)
		putc(',', f);
	jsonw_string(f, name);
	putc(':', f);
}

void jsonw_member_str(FILE *f, int first, const char *name, const char *value)
{
	member(f, first, name);
	jsonw_string(f, value);
}

void jsonw_member_uint(FILE *f, int first, const char *name, unsigned long value)
{
	member(f, first, name);
	fprintf(f, "%lu", value);
}

void jsonw_member_bool(FILE *f, int first, const char *name, int value)
{
	member(f, first, name);
	fputs(value ? "true" : "false", f);
}
