#!/bin/sh
# NAME
#	check-sizes.sh - no production C file over 600 lines, no function over 80
# SUMMARY
#	check-sizes.sh [-a ALLOWFILE] [SOURCE_DIR]
# DESCRIPTION
#	Checks every *.c and *.h file under common/, tlsmaps/, policyd/ and
#	milter/ of SOURCE_DIR (default: the checkout this script is in); tests/
#	and bench/ are not production code and are not checked.
#
#	- A file may have at most 600 lines (wc -l).
#	- A function may have at most 80 lines, counted from the line of its
#	  opening brace at column 0 to the line of its closing brace at column 0,
#	  both included (clang-format's Linux brace style puts both there). The
#	  function is named by the identifier before the first '(' on the line
#	  that starts its declaration (the last line at column 0 before the
#	  brace that is not a comment, a preprocessor line or a brace).
#
#	ALLOWFILE (default tests/style/sizes.allow) lists violations that are
#	known and being fixed: one "FILE" (a file over 600 lines) or
#	"FILE:FUNCTION" (a function over 80 lines) per line, FILE relative to
#	SOURCE_DIR, each followed by a "# reason" comment. Blank lines and lines
#	starting with '#' are ignored. An entry that is no longer a violation
#	is an error too, so that the list only shrinks.
# DIAGNOSTICS
#	One line per violation on stdout:
#	  FILE: N lines (limit 600)
#	  FILE:LINE: FUNCTION: N lines (limit 80)
#	Exit 0 when every violation is allowed and every entry is used, 1
#	otherwise, 2 on usage errors.
set -eu

FILE_MAX=600
FUNC_MAX=80

here=$(cd "$(dirname "$0")" && pwd)
allow=
while getopts a: opt; do
	case $opt in
	a) allow=$OPTARG ;;
	*) echo "usage: $0 [-a ALLOWFILE] [SOURCE_DIR]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
src=${1:-$here/../..}
src=$(cd "$src" && pwd)
[ -n "$allow" ] || allow=$src/tests/style/sizes.allow

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Allowlist: "ENTRY # comment" -> ENTRY; a line without a comment is an error.
: >"$tmp/allow"
bad_allow=0
if [ -f "$allow" ]; then
	n=0
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		case $line in
		'' | '#'*) continue ;;
		*'#'*) ;;
		*)
			echo "$allow:$n: entry without a '# reason' comment: $line"
			bad_allow=1
			continue
			;;
		esac
		entry=$(printf '%s\n' "${line%%#*}" | sed 's/[[:space:]]*$//; s/^[[:space:]]*//')
		[ -n "$entry" ] && printf '%s\n' "$entry" >>"$tmp/allow"
	done <"$allow"
fi

cd "$src"
find common tlsmaps policyd milter -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null |
	LC_ALL=C sort >"$tmp/files"

# Every violation as "KEY<TAB>MESSAGE", KEY being FILE or FILE:FUNCTION.
: >"$tmp/found"
while IFS= read -r f; do
	lines=$(wc -l <"$f")
	if [ "$lines" -gt "$FILE_MAX" ]; then
		printf '%s\t%s: %d lines (limit %d)\n' "$f" "$f" "$lines" "$FILE_MAX" >>"$tmp/found"
	fi
	awk -v file="$f" -v max="$FUNC_MAX" '
		function name_of(s,    m) {
			if (match(s, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)) {
				m = substr(s, RSTART, RLENGTH - 1)
				sub(/[ \t]+$/, "", m)
				return m
			}
			return "(unnamed)"
		}
		/^\{/ && open == 0 { open = NR; fname = name_of(sig); next }
		/^\}/ && open > 0 {
			n = NR - open + 1
			if (n > max)
				printf "%s:%s\t%s:%d: %s: %d lines (limit %d)\n", file, fname, file, open, fname, n, max
			open = 0
			next
		}
		open == 0 && /^[A-Za-z_]/ { sig = $0 }
	' "$f" >>"$tmp/found"
done <"$tmp/files"

status=$bad_allow
# Violations not allowed.
while IFS="$(printf '\t')" read -r key msg; do
	if ! grep -qxF -- "$key" "$tmp/allow"; then
		echo "$msg"
		status=1
	fi
done <"$tmp/found"
# Allowed, but no longer a violation (or misspelled).
cut -f1 "$tmp/found" >"$tmp/keys"
while IFS= read -r entry; do
	if ! grep -qxF -- "$entry" "$tmp/keys"; then
		echo "$allow: $entry is within the limits now (or not found): remove its line"
		status=1
	fi
done <"$tmp/allow"

nallowed=$(grep -cxFf "$tmp/allow" "$tmp/keys" || true)
if [ "$status" -eq 0 ]; then
	echo "sizes: $(wc -l <"$tmp/files") files checked; $nallowed allowed violation(s) in $allow"
fi
exit "$status"
