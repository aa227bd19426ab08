/*
 * NAME
 *	jsonw.h - write JSON strings and members to a stdio stream
 * DESCRIPTION
 *	Just enough JSON output for the programs' --json modes and status
 *	dumps: strings escaped per RFC 8259 (control characters as \u00XX,
 *	bytes above 0x7f passed through), object members written in order.
 */
#ifndef JSONW_H
#define JSONW_H

#include <stdio.h>

/* "s", escaped. */
void jsonw_string(FILE *f, const char *s);
/* ,"name":"value" (no comma before the first member: pass first=1). */
void jsonw_member_str(FILE *f, int first, const char *name, const char *value);
/* ,"name":123 */
void jsonw_member_uint(FILE *f, int first, const char *name, unsigned long value);
/* ,"name":true|false */
void jsonw_member_bool(FILE *f, int first, const char *name, int value);

#endif
