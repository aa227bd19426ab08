/*
 * NAME
 *	listen.c - listening sockets from Postfix-style addresses or systemd
 * SUMMARY
 *	See listen.h.
 * DESCRIPTION
 *	Socket activation uses libsystemd's sd_listen_fds_with_names(3); we do
 *	not parse LISTEN_* ourselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "listen.h"

static void why_set(char *why, size_t whylen, const char *fmt, const char *a, const char *b)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, fmt, a, b);
}

static int set_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	return 0;
}

/* The uid and gid of p's owner and group names ((uid_t)-1: leave as is). */
static int resolve_ids(const char *path, const listen_perms *p, uid_t *uid, gid_t *gid, char *why,
                       size_t whylen)
{
	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (p->owner != NULL && *p->owner != '\0') {
		struct passwd *pw = getpwnam(p->owner);

		if (pw == NULL) {
			why_set(why, whylen, "unix:%s: unknown user %s", path, p->owner);
			return -1;
		}
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
	if (p->group != NULL && *p->group != '\0') {
		struct group *gr = getgrnam(p->group);

		if (gr == NULL) {
			why_set(why, whylen, "unix:%s: unknown group %s", path, p->group);
			return -1;
		}
		*gid = gr->gr_gid;
	}
	return 0;
}

static int apply_perms(const char *path, unsigned mode, uid_t uid, gid_t gid)
{
	if (chmod(path, mode) < 0)
		return -1;
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) < 0)
		return -1;
	return 0;
}

int listen_unix_perms(const char *path, const listen_perms *p, char *why, size_t whylen)
{
	uid_t uid;
	gid_t gid;

	if (resolve_ids(path, p, &uid, &gid, why, whylen) < 0)
		return -1;
	if (apply_perms(path, p->mode, uid, gid) < 0) {
		why_set(why, whylen, "unix:%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int listen_parse_mode(const char *s, unsigned *mode)
{
	char *end;
	unsigned long m;

	if (*s == '\0')
		return -1;
	m = strtoul(s, &end, 8);
	if (*end != '\0' || m > 07777)
		return -1;
	*mode = (unsigned)m;
	return 0;
}

static int open_unix(const char *path, const listen_perms *p, char *why, size_t whylen)
{
	struct sockaddr_un sun;
	struct stat st;
	uid_t uid;
	gid_t gid;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		why_set(why, whylen, "unix:%s: path too long%s", path, "");
		return -1;
	}
	if (resolve_ids(path, p, &uid, &gid, why, whylen) < 0) /* before anything is created */
		return -1;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			why_set(why, whylen, "unix:%s: exists and is not a socket%s", path, "");
			return -1;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    apply_perms(path, p->mode, uid, gid) < 0 || listen(fd, p->backlog) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		goto fail;
	}
	return fd;
fail:
	why_set(why, whylen, "unix:%s: %s", path, strerror(errno));
	return -1;
}

static int open_inet(const char *hostport, const listen_perms *p, char *why, size_t whylen)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, rc, one = 1;
	size_t hlen;

	if (colon == NULL || colon[1] == '\0') {
		why_set(why, whylen, "inet:%s: expected inet:HOST:PORT%s", hostport, "");
		return -1;
	}
	hlen = (size_t)(colon - hostport);
	if (hlen >= sizeof(host)) {
		why_set(why, whylen, "inet:%s: host name too long%s", hostport, "");
		return -1;
	}
	memcpy(host, hostport, hlen);
	host[hlen] = '\0';
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res)) != 0) {
		why_set(why, whylen, "inet:%s: %s", hostport, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, p->backlog) == 0)
			break;
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	if (fd < 0)
		why_set(why, whylen, "inet:%s: %s", hostport, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

int listen_open(const char *addr, const listen_perms *perms, char *why, size_t whylen)
{
	if (strncmp(addr, "unix:", 5) == 0)
		return open_unix(addr + 5, perms, why, whylen);
	if (strncmp(addr, "inet:", 5) == 0)
		return open_inet(addr + 5, perms, why, whylen);
	why_set(why, whylen, "%s: expected inet:HOST:PORT or unix:PATH%s", addr, "");
	return -1;
}

int listen_systemd(const char *name)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(0, &names), found = -1;

	for (int i = 0; i < n; i++) {
		if (found < 0 && names != NULL && names[i] != NULL && strcmp(names[i], name) == 0 &&
		    sd_is_socket(SD_LISTEN_FDS_START + i, AF_UNSPEC, SOCK_STREAM, 1) > 0)
			found = SD_LISTEN_FDS_START + i;
	}
	if (names != NULL) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	if (found >= 0 && set_flags(found) < 0)
		return -1;
	return found;
}
