# make bench: the SVG charts of tests/bench/, from the data files run.sh writes into build/bench/
# (tab-separated, a header row naming the columns, one row per peer). gnuplot-nox (Debian).
# usage: gnuplot -e "data='build/bench'; out='tests/bench'; stamp='...'" tests/bench/charts.gp
set terminal svg size 760,420 dynamic font "sans,12" background "#ffffff"
set datafile separator "\t"
set style data histogram
set style histogram clustered gap 1.5 errorbars linewidth 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left autotitle columnhead noenhanced
set grid ytics lc rgb "#dddddd"
set xtics nomirror noenhanced
set ytics nomirror
set border 3
set linetype 1 lc rgb "#1b6ca8"
set linetype 2 lc rgb "#e07b39"
set linetype 3 lc rgb "#6a9f3a"
set linetype 4 lc rgb "#9b59b6"

# Cold start: exec -> ready, exec -> first 202 through TLS to the mock of ACS (median, p10-p90
# bars), host-simulated cold start of each deploy ZIP; log scale, milliseconds.
set output out."/chart-coldstart.svg"
set title "Cold start, ms (log scale; bars p10-p90; lower is better)\n".stamp noenhanced
set logscale y
set yrange [0.1:*]
set ylabel "ms"
plot data."/chart-coldstart.dat" using 2:3:4:xtic(1) title columnhead(2), \
     '' using 5:6:7 title columnhead(5), \
     '' using 8:9:10 title columnhead(8)

# Deploy size: the artefact and the custom-handler ZIP of each peer; log scale, KiB.
set style histogram clustered gap 1.5
set output out."/chart-deploy-size.svg"
set title "Deploy size, KiB (log scale; lower is better)\n".stamp noenhanced
set yrange [1:*]
set ylabel "KiB"
plot data."/chart-size.dat" using ($2/1024):xtic(1) title columnhead(2), \
     '' using ($3/1024) title columnhead(3)

# Memory: idle RSS and peak RSS after one answer through TLS, MiB, linear.
unset logscale y
set output out."/chart-rss.svg"
set title "Memory, MiB (lower is better)\n".stamp noenhanced
set yrange [0:*]
set ylabel "MiB"
plot data."/chart-rss.dat" using ($2/1024):xtic(1) title columnhead(2), \
     '' using ($3/1024) title columnhead(3), \
     '' using 0:($3/1024):(sprintf("%.1f", $3/1024)) with labels offset char 1.2,0.7 notitle

# Throughput: sends/s through TLS to the Go mock of ACS (wrk, kept-alive), linear.
set output out."/chart-throughput.svg"
set title "Sends/s through TLS to the Go mock of ACS (higher is better)\n".stamp noenhanced
set ylabel "sends/s"
set key off
plot data."/chart-throughput.dat" using 2:xtic(1) title columnhead(2), \
     '' using 0:2:(sprintf("%.0f", $2)) with labels offset char 0,0.7 notitle
