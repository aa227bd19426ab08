#!/bin/bash
# t-package.sh SRCDIR - build the forcetls .deb and .rpm from a clean copy of SRCDIR and
# check them the way an admin would use them:
#   1. scripts/build-deb and scripts/build-rpm (--worktree: the tracked files as they are)
#      build version 1; a copy of the tree with a changelog entry 0.1.0-2 and a changed
#      forcetls.conf and table builds version 2;
#   2. the contents: programs, every man page of docs/*.scd, the units, sysusers.d and
#      tmpfiles.d files, exactly two conffiles, the examples; the same in the .rpm, whose
#      scriptlets create the user and call the systemd macros; lintian on the .changes
#      gives no error and no warning;
#   3. dpkg -i: the user forcetls exists, the tmpfiles directories are there and its own;
#      both daemons start as the units' ExecStartPre= and ExecStart= lines say, from the
#      installed config, in a network namespace of their own (systemd does not run
#      here): policyd answers a socketmap query, the milter negotiates, both run as
#      forcetls and write their state files; then they stop on SIGTERM;
#   4. the admin edits the table; dpkg -i --force-confold of version 2 keeps the
#      admin's table (the package's goes to .dpkg-dist) and updates the untouched
#      forcetls.conf; the daemons start again and serve the admin's entry;
#   5. dpkg --purge: nothing of the package is left (files, conffiles, state, unit
#      enablement); the user stays, as on Debian (the test removes it if it made it).
# Root only (exit 77 otherwise). Leaves the system as it found it.
set -u
top=$(cd "${1:?usage: t-package.sh SRCDIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (dpkg -i)"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
for c in dpkg-buildpackage dh rpmbuild lintian python3 ip setpriv; do
	command -v "$c" >/dev/null || fail "$c is missing: run scripts/install-deps"
done
if dpkg-query -W -f='${Status}' forcetls 2>/dev/null | grep -qv "not-installed"; then
	fail "a forcetls package is installed here already: dpkg --purge forcetls first"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/forcetls-pkgtest.XXXXXX")
NS=ftlspkg$$
user_was_there=0
getent passwd forcetls >/dev/null && user_was_there=1
pids=""
cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	if dpkg-query -W -f='${Status}' forcetls 2>/dev/null | grep -qv "not-installed"; then
		dpkg --purge forcetls >/dev/null 2>&1
	fi
	if [ $user_was_there = 0 ] && getent passwd forcetls >/dev/null; then
		userdel forcetls 2>/dev/null
		getent group forcetls >/dev/null && groupdel forcetls 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export DEB_BUILD_OPTIONS="parallel=2"

# --- 1. build ------------------------------------------------------------------------
version=$(sed -n 's/^project(forcetls VERSION \([0-9.]*\).*/\1/p' "$top/CMakeLists.txt")
[ -n "$version" ] || fail "no project version in CMakeLists.txt"
"$top/scripts/build-deb" --worktree "$T/v1" >"$T/build-deb1.log" 2>&1 ||
	{ tail -30 "$T/build-deb1.log"; fail "scripts/build-deb failed"; }
"$top/scripts/build-rpm" --worktree "$T/v1" >"$T/build-rpm.log" 2>&1 ||
	{ tail -30 "$T/build-rpm.log"; fail "scripts/build-rpm failed"; }
deb1=$T/v1/forcetls_${version}-1_amd64.deb
rpm1=$T/v1/forcetls-${version}-1.x86_64.rpm
[ -f "$deb1" ] || fail "no $(basename "$deb1"): $(ls "$T/v1")"
[ -f "$rpm1" ] || fail "no $(basename "$rpm1"): $(ls "$T/v1")"

# Version 2: the same tree, a new changelog entry, a changed forcetls.conf and table.
mkdir "$T/src2"
if [ "$(git -C "$top" rev-parse --show-toplevel 2>/dev/null)" = "$top" ]; then
	ref=$(git -C "$top" stash create)
	git -C "$top" archive "${ref:-HEAD}" | tar -x -C "$T/src2"
else
	tar -C "$top" --exclude='./build*' --exclude=./dist --exclude=./.git -cf - . |
		tar -x -C "$T/src2"
fi
{
	printf 'forcetls (%s-2) unstable; urgency=medium\n\n' "$version"
	printf '  * Package test: a changed forcetls.conf and table.\n\n'
	printf ' -- forcetls maintainers <dev@forcetls.invalid>  %s\n\n' "$(date -R)"
	cat "$T/src2/packaging/debian/changelog"
} >"$T/changelog" && mv "$T/changelog" "$T/src2/packaging/debian/changelog"
echo "# package test: version 2 ships this line" >>"$T/src2/examples/forcetls.conf"
echo "# package test: version 2 ships this line" >>"$T/src2/examples/forced-tls.table"
"$T/src2/scripts/build-deb" "$T/v2" >"$T/build-deb2.log" 2>&1 ||
	{ tail -30 "$T/build-deb2.log"; fail "scripts/build-deb of version 2 failed"; }
deb2=$T/v2/forcetls_${version}-2_amd64.deb
[ -f "$deb2" ] || fail "no $(basename "$deb2"): $(ls "$T/v2")"
echo "ok 1 - built $(basename "$deb1"), $(basename "$rpm1"), $(basename "$deb2")"

# --- 2. contents ---------------------------------------------------------------------
units=$(cd "$top/packaging/systemd" && ls)
mans=$(cd "$top/docs" && ls ./*.scd | sed 's|^\./||; s|\.scd$||')
want_common="usr/bin/tlsmaps usr/sbin/forcetls-policyd usr/sbin/forcetls-milter
usr/lib/sysusers.d/forcetls.conf usr/lib/tmpfiles.d/forcetls.conf
etc/forcetls/forcetls.conf etc/forcetls/forced-tls.table
usr/share/doc/forcetls/examples/forcetls.conf usr/share/doc/forcetls/examples/forced-tls.table
usr/share/doc/forcetls/examples/postfix/main.cf.policyd"
for m in $mans; do want_common="$want_common usr/share/man/man${m##*.}/$m.gz"; done
dpkg-deb -c "$deb1" | awk '{print $6}' | sed 's|^\./||' >"$T/deb.list"
rpm -qlp "$rpm1" 2>/dev/null | sed 's|^/||' >"$T/rpm.list"
for f in $want_common usr/share/doc/forcetls/copyright; do
	grep -qx "$f" "$T/deb.list" || fail ".deb lacks /$f"
done
for f in $want_common; do
	grep -qx "$f" "$T/rpm.list" || fail ".rpm lacks /$f"
done
for u in $units; do
	grep -qx "lib/systemd/system/$u" "$T/deb.list" || fail ".deb lacks /lib/systemd/system/$u"
	grep -qx "usr/lib/systemd/system/$u" "$T/rpm.list" || fail ".rpm lacks /usr/lib/systemd/system/$u"
done
dpkg-deb -e "$deb1" "$T/ctl1"
printf '/etc/forcetls/forced-tls.table\n/etc/forcetls/forcetls.conf\n' >"$T/conffiles.want"
sort "$T/ctl1/conffiles" | cmp -s - "$T/conffiles.want" ||
	fail ".deb conffiles: $(cat "$T/ctl1/conffiles")"
rpm -qp --configfiles "$rpm1" 2>/dev/null | sort | cmp -s - "$T/conffiles.want" ||
	fail ".rpm config files: $(rpm -qp --configfiles "$rpm1" 2>/dev/null)"
grep -q 'deb-systemd-helper' "$T/ctl1/postinst" || fail "postinst has no dh_installsystemd snippet"
grep -q 'systemd-tmpfiles' "$T/ctl1/postinst" || fail "postinst has no tmpfiles snippet"
rpm -qp --scripts "$rpm1" 2>/dev/null >"$T/rpm.scripts"
for s in 'useradd -r' 'systemctl --no-reload preset\|systemd-update-helper install' \
	'systemctl --no-reload disable\|systemd-update-helper remove' \
	'systemctl try-restart\|systemd-update-helper mark-restart' 'systemd-tmpfiles --create'; do
	grep -q "$s" "$T/rpm.scripts" || fail ".rpm scriptlets lack '$s'"
done
[ "$(rpm -qp --qf '%{VERSION}' "$rpm1" 2>/dev/null)" = "$version" ] || fail ".rpm version"
dpkg-deb -x "$deb1" "$T/x1"
rpm2cpio "$rpm1" | (mkdir "$T/r1" && cd "$T/r1" && cpio -id --quiet)
cmp -s "$T/x1/etc/forcetls/forced-tls.table" "$T/r1/etc/forcetls/forced-tls.table" ||
	fail "the .deb and the .rpm ship different tables"
cmp -s "$T/x1/etc/forcetls/forcetls.conf" "$top/examples/forcetls.conf" ||
	fail "/etc/forcetls/forcetls.conf is not examples/forcetls.conf"
"$T/x1/usr/bin/tlsmaps" check "$T/x1/etc/forcetls/forced-tls.table" | grep -q '^0 entries' ||
	fail "the shipped table is not empty"
grep -v '^[[:space:]]*#' "$top/examples/forced-tls.table" | grep -v '^[[:space:]]*$' |
	while IFS= read -r l; do
		grep -qxF "#$l" "$T/x1/etc/forcetls/forced-tls.table" || { echo "missing: #$l"; exit 1; }
	done || fail "the shipped table lacks an example entry, commented out"
lintian --pedantic -I "$T/v1/forcetls_${version}-1_amd64.changes" >"$T/lintian.out" 2>&1
if grep -q '^[EW]:' "$T/lintian.out"; then
	cat "$T/lintian.out"
	fail "lintian: errors or warnings"
fi
echo "ok 2 - contents of both packages; lintian: $(grep -c '^[IP]:' "$T/lintian.out") info/pedantic tags, no E/W"

# --- 3. install and run --------------------------------------------------------------
# dpkg_run LOG ARGS...: dpkg ARGS, output in LOG; waits up to 120 s for a dpkg lock that
# another apt or dpkg on this machine holds.
dpkg_run() {
	local log=$1 _
	shift
	for _ in $(seq 60); do
		dpkg "$@" </dev/null >"$log" 2>&1 && return 0
		grep -q 'locked by another process' "$log" || return 1
		sleep 2
	done
	return 1
}
# conf_value KEY: a setting's value in the installed forcetls.conf (first match).
conf_value() {
	sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\\([^\"]*\\)\";.*/\\1/p" \
		/etc/forcetls/forcetls.conf | head -1
}
# unit_value UNIT KEY: the last KEY= value of the installed unit.
unit_value() { sed -n "s/^$2=//p" "/lib/systemd/system/$1" | tail -1; }

# unit_exec UNIT KEY: the command lines of KEY= (ExecStartPre, ExecStart), one a line,
# without systemd's "-", "+", "!" and ":" prefixes ("@" and variables are not supported).
unit_exec() {
	sed -n "s/^$2=//p" "/lib/systemd/system/$1" | while IFS= read -r l; do
		l=${l#-}; l=${l#+}; l=${l#!!}; l=${l#!}; l=${l#:}
		case $l in @* | *'$'*) echo "UNSUPPORTED $l"; continue ;; esac
		echo "$l"
	done
}

# unit_start NAME UNIT: ExecStartPre= (each must succeed), then ExecStart= in the
# background, in the namespace, as the unit's User=/Group= with NoNewPrivileges= and
# its RuntimeDirectory=/StateDirectory= made; the pid goes to $T/NAME.pid.
unit_start() {
	local name=$1 unit=$2 user group spx=() d l pre start
	user=$(unit_value "$unit" User) group=$(unit_value "$unit" Group)
	[ -n "$user" ] && [ -z "$group" ] && group=$(id -gn "$user")
	[ -n "$user" ] && spx+=(--reuid="$user" --regid="$group" --init-groups)
	[ "$(unit_value "$unit" NoNewPrivileges)" = yes ] && spx+=(--no-new-privs)
	for d in $(unit_value "$unit" RuntimeDirectory); do
		install -d -o "${user:-root}" -g "${group:-root}" \
			-m "$(unit_value "$unit" RuntimeDirectoryMode | grep . || echo 0755)" "/run/$d"
		echo "/run/$d" >>"$T/$name.rundirs"
	done
	for d in $(unit_value "$unit" StateDirectory); do
		install -d -o "${user:-root}" -g "${group:-root}" -m 0755 "/var/lib/$d"
	done
	[ ${#spx[@]} -gt 0 ] && spx=(setpriv "${spx[@]}")
	pre=$(unit_exec "$unit" ExecStartPre) start=$(unit_exec "$unit" ExecStart)
	case "$pre$start" in *UNSUPPORTED*) fail "$unit: $pre $start: not supported here" ;; esac
	[ "$(echo "$start" | grep -c .)" = 1 ] || fail "$unit: not one ExecStart= line: $start"
	while IFS= read -r l; do
		[ -n "$l" ] || continue
		# shellcheck disable=SC2086
		ip netns exec "$NS" "${spx[@]}" $l >>"$T/$name.log" 2>&1 ||
			{ cat "$T/$name.log"; fail "$unit: ExecStartPre=$l failed"; }
	done <<<"$pre"
	# shellcheck disable=SC2086
	ip netns exec "$NS" "${spx[@]}" $start >>"$T/$name.log" 2>&1 &
	echo $! >"$T/$name.pid"
	pids="$pids $!"
}

# unit_stop NAME: SIGTERM, and the daemon exits 0 within 10 s.
unit_stop() {
	local pid rc
	pid=$(cat "$T/$1.pid")
	kill -TERM "$pid" || fail "$1 is not running"
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -0 "$pid" 2>/dev/null && fail "$1 did not stop on SIGTERM"
	wait "$pid"
	rc=$?
	[ $rc = 0 ] || { cat "$T/$1.log"; fail "$1 exited $rc on SIGTERM"; }
	pids=$(echo "$pids" | sed "s/ $pid\\b//")
	if [ -f "$T/$1.rundirs" ]; then # systemd removes RuntimeDirectory= at stop
		xargs rm -rf <"$T/$1.rundirs"
		rm -f "$T/$1.rundirs"
	fi
}

# wait_probe SECONDS ARGS...: probe.py ARGS in the namespace until it succeeds; its
# output on stdout.
wait_probe() {
	local n=$(($1 * 5))
	shift
	for _ in $(seq "$n"); do
		ip netns exec "$NS" python3 "$here/probe.py" "$@" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# run_daemons: start both, check them, leave them running.
run_daemons() {
	local sm ml map ans p u
	sm=$(conf_value socketmap_listen) ml=$(conf_value listen) map=$(conf_value map_name)
	[ -n "$sm" ] && [ -n "$ml" ] && [ -n "$map" ] || fail "forcetls.conf: no socketmap_listen, listen or map_name"
	: >"$T/policyd.log"
	: >"$T/milter.log"
	unit_start policyd forcetls-policyd.service
	unit_start milter forcetls-milter.service
	ans=$(wait_probe 10 socketmap "$sm" "$map" nothing-listed.example) ||
		{ cat "$T/policyd.log"; fail "policyd does not answer on $sm"; }
	[ "$ans" = "NOTFOUND " ] || fail "policyd: an unlisted domain: '$ans'"
	wait_probe 10 milter "$ml" >/dev/null ||
		{ cat "$T/milter.log"; fail "the milter does not negotiate on $ml"; }
	case $ml in unix:*) [ -S "${ml#unix:}" ] || fail "no milter socket ${ml#unix:}" ;; esac
	for p in policyd milter; do
		u=$(ps -o user= -p "$(cat "$T/$p.pid")")
		[ "$u" = forcetls ] || fail "$p runs as '$u', not forcetls"
		[ "$(stat -c %U "/var/lib/forcetls/$p.state" 2>/dev/null)" = forcetls ] ||
			{ cat "$T/$p.log"; fail "$p wrote no state file /var/lib/forcetls/$p.state"; }
	done
}

ip netns add "$NS" || fail "ip netns add failed"
ip -n "$NS" link set lo up || fail "cannot bring lo up in $NS"
dpkg_run "$T/dpkg-i1.log" -i "$deb1" || { cat "$T/dpkg-i1.log"; fail "dpkg -i $(basename "$deb1")"; }
[ "$(dpkg-query -W -f='${Version}' forcetls)" = "$version-1" ] || fail "version after dpkg -i"
getent passwd forcetls >/dev/null || fail "dpkg -i created no user forcetls"
for d in /var/lib/forcetls /var/spool/forcetls; do
	[ "$(stat -c '%U:%G %a' $d 2>/dev/null)" = "forcetls:forcetls 750" ] ||
		fail "$d: $(stat -c '%U:%G %a' $d 2>&1)"
done
if getent group postfix >/dev/null; then
	[ "$(stat -c '%U:%G %a' /var/spool/postfix/forcetls 2>/dev/null)" = "forcetls:postfix 2750" ] ||
		fail "/var/spool/postfix/forcetls: $(stat -c '%U:%G %a' /var/spool/postfix/forcetls 2>&1)"
fi
run_daemons
grep -q "0 entries" "$T/policyd.log" || { cat "$T/policyd.log"; fail "policyd did not log its empty table"; }
unit_stop policyd
unit_stop milter
echo "ok 3 - dpkg -i: user forcetls, both daemons up from the units' ExecStart= and the installed config, stopped"

# --- 4. upgrade with a changed conffile --------------------------------------------
echo "bigbank.example encrypt # the admin's entry" >>/etc/forcetls/forced-tls.table
cp /etc/forcetls/forced-tls.table "$T/admin.table"
dpkg-deb -x "$deb2" "$T/x2"
cmp -s "$T/x1/etc/forcetls/forcetls.conf" "$T/x2/etc/forcetls/forcetls.conf" &&
	fail "version 2 ships the same forcetls.conf"
dpkg_run "$T/dpkg-i2.log" -i --force-confold "$deb2" ||
	{ cat "$T/dpkg-i2.log"; fail "dpkg -i --force-confold $(basename "$deb2")"; }
[ "$(dpkg-query -W -f='${Version}' forcetls)" = "$version-2" ] || fail "version after the upgrade"
cmp -s /etc/forcetls/forced-tls.table "$T/admin.table" || fail "the upgrade replaced the admin's table"
cmp -s /etc/forcetls/forced-tls.table.dpkg-dist "$T/x2/etc/forcetls/forced-tls.table" ||
	fail "no forced-tls.table.dpkg-dist with version 2's table"
cmp -s /etc/forcetls/forcetls.conf "$T/x2/etc/forcetls/forcetls.conf" ||
	fail "the untouched forcetls.conf was not updated"
ls /etc/forcetls/forcetls.conf.dpkg-* 2>/dev/null && fail "dpkg left a copy of forcetls.conf"
run_daemons
ans=$(wait_probe 5 socketmap "$(conf_value socketmap_listen)" "$(conf_value map_name)" bigbank.example)
[ "$ans" = "OK encrypt" ] || fail "policyd after the upgrade: bigbank.example: '$ans'"
unit_stop policyd
unit_stop milter
echo "ok 4 - upgrade to $version-2: the admin's table kept (--force-confold), forcetls.conf updated, daemons serve it"

# --- 5. purge ------------------------------------------------------------------------
dpkg_run "$T/purge.log" --purge forcetls || { cat "$T/purge.log"; fail "dpkg --purge"; }
dpkg-query -W -f='${Status}' forcetls 2>/dev/null | grep -qv "not-installed" &&
	fail "forcetls still known to dpkg: $(dpkg-query -W -f='${Status}' forcetls)"
left=$(for f in $(awk '{print $6}' <(dpkg-deb -c "$deb2") | sed 's|^\./|/|'); do
	[ -e "$f" ] && [ ! -d "$f" ] && echo "$f"
done)
[ -z "$left" ] || fail "left after purge: $left"
for d in /etc/forcetls /var/lib/forcetls /var/spool/postfix/forcetls /var/spool/forcetls /usr/share/doc/forcetls; do
	[ -e "$d" ] && fail "left after purge: $d ($(ls -A "$d"))"
done
left=$(find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled \
	/var/lib/systemd/deb-systemd-helper-masked -name '*forcetls*' 2>/dev/null)
[ -z "$left" ] || fail "unit enablement left after purge: $left"
getent passwd forcetls >/dev/null || fail "purge removed the user forcetls (Debian keeps it)"
echo "ok 5 - purge: nothing of the package left; the user forcetls stays"
