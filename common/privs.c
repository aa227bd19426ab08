/*
 * NAME
 *	privs.c - run as an unprivileged user after binding
 * DESCRIPTION
 *	See privs.h. Never logs: the caller names its setting in the message.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privs.h"

int privs_drop(const char *user, char *why, size_t whylen)
{
	struct passwd *pw;

	if (getuid() != 0 || *user == '\0')
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(why, whylen, "no user \"%s\"", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		snprintf(why, whylen, "cannot run as %s: %s", user, strerror(errno));
		return -1;
	}
	return 0;
}
