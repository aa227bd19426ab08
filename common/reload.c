/*
 * NAME
 *	reload.c - refcounted snapshots, the reload thread, the shrink guard, the watch
 * SUMMARY
 *	rsnap_init(), rsnap_hold(), rsnap_release(), reload_guard_check(),
 *	reloader_new(), reloader_run(), reloader_request(), reloader_current(),
 *	reloader_retire(), reloader_counts(), reloader_results(), reloader_free()
 * DESCRIPTION
 *	See reload.h for the contract. Threads: the reload thread waits on a
 *	condition variable for requests; one flag (pending) makes requests
 *	coalesce, so at most one build runs and a request made during a build
 *	gets one more build after it. The reload thread runs at nice +10 so
 *	that a 1,000,000-entry build takes CPU from idle time, not from the
 *	threads that answer the MTA. Retired snapshots are released there too:
 *	freeing a large table costs milliseconds that a serving loop must not
 *	pay.
 *
 *	Shrink guard: with old and new entry counts, a reload to 0 entries
 *	from more is refused unless allow_empty (which alone decides it); any
 *	other reload with new < old and (old - new) * 100 > old * max_shrink
 *	is refused unless allow_shrink. Losing exactly max_shrink percent
 *	passes. From 0 entries anything passes.
 *
 *	Watch: an inotify(7) watch on the table's directory, for IN_MOVED_TO
 *	and IN_CLOSE_WRITE of the table's name. A rename is atomic: the file
 *	that appears is complete, so the watch acts at once and needs no
 *	"hold still" delay, unlike a stat(2) poll, which can only guess that
 *	a writer has finished. IN_CLOSE_WRITE catches writes in place (": >
 *	table", cp over it), which the guard then judges. The watch thread
 *	looks at the current snapshot's table path once a second, so a reload
 *	that names another table moves the watch.
 *
 *	State file (reload_ops.state_file, guardstate.h): written after each
 *	install, at start and on each reload; read once at start. A state
 *	file that cannot be read or parsed is ignored with a warning (the
 *	start goes on as on a new install); one that cannot be written is
 *	said once, not on every reload.
 * DIAGNOSTICS
 *	One line per reload (reload.h). Start: "TABLE: 0 entries ..." as a
 *	warning; "start refused: ..." as an error (reload.h); "STATE: cannot
 *	parse line N (ignored: ...)" and "STATE: ...: (the shrink guard will
 *	not apply across restarts)" as warnings. "watch: DIR: ..." when the directory cannot be
 *	watched (the watch tries again every second). A table changed while
 *	the daemon starts, before the watch is in place, is reloaded once the
 *	watch is.
 *	Each reload is framed by RELOADING=1 and READY=1 to systemd (notify.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guardstate.h"
#include "log.h"
#include "notify.h"
#include "reload.h"

/* One inotify watch on a directory, for one name in it. */
typedef struct {
	int wd;     /* -1: none */
	int lost;   /* the directory went away under the watch: reload when it is back */
	int warned; /* the failure to watch is logged once, not every second */
	dev_t dev;  /* the directory watched, to see it replaced */
	ino_t ino;
	char dir[PATH_MAX], name[NAME_MAX + 1];
} watch_slot;

typedef struct {
	int fd;
	int started;
	watch_slot s[2];       /* [0] the table's path, [1] the file its symlinks lead to */
	char target[PATH_MAX]; /* realpath(3) of the table when last seen, "" if never */
} watch_state;

struct reloader {
	reload_ops ops;
	pthread_mutex_t lock; /* current, pending, trigger, stop, retired, counts */
	pthread_cond_t cond;
	rsnap *current;
	int pending, stop, running, watching;
	const char *trigger;
	rsnap *retired;
	unsigned long ok, refused, failed; /* refused counts failed too */
	pthread_t reload_tid, watch_tid;
	int state_warned; /* the state file could not be written: said once */
	int stop_pipe[2]; /* wakes the watch thread */
	watch_state w;    /* the watch thread's */
};

void rsnap_init(rsnap *s, void (*free_fn)(rsnap *), const cfg *c)
{
	atomic_init(&s->refs, 1);
	s->free = free_fn;
	s->retired = NULL;
	s->have_read_st = 0;
	if (c != NULL) {
		s->guard.max_shrink = (unsigned)cfg_int(c, "tables.reload_max_shrink");
		s->guard.allow_empty = cfg_bool(c, "tables.reload_allow_empty");
		s->guard.allow_shrink = cfg_bool(c, "tables.reload_allow_shrink");
		s->watch = cfg_bool(c, "tables.watch_table");
	}
}

void rsnap_table_seen(rsnap *s, const char *path)
{
	s->have_read_st = stat(path, &s->read_st) == 0;
}

rsnap *rsnap_hold(rsnap *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

void rsnap_release(rsnap *s)
{
	if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
		s->free(s);
}

/* (old - new) * 100 > old * max, without overflow for any size_t. */
static int loses_too_many(size_t old, size_t new, unsigned max)
{
	size_t lost = old - new, base = old / 100 * max, rest = old % 100 * max;

	if (lost <= base)
		return 0;
	return lost - base >= 100 || (lost - base) * 100 > rest;
}

int reload_guard_check(const reload_guard *g, size_t old, size_t new, char *why, size_t len)
{
	size_t pct;

	if (new == 0 && old > 0) {
		if (g->allow_empty)
			return 0;
		snprintf(why, len,
		         "the new table has 0 entries (tables.reload_allow_empty = true allows "
		         "it)");
		return -1;
	}
	if (new >= old || g->allow_shrink || !loses_too_many(old, new, g->max_shrink))
		return 0;
	pct = old >= 100 ? (old - new) / (old / 100) : (old - new) * 100 / old;
	snprintf(why, len,
	         "the new table has %zu entries, %zu%% fewer (more than tables.reload_max_shrink "
	         "= %u%%; tables.reload_allow_shrink = true allows it)",
	         new, pct > 100 ? 100 : pct, g->max_shrink);
	return -1;
}

static void drop_retired(reloader *r)
{
	rsnap *list;

	pthread_mutex_lock(&r->lock);
	list = r->retired;
	r->retired = NULL;
	pthread_mutex_unlock(&r->lock);
	while (list != NULL) {
		rsnap *next = list->retired;

		rsnap_release(list);
		list = next;
	}
}

static int state_on(const reloader *r)
{
	return r->ops.state_file != NULL && r->ops.state_file[0] != '\0';
}

/* Remember s's table and count; a failure is logged once per reloader. */
static void state_save(reloader *r, const rsnap *s)
{
	char why[PATH_MAX + 160];

	if (!state_on(r) ||
	    guardstate_write(r->ops.state_file, s->table, s->entries, why, sizeof(why)) == 0)
		return;
	if (!r->state_warned)
		log_warnx("%s (the shrink guard will not apply across restarts)", why);
	r->state_warned = 1;
}

/* At start: 0 when the state file lets the current snapshot in, else -1 logged. */
static int state_check(reloader *r)
{
	const char *file = r->ops.state_file;
	const rsnap *s = r->current;
	char table[PATH_MAX], why[PATH_MAX + 160];
	size_t before;
	int n;

	if (!state_on(r))
		return 0;
	n = guardstate_read(file, table, sizeof(table), &before, why, sizeof(why));
	if (n < 0)
		log_warnx("%s (ignored: starting as with no state file)", why);
	if (n <= 0 || strcmp(table, s->table) != 0)
		return 0;
	if (reload_guard_check(&s->guard, before, s->entries, why, sizeof(why)) == 0)
		return 0;
	log_errx("start refused: %s has %zu entries, the table in use before had %zu (%s): %s; "
	         "fix the table, or set tables.reload_allow_empty = true / "
	         "tables.reload_allow_shrink = true, or remove %s",
	         s->table, s->entries, before, file, why, file);
	return -1;
}

/* One reload: build, guard, swap, one log line. */
static void reload_once(reloader *r, const char *trigger)
{
	rsnap *cur = reloader_current(r), *n = r->ops.build(r->ops.arg), *old;
	char why[320];

	int failed = n == NULL;

	if (n != NULL &&
	    reload_guard_check(&n->guard, cur->entries, n->entries, why, sizeof(why)) < 0) {
		rsnap_release(n);
		n = NULL;
	} else if (n == NULL) {
		snprintf(why, sizeof(why), "errors in the configuration or the table (above)");
	}
	if (n == NULL) {
		log_errx("reload (%s): refused: %s; keeping %s, %zu entries", trigger, why,
		         cur->table, cur->entries);
		pthread_mutex_lock(&r->lock);
		r->refused++;
		r->failed += failed;
		pthread_mutex_unlock(&r->lock);
		rsnap_release(cur);
		return;
	}
	pthread_mutex_lock(&r->lock);
	old = r->current;
	r->current = n;
	r->ok++;
	pthread_mutex_unlock(&r->lock);
	if (r->ops.installed != NULL)
		r->ops.installed(r->ops.arg);
	state_save(r, n);
	log_info("reload (%s): ok %s, %zu entries (was %zu)", trigger, n->table, n->entries,
	         cur->entries);
	rsnap_release(old);
	rsnap_release(cur);
}

static void *reload_thread(void *arg)
{
	reloader *r = arg;
	int prio;

	/* Ten steps below the serving threads; it still progresses on a busy machine. */
	errno = 0;
	prio = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(), prio + 10 > 19 ? 19 : prio + 10);
	pthread_mutex_lock(&r->lock);
	for (;;) {
		const char *trigger;

		while (!r->pending && !r->stop && r->retired == NULL)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stop)
			break;
		if (r->retired != NULL) {
			pthread_mutex_unlock(&r->lock);
			drop_retired(r);
			pthread_mutex_lock(&r->lock);
			continue;
		}
		trigger = r->trigger;
		r->pending = 0;
		pthread_mutex_unlock(&r->lock);
		notify_reloading(); /* to systemd: READY=1 follows, installed or refused */
		reload_once(r, trigger);
		notify_reloaded();
		drop_retired(r);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Watch ---------------------------------------------------------------------- */

static void split_path(const char *path, char *dir, char *name)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(dir, PATH_MAX, ".");
	else
		snprintf(dir, PATH_MAX, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	snprintf(name, NAME_MAX + 1, "%s", slash != NULL ? slash + 1 : path);
}

/* Drop a slot's watch; the other slot may share the watch descriptor. */
static void slot_unwatch(watch_state *w, watch_slot *sl)
{
	watch_slot *other = sl == &w->s[0] ? &w->s[1] : &w->s[0];

	if (sl->wd >= 0 && other->wd != sl->wd)
		(void)inotify_rm_watch(w->fd, sl->wd);
	sl->wd = -1;
}

/*
 * Point a slot at dir/name (dir "": no watch). A directory replaced or
 * removed under the watch is watched again once it is back. 1 when the
 * watch came back after such a loss: events may have been missed, reload.
 */
static int slot_follow(watch_state *w, watch_slot *sl, const char *dir, const char *name)
{
	struct stat st;
	int have = dir[0] != '\0' && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);

	snprintf(sl->name, sizeof(sl->name), "%s", name);
	if (sl->wd >= 0 && strcmp(dir, sl->dir) == 0 && have && st.st_dev == sl->dev &&
	    st.st_ino == sl->ino)
		return 0;
	if (strcmp(dir, sl->dir) != 0) { /* another path: a first watch */
		slot_unwatch(w, sl);
		sl->lost = sl->warned = 0;
		snprintf(sl->dir, sizeof(sl->dir), "%s", dir);
	} else if (sl->wd >= 0) { /* the same path, another directory or none */
		slot_unwatch(w, sl);
		sl->lost = 1;
	}
	if (dir[0] == '\0')
		return 0;
	if (!have || (sl->wd = inotify_add_watch(w->fd, dir,
	                                         IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR)) < 0) {
		if (!sl->warned)
			log_warnx("watch: %s: %s (trying again every second)", dir,
			          have ? strerror(errno) : "not a directory, or missing");
		sl->warned = 1;
		return 0;
	}
	sl->dev = st.st_dev;
	sl->ino = st.st_ino;
	sl->warned = 0;
	if (!sl->lost)
		return 0;
	sl->lost = 0;
	return 1;
}

/*
 * Once a second: watch the directory of the current table (again, if it
 * moved or was replaced) and, when the table is a symlink, the directory
 * of the file it leads to. A symlink that comes to lead elsewhere (ln -s
 * after rm, a switched directory link as in a Kubernetes ConfigMap)
 * requests a reload: no rename of the table's own name shows it.
 */
static void watch_follow(reloader *r, watch_state *w)
{
	rsnap *s = reloader_current(r);
	char dir[PATH_MAX], name[NAME_MAX + 1], tdir[PATH_MAX], tname[NAME_MAX + 1];
	char target[PATH_MAX];
	int again = 0;

	split_path(s->table, dir, name);
	if (!s->watch || realpath(s->table, target) == NULL)
		target[0] = '\0';
	if (!s->watch)
		dir[0] = name[0] = '\0';
	rsnap_release(s);
	tdir[0] = tname[0] = '\0';
	if (target[0] != '\0')
		split_path(target, tdir, tname);
	again |= slot_follow(w, &w->s[0], dir, name);
	again |= slot_follow(w, &w->s[1], tdir, tname);
	if (w->started && target[0] != '\0' && strcmp(target, w->target) != 0)
		again = 1;
	if (target[0] != '\0') /* kept while the table is missing: rm + cp is no switch */
		snprintf(w->target, sizeof(w->target), "%s", target);
	w->started = 1;
	if (again)
		reloader_request(r, "watch");
}

static void watch_read(reloader *r, watch_state *w)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(w->fd, buf, sizeof(buf));
	int hit = 0;

	for (char *p = buf; n > 0 && p < buf + n;) {
		const struct inotify_event *ev = (const struct inotify_event *)p;

		for (int i = 0; i < 2; i++) {
			watch_slot *sl = &w->s[i];

			if (ev->wd != sl->wd)
				continue;
			if (ev->mask & IN_IGNORED) { /* the directory is gone: watch_follow */
				sl->wd = -1;
				sl->lost = 1;
			} else if (ev->len > 0 && strcmp(ev->name, sl->name) == 0) {
				hit = 1;
			}
		}
		if (ev->mask & IN_Q_OVERFLOW) /* events were lost: the table's may be one */
			hit = 1;
		p += sizeof(*ev) + ev->len;
	}
	if (hit)
		reloader_request(r, "watch");
}

static void *watch_thread(void *arg)
{
	reloader *r = arg;
	watch_state *w = &r->w;

	for (;;) {
		struct pollfd p[2] = {{w->fd, POLLIN, 0}, {r->stop_pipe[0], POLLIN, 0}};

		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			break;
		if (p[1].revents != 0)
			break;
		if (p[0].revents & POLLIN)
			watch_read(r, w);
		watch_follow(r, w);
	}
	return NULL;
}

/* The reloader -------------------------------------------------------------- */

reloader *reloader_new(const reload_ops *ops)
{
	reloader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->ops = *ops;
	r->stop_pipe[0] = r->stop_pipe[1] = -1;
	r->w.fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if ((r->current = ops->build(ops->arg)) == NULL || state_check(r) < 0) {
		reloader_free(r);
		return NULL;
	}
	if (r->current->entries == 0)
		log_warnx("%s: 0 entries: no domain is forced (allowed at start; a reload to an "
		          "empty table is refused unless tables.reload_allow_empty = true)",
		          r->current->table);
	state_save(r, r->current);
	return r;
}

/*
 * A table changed between the start's read and the watch's first
 * install (": > table" while the daemon starts) gives no event: reload
 * when the file is no longer the one rsnap_table_seen() saw. Identity
 * and times, not a clock: ctime may be fine-grained (multigrain, Linux
 * 6.13) while clocks read from user space are not comparable with it.
 */
static void changed_since_boot(reloader *r)
{
	rsnap *s = reloader_current(r);
	const struct stat *a = &s->read_st;
	struct stat b;
	int changed =
	        s->watch && s->have_read_st && stat(s->table, &b) == 0 &&
	        (a->st_dev != b.st_dev || a->st_ino != b.st_ino || a->st_size != b.st_size ||
	         a->st_mtim.tv_sec != b.st_mtim.tv_sec || a->st_mtim.tv_nsec != b.st_mtim.tv_nsec ||
	         a->st_ctim.tv_sec != b.st_ctim.tv_sec || a->st_ctim.tv_nsec != b.st_ctim.tv_nsec);

	rsnap_release(s);
	if (changed)
		reloader_request(r, "watch");
}

int reloader_run(reloader *r)
{
	if (pipe2(r->stop_pipe, O_CLOEXEC) < 0)
		return -1;
	if (pthread_create(&r->reload_tid, NULL, reload_thread, r) != 0)
		return -1;
	r->running = 1;
	/*
	 * The watch is in place before this returns (a table renamed right
	 * after "ready" is seen). Always started: a reload may turn it on.
	 */
	r->w.s[0].wd = r->w.s[1].wd = -1;
	if ((r->w.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		log_warn("watch: inotify_init1 (the table is not watched)");
		return 0;
	}
	watch_follow(r, &r->w);
	changed_since_boot(r);
	if (pthread_create(&r->watch_tid, NULL, watch_thread, r) == 0)
		r->watching = 1;
	else
		log_warnx("watch: cannot start its thread (the table is not watched)");
	return 0;
}

void reloader_request(reloader *r, const char *trigger)
{
	pthread_mutex_lock(&r->lock);
	r->pending = 1;
	r->trigger = trigger;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

rsnap *reloader_current(reloader *r)
{
	rsnap *s;

	pthread_mutex_lock(&r->lock);
	s = r->current != NULL ? rsnap_hold(r->current) : NULL;
	pthread_mutex_unlock(&r->lock);
	return s;
}

void reloader_retire(reloader *r, rsnap *s)
{
	if (s == NULL)
		return;
	if (!r->running) {
		rsnap_release(s);
		return;
	}
	pthread_mutex_lock(&r->lock);
	s->retired = r->retired;
	r->retired = s;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void reloader_counts(reloader *r, unsigned long *ok, unsigned long *refused)
{
	pthread_mutex_lock(&r->lock);
	*ok = r->ok;
	*refused = r->refused;
	pthread_mutex_unlock(&r->lock);
}

void reloader_results(reloader *r, unsigned long *ok, unsigned long *refused, unsigned long *failed)
{
	pthread_mutex_lock(&r->lock);
	*ok = r->ok;
	*refused = r->refused - r->failed;
	*failed = r->failed;
	pthread_mutex_unlock(&r->lock);
}

void reloader_free(reloader *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (r->stop_pipe[1] >= 0 && write(r->stop_pipe[1], "", 1) < 0)
		log_warn("reload: cannot wake the watch thread");
	if (r->running)
		pthread_join(r->reload_tid, NULL);
	if (r->watching)
		pthread_join(r->watch_tid, NULL);
	r->running = 0;
	drop_retired(r);
	rsnap_release(r->current);
	for (int i = 0; i < 2; i++)
		if (r->stop_pipe[i] >= 0)
			close(r->stop_pipe[i]);
	if (r->w.fd >= 0)
		close(r->w.fd);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
