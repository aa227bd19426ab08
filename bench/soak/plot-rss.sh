#!/bin/bash
# bench/soak/plot-rss.sh - draw the RSS of both daemons over a soak run (bench/soak/soak.sh's
# rss.csv) with gnuplot into a PNG: VmRSS of forcetls-policyd and forcetls-milter in MB
# against minutes, VmHWM dashed, and the messages sent so far on the right axis.
#
#   plot-rss.sh CSV PNG [TITLE]
set -u
csv=${1:?usage: plot-rss.sh CSV PNG [TITLE]} png=${2:?usage: plot-rss.sh CSV PNG [TITLE]}
title=${3:-forcetls soak: daemon memory under sustained load, table reload every 30 s}
command -v gnuplot >/dev/null || { echo "plot-rss: gnuplot missing (Debian: gnuplot-nox)" >&2; exit 2; }
[ "$(head -1 "$csv")" = t_s,policyd_rss_kb,policyd_hwm_kb,policyd_fds,milter_rss_kb,milter_hwm_kb,milter_fds,sent ] ||
	{ echo "plot-rss: $csv: not a soak.sh rss.csv" >&2; exit 2; }
[ "$(wc -l <"$csv")" -ge 3 ] || { echo "plot-rss: $csv: fewer than 2 samples" >&2; exit 2; }
gnuplot <<EOF || exit 1
set terminal pngcairo size 1000,560 font "DejaVu Sans,10"
set output "$png"
set datafile separator ","
set key top left box opaque
set title "${title//\"/\\\"}"
set xlabel "minutes"
set ylabel "MB (VmRSS solid, VmHWM dashed)"
set y2label "messages sent"
set yrange [0:*]
set y2range [0:*]
set ytics nomirror
set y2tics
set grid
plot "$csv" every ::1 using (\$1/60):(\$2/1024) with linespoints lw 2 pt 7 ps 0.5 lc rgb "#1f77b4" title "forcetls-policyd RSS", \
     "$csv" every ::1 using (\$1/60):(\$3/1024) with lines dt 2 lc rgb "#1f77b4" title "forcetls-policyd HWM", \
     "$csv" every ::1 using (\$1/60):(\$5/1024) with linespoints lw 2 pt 7 ps 0.5 lc rgb "#d62728" title "forcetls-milter RSS", \
     "$csv" every ::1 using (\$1/60):(\$6/1024) with lines dt 2 lc rgb "#d62728" title "forcetls-milter HWM", \
     "$csv" every ::1 using (\$1/60):8 axes x1y2 with lines lc rgb "#888888" title "messages sent (right)"
EOF
[ -s "$png" ] || { echo "plot-rss: gnuplot wrote no $png" >&2; exit 1; }
echo "$png"
