/*
 * failstrdup.c - an LD_PRELOAD library for tests/milter/t-oom.lua: strdup() of a
 * string that contains $FTLS_FAIL_STRDUP fails as if memory ran out (NULL, ENOMEM);
 * every other strdup() is the C library's.
 */
/* RTLD_NEXT needs _GNU_SOURCE, which the build defines */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *strdup(const char *s)
{
	static char *(*real)(const char *);
	const char *f = getenv("FTLS_FAIL_STRDUP");

	if (f != NULL && *f != '\0' && strstr(s, f) != NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (real == NULL)
		real = (char *(*)(const char *))dlsym(RTLD_NEXT, "strdup");
	return real(s);
}
