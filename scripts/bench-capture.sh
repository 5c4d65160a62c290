#!/usr/bin/env bash
# bench-capture.sh: decode + aggregate throughput of `flowwatch capture --pcap`
# against softflowd and pmacctd (Debian) reading the same synthetic pcap in
# the same run, with each tool's flow totals (packets, bytes) so their
# agreement is visible.
#
#   scripts/bench-capture.sh [PACKETS]      (default 10000000)
#
# Environment: FLOWWATCH (binary, built from this tree when unset), WORK
# (scratch directory, default a new one under /tmp; the pcap is kept there
# and reused when it already has the requested size), FLOWS (default 10000),
# ROUNDS (default 3): the three tools run in turn ROUNDS times and each
# figure is the median of its rounds, so a burst of load from other work on
# the machine does not land on one tool only.
#
# Packets/s are given against wall time and against CPU time (user+sys from
# /usr/bin/time, children included): CPU is the fair per-core figure, as the
# three tools use different numbers of processes and pmacctd sleeps two
# seconds before reading a savefile. The ratio is flowwatch over the fastest
# peer, by CPU and by wall time.
set -euo pipefail

PACKETS=${1:-10000000}
FLOWS=${FLOWS:-10000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/bench-capture.XXXXXX)}
mkdir -p "$WORK"

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench-capture: $1 not found (apt-get install -y ${2:-$1})" >&2; exit 1; }; }
need softflowd softflowd
need pmacctd pmacct
[ -x /usr/bin/time ] || { echo "bench-capture: /usr/bin/time not found (apt-get install -y time)" >&2; exit 1; }

if [ -z "${FLOWWATCH:-}" ]; then
	FLOWWATCH=$WORK/flowwatch
	(cd "$ROOT" && CGO_ENABLED=0 go build -o "$FLOWWATCH" ./cmd/flowwatch)
fi

PCAP=$WORK/synth-$PACKETS-$FLOWS.pcap
if [ ! -s "$PCAP" ]; then
	echo "writing $PACKETS packets ($FLOWS flows) to $PCAP" >&2
	"$FLOWWATCH" capture --write-synthetic-pcap "$PCAP" --packets "$PACKETS" --flows "$FLOWS" --snaplen 128
fi
# Warm the page cache so no tool pays for the first read.
cat "$PCAP" >/dev/null

# timed NAME CMD…: runs CMD under /usr/bin/time, leaving "wall user sys" in
# $WORK/NAME.time, stdout in NAME.out and stderr in NAME.err.
timed() {
	local name=$1
	shift
	/usr/bin/time -o "$WORK/$name.time" -f '%e %U %S' "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
}

# pmacctd: the savefile through the print plugin, aggregated on the
# 5-tuple; the CSV's last two columns are packets and bytes.
cat >"$WORK/pmacctd.conf" <<EOF
daemonize: false
pcap_savefile: $PCAP
plugins: print
aggregate: src_host, dst_host, src_port, dst_port, proto
print_output: csv
print_output_file: $WORK/pmacctd.csv
print_refresh_time: 86400
plugin_buffer_size: 10240000
plugin_pipe_size: 1024000000
EOF

ROUNDS=${ROUNDS:-3}
rm -f "$WORK"/*.time.*
for r in $(seq "$ROUNDS"); do
	echo "round $r of $ROUNDS (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
	# flowwatch: records on stdout.
	timed flowwatch "$FLOWWATCH" capture --pcap "$PCAP" --interval 600
	cp "$WORK/flowwatch.time" "$WORK/flowwatch.time.$r"
	# softflowd: exports NetFlow v9 to a closed port on loopback (nothing
	# needs to listen: its own per-protocol statistics at exit give the
	# totals, so they do not depend on a collector). -m is large enough
	# that no flow is expired early for want of room.
	timed softflowd softflowd -d -r "$PCAP" -n 127.0.0.1:9 -v 9 -m 1000000 -p "$WORK/softflowd.pid" -c none
	cp "$WORK/softflowd.time" "$WORK/softflowd.time.$r"
	rm -f "$WORK/pmacctd.csv"
	timed pmacctd pmacctd -f "$WORK/pmacctd.conf"
	cp "$WORK/pmacctd.time" "$WORK/pmacctd.time.$r"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# Totals (the same every round) from the last one. flowwatch's default
# format: packets is field 9, bytes field 10.
read -r FW_P FW_B FW_N < <(awk '$14 == "OK" { p += $9; b += $10; n++ } END { printf "%.0f %.0f %.0f\n", p, b, n }' "$WORK/flowwatch.out")
read -r SF_P SF_B SF_N < <(awk '
	/^ *flushed *=/ { n = $3 }
	/^ *[a-z0-9-]+ \([0-9]+\): / { b += $(NF-3); p += $(NF-2) }
	END { printf "%.0f %.0f %.0f\n", p, b, n }' "$WORK/softflowd.out" "$WORK/softflowd.err")
read -r PM_P PM_B PM_N < <(awk -F, 'NR > 1 { p += $(NF-1); b += $NF; n++ } END { printf "%.0f %.0f %.0f\n", p, b, n }' "$WORK/pmacctd.csv")

# median NAME: writes "wall user sys" to NAME.median: the median wall time
# of the rounds, and user and sys of the round with the median CPU time.
median() {
	local w c
	w=$(awk '{ print $1 }' "$WORK/$1".time.* | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	c=$(awk '{ print $2 + $3, $2, $3 }' "$WORK/$1".time.* | sort -g | awk '{ a[NR] = $2 " " $3 } END { print a[int((NR + 1) / 2)] }')
	echo "$w $c" >"$WORK/$1.median"
}
median flowwatch
median softflowd
median pmacctd

row() { # name packets bytes records timefile
	read -r wall user sys <"$5"
	awk -v name="$1" -v n="$PACKETS" -v p="$2" -v b="$3" -v r="$4" -v w="$wall" -v u="$user" -v s="$sys" 'BEGIN {
		cpu = u + s; if (cpu <= 0) cpu = 0.01; if (w <= 0) w = 0.01
		printf "%-10s %10.2f %10.2f %14.0f %14.0f %12.0f %14.0f %9.0f\n", name, w, cpu, n / w, n / cpu, p, b, r }'
}
echo
echo "pcap: $PCAP ($PACKETS packets, $FLOWS flows, $(du -hL "$PCAP" | cut -f1))"
echo "medians of $ROUNDS rounds; load average at the end $LOAD_END ($(nproc) cores)"
printf "%-10s %10s %10s %14s %14s %12s %14s %9s\n" tool wall_s cpu_s pkts/s_wall pkts/s_cpu packets bytes flows
row flowwatch "$FW_P" "$FW_B" "$FW_N" "$WORK/flowwatch.median"
row softflowd "$SF_P" "$SF_B" "$SF_N" "$WORK/softflowd.median"
row pmacctd "$PM_P" "$PM_B" "$PM_N" "$WORK/pmacctd.median"
for t in flowwatch softflowd pmacctd; do
	printf "%-10s cpu_s per round:" "$t"
	for f in "$WORK/$t".time.*; do awk '{ printf " %.2f", $2 + $3 }' "$f"; done
	echo
done

read -r fw_w fw_u fw_s <"$WORK/flowwatch.median"
read -r sf_w sf_u sf_s <"$WORK/softflowd.median"
read -r pm_w pm_u pm_s <"$WORK/pmacctd.median"
awk -v fw="$fw_w" -v fu="$fw_u" -v fs="$fw_s" -v sw="$sf_w" -v su="$sf_u" -v ss="$sf_s" -v pw="$pm_w" -v pu="$pm_u" -v ps="$pm_s" 'BEGIN {
	fc = fu + fs; sc = su + ss; pc = pu + ps
	bc = sc < pc ? sc : pc; bw = sw < pw ? sw : pw
	printf "\nflowwatch / fastest peer: %.2fx by CPU time, %.2fx by wall time (target >= 3x)\n", bc / fc, bw / fw }'
if [ "$FW_P" = "$SF_P" ] && [ "$FW_P" = "$PM_P" ] && [ "$FW_B" = "$PM_B" ]; then
	echo "packet totals agree; bytes: flowwatch=pmacctd=$FW_B softflowd=$SF_B"
else
	echo "totals differ: packets flowwatch=$FW_P softflowd=$SF_P pmacctd=$PM_P; bytes flowwatch=$FW_B softflowd=$SF_B pmacctd=$PM_B"
fi
echo "(flows: flowwatch counts records per 600 s window and direction, softflowd flushed flows, pmacctd 5-tuples)"
echo "(softflowd counts the bytes after the Ethernet header, so IP packets under 46 bytes count with the frame's padding;"
echo " flowwatch and pmacctd count the IP length, as AWS does)"
echo "outputs in $WORK"
