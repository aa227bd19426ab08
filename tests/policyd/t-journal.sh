#!/bin/sh
# t-journal.sh - both daemons' log lines on systemd's journal carry their priority.
#
# usage: t-journal.sh POLICYD MILTER
#
# systemd sets JOURNAL_STREAM=DEVICE:INODE of the stream it connects to
# stderr. When it names our stderr, an error line starts "<3>" (sd-daemon(3):
# journald stores it at err, so "journalctl -p warning" shows it); when it names
# another stream (inherited by a process whose stderr was redirected) or is
# unset, the line is "TIMESTAMP IDENT: ". A missing configuration file gives an
# error line from each daemon. The test's own stderr file stands in for the journal.
set -u
bad=0
f=$(mktemp) g=$(mktemp)
trap 'rm -f "$f" "$g"' EXIT
journal=$(stat -c '%d:%i' "$f")
expect() { # what file want label
	case $(cat "$2") in
	$3) ;;
	*) echo "$1 $4: want $3, got: $(cat "$2")"; bad=1 ;;
	esac
}
for bin in "$@"; do
	name=$(basename "$bin")
	JOURNAL_STREAM=$journal "$bin" --foreground --config /nonexistent/forcetls.conf 2>"$f" >/dev/null
	expect "$name" "$f" "<3>*" "on the journal"
	JOURNAL_STREAM=$journal "$bin" --foreground --config /nonexistent/forcetls.conf 2>"$g" >/dev/null
	expect "$name" "$g" "[0-9][0-9][0-9][0-9]-* $name: *" "with another stream's JOURNAL_STREAM"
	env -u JOURNAL_STREAM "$bin" --foreground --config /nonexistent/forcetls.conf 2>"$g" >/dev/null
	expect "$name" "$g" "[0-9][0-9][0-9][0-9]-* $name: *" "without JOURNAL_STREAM"
done
[ $bad -eq 0 ] && echo "ok: priorities on the journal, timestamps elsewhere"
exit $bad
