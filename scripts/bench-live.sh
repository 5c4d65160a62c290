#!/usr/bin/env bash
# bench-live.sh: live capture at a fixed packet rate across a veth pair.
#
#   scripts/bench-live.sh            (as root; DURATION=10 for a short run)
#
# Two network namespaces made for the run are joined by a veth pair;
# `flowwatch capture --interface` runs on one end (namespace A) and
# internal/capture/vethflood sends UDP frames from the other (B) at PPS
# packets/s for DURATION seconds. No traffic leaves the two namespaces, and
# both are deleted on exit.
#
# It prints the rate achieved, the ring's kernel drops and the SKIPDATA
# records (both must be 0), the packets the records count against the
# packets sent (must be equal), and the capture's CPU (user+sys over its
# lifetime, as % of one core) and peak RSS (which includes the ring: 64 MiB
# mmapped and locked).
#
# MODE=agent measures `flowwatch agent` instead: it captures the same way
# and sends the records to a `flowwatch serve` (without capture) in
# namespace A over loopback; the packet total then comes from the records
# the server stored (a Logs Insights query), and the agent's sent/spooled
# batches are shown.
#
# Environment: DURATION (default 60), PPS (default 300000), FLOWS (default
# 1000 concurrent flows), MODE (capture or agent), FLOWWATCH (binary; built
# from this tree when unset), WORK (scratch directory), STACK=1 to let namespace A's IP stack
# process the frames. By default an nftables netdev ingress hook in A drops
# them after the capture saw them (AF_PACKET taps run before that hook): the
# capture's work is the same, but the host's own UDP processing of 300k
# unwanted datagrams/s, which is not what is measured, does not compete with
# the capture and the generator for this machine's two cores. (A veth
# delivers in the sender's context, so that work is charged to the
# generator: with STACK=1 it made about 200k packets/s here at load 6.)
set -euo pipefail

DURATION=${DURATION:-60}
PPS=${PPS:-300000}
FLOWS=${FLOWS:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/bench-live.XXXXXX)}
mkdir -p "$WORK"

[ "$(id -u)" = 0 ] || { echo "bench-live: needs root (network namespaces, AF_PACKET)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-live: /usr/bin/time not found (apt-get install -y time)" >&2; exit 1; }
command -v nft >/dev/null || [ "${STACK:-}" = 1 ] || { echo "bench-live: nft not found (apt-get install -y nftables, or STACK=1)" >&2; exit 1; }

if [ -z "${FLOWWATCH:-}" ]; then
	FLOWWATCH=$WORK/flowwatch
	(cd "$ROOT" && CGO_ENABLED=0 go build -o "$FLOWWATCH" ./cmd/flowwatch)
fi
FLOOD=$WORK/vethflood
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$FLOOD" ./internal/capture/vethflood)

A=fwlivA$$ B=fwlivB$$ VA=fwla$$ VB=fwlb$$
CAP_PID=
cleanup() {
	[ -n "$CAP_PID" ] && kill "$CAP_PID" 2>/dev/null || true
	[ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$A"
ip netns add "$B"
ip link add "$VA" netns "$A" type veth peer name "$VB" netns "$B"
ip -n "$A" addr add 10.234.0.1/24 dev "$VA"
ip -n "$B" addr add 10.234.0.2/24 dev "$VB"
for ns in "$A" "$B"; do
	ip netns exec "$ns" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6'
	ip -n "$ns" link set lo up
done
ip -n "$A" link set "$VA" up
ip -n "$B" link set "$VB" up
MAC=$(ip -n "$A" -o link show "$VA" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
if [ "${STACK:-}" != 1 ]; then
	ip netns exec "$A" nft add table netdev fwbench
	ip netns exec "$A" nft add chain netdev fwbench in "{ type filter hook ingress device $VA priority 0; policy drop; }"
fi

MODE=${MODE:-capture}
SERVE_PID=
if [ "$MODE" = agent ]; then
	ip netns exec "$A" "$FLOWWATCH" serve --listen 127.0.0.1:4566 --data-dir "$WORK/serve" --capture=false \
		>"$WORK/serve.out" 2>"$WORK/serve.err" &
	SERVE_PID=$!
	for _ in $(seq 100); do
		grep -q AWS_SECRET_ACCESS_KEY "$WORK/serve.out" 2>/dev/null && break
		sleep 0.1
	done
	eval "$(grep '^export AWS_ACCESS_KEY_ID\|^export AWS_SECRET_ACCESS_KEY' "$WORK/serve.out")"
	[ -n "${AWS_SECRET_ACCESS_KEY:-}" ] || { cat "$WORK/serve.err" >&2; exit 1; }
	# Its own instance id: the server refuses to register its own host.
	CMD=("$FLOWWATCH" agent --endpoint http://127.0.0.1:4566 --interface "$VA" --interval 60 --spool-dir "$WORK/spool" --instance-id i-0b0e0c0a0f0e0b0a1)
	STARTED="msg=capturing"
else
	CMD=("$FLOWWATCH" capture --interface "$VA" --interval 60 --stats)
	STARTED="capturing on"
fi

# The capture, under /usr/bin/time -v (ip netns exec execs, so $! is time's
# pid and the capture is its child).
ip netns exec "$A" /usr/bin/time -v -o "$WORK/capture.time" "${CMD[@]}" >"$WORK/capture.out" 2>"$WORK/capture.err" &
TIME_PID=$!
for _ in $(seq 100); do
	grep -q "$STARTED" "$WORK/capture.err" 2>/dev/null && break
	sleep 0.1
done
grep -q "$STARTED" "$WORK/capture.err" || { cat "$WORK/capture.err" >&2; exit 1; }
CAP_PID=$(pgrep -P "$TIME_PID")

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ip netns exec "$B" /usr/bin/time -f '%e %U %S' -o "$WORK/flood.time" \
	"$FLOOD" -i "$VB" -dst-mac "$MAC" -src 10.234.0.2 -dst 10.234.0.1 -dport 9 \
	-flows "$FLOWS" -pps "$PPS" -duration "${DURATION}s" >"$WORK/flood.out"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
sleep 0.5 # the last block retires after the ring's 100 ms timeout
kill -TERM "$CAP_PID"
wait "$TIME_PID" || { cat "$WORK/capture.err" >&2; exit 1; }
CAP_PID=

read -r _ SENT _ _ RATE _ <"$WORK/flood.out"
RATE=${RATE#(}
read -r F_WALL F_USER F_SYS <"$WORK/flood.time"
if [ "$MODE" = agent ]; then
	# The agent's last line: msg=stopped frames=… packets=… kernel_drops=… skipdata=…
	STATS=$(grep 'msg=stopped' "$WORK/capture.err" | tr ' =' '\n ' | awk 'NF == 2 { printf "%s %s ", $1, $2 }')
	stat() { echo "$STATS" | awk -v k="${1//-/_}" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i+1) }'; }
	# What the server stored: the generator's flows, summed by a Logs
	# Insights query (the kernel's own IGMP reports are records too).
	read -r GOT NREC < <(AWS_REGION=us-east-1 ip netns exec "$A" "$FLOWWATCH" query --endpoint http://127.0.0.1:4566 \
		--log-group flowwatch-agent --format csv \
		'parse @message "* * * * * * * * * * * * * *" as v, acct, eni, src, dst, sp, dp, proto, pk, by, st, en, act, ls
		| filter src = "10.234.0.2" and dp = 9 and proto = 17 | stats sum(pk) as p, count(*) as n' |
		awk -F, 'NR == 2 { gsub(/"/, ""); printf "%.0f %d\n", $1, $2 }')
	RECS="$(stat records) records, $(stat sent) batches sent, $(stat spooled) left in the spool; the server has $NREC of the generator's flows and"
	SKIP=$(stat skipdata)
else
	STATS=$(grep '^frames ' "$WORK/capture.err")
	stat() { echo "$STATS" | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i+1) }'; }
	# Default format: srcaddr $4, dstport $7, protocol $8, packets $9, log-status $14.
	read -r GOT RECS < <(awk '$4 == "10.234.0.2" && $7 == 9 && $8 == 17 { p += $9; n++ } END { printf "%.0f %d\n", p, n }' "$WORK/capture.out")
	RECS="$RECS flow records"
	SKIP=$(awk '$14 == "SKIPDATA"' "$WORK/capture.out" | wc -l)
fi
tv() { awk -F': ' -v k="$1" '$1 ~ k { print $2 }' "$WORK/capture.time"; }
C_USER=$(tv 'User time') C_SYS=$(tv 'System time') C_WALL=$(tv 'Elapsed') C_RSS=$(tv 'Maximum resident')

echo "load average before/after: $LOAD_BEFORE / $LOAD_AFTER ($(nproc) cores)"
echo "generator: sent $SENT packets in ${F_WALL}s = $RATE pps (target $PPS), cpu user ${F_USER}s sys ${F_SYS}s"
echo "$MODE:   frames $(stat frames) kernel-drops $(stat kernel-drops) skipdata-records $SKIP undecodable $(stat undecodable)"
echo "records:   $RECS they count $GOT of the $SENT packets sent ($((SENT - GOT)) missing)"
awk -v u="$C_USER" -v s="$C_SYS" -v w="$C_WALL" -v r="$C_RSS" -v d="$DURATION" -v m="$MODE" 'BEGIN {
	n = split(w, p, ":"); wall = 0; for (i = 1; i <= n; i++) wall = wall * 60 + p[i]
	printf "%s:   cpu user %.2fs sys %.2fs over %.1fs = %.1f%% of one core; peak RSS %.1f MiB\n", m, u, s, wall, 100 * (u + s) / wall, r / 1024 }'
if [ "$(stat kernel-drops)" = 0 ] && [ "$SKIP" = 0 ] && [ "$GOT" = "$SENT" ]; then
	echo "PASS: no kernel drops, no SKIPDATA, every packet sent is in the records"
else
	echo "FAIL: drops, SKIPDATA or missing packets"
	exit 1
fi
# The generator paces itself by its running total; on a machine busy with
# other work it can fall behind, and then the run did not test the rate.
if [ "$PPS" -gt 0 ] && awk -v r="$RATE" -v p="$PPS" 'BEGIN { exit !(r < 0.99 * p) }'; then
	echo "NOTE: the generator reached only $RATE of $PPS packets/s (machine busy?): run again for the target rate"
	exit 2
fi
