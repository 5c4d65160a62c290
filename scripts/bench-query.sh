#!/usr/bin/env bash
# Logs Insights query speed: flowwatch against ClickHouse 18.16 on the same records.
#
#   scripts/bench-query.sh                 # 10,000,000 records of each format
#   N=2000000 scripts/bench-query.sh       # smaller; RUNS=5 for a median of 5
#   BENCH_DIR=/var/tmp/bq KEEP=1 scripts/bench-query.sh   # keep the data for another run
#
# N records in the default format (Q1-Q6) and N in the knowledge-center 27-field custom
# format (Q7) come from `flowwatch gen` (deterministic). flowwatch: `flowwatch import` into a
# fresh data dir (compacted), then `flowwatch serve` on it; every query goes through
# `flowwatch query --endpoint` (StartQuery + GetQueryResults polling, SigV4, JSON, result
# printing; polled every 10 ms, so a result waits at most that long), so the figure includes
# the API. ClickHouse: scripts/clickhouse.sh, typed
# MergeTree tables (CH_FLOW_TABLE and a 27-column one: addresses FixedString(16), IPv4 as
# IPv4-mapped IPv6; integers Nullable(UIntN); action, log-status, flow-direction Enum8),
# OPTIMIZE FINAL after the load, each query through clickhouse-client (its start-up
# included, as flowwatch query's is).
# Q6: ClickHouse uniqExact, because flowwatch's count_distinct is exact (uniq, the
# approximate one, is faster and would not compute the same thing).
# Each query runs RUNS times (default 3) on each side, in one run of this script; the
# median is reported with the flowwatch/ClickHouse ratio, then Q7/Q1 on flowwatch, the
# server's peak RSS (VmHWM) over its RSS after start-up, and bytes per record on disk.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/clickhouse.sh

N=${N:-10000000}
RUNS=${RUNS:-3}
PORT=${FW_PORT:-14566}
work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
fwpid=
cleanup() {
  [[ -n "$fwpid" ]] && kill "$fwpid" 2>/dev/null && wait "$fwpid" 2>/dev/null
  ch_stop || true
  [[ -z "${KEEP:-}" ]] && rm -rf "$work"
  return 0
}
trap cleanup EXIT

KC_FORMAT='${account-id} ${vpc-id} ${subnet-id} ${interface-id} ${instance-id} ${srcaddr} ${srcport} ${dstaddr} ${dstport} ${protocol} ${packets} ${bytes} ${action} ${log-status} ${start} ${end} ${flow-direction} ${traffic-path} ${tcp-flags} ${pkt-srcaddr} ${pkt-src-aws-service} ${pkt-dstaddr} ${pkt-dst-aws-service} ${region} ${az-id} ${sublocation-type} ${sublocation-id}'
KC_PARSE='parse @message "* * * * * * * * * * * * * * * * * * * * * * * * * * *" as account_id, vpc_id, subnet_id, interface_id,instance_id, srcaddr, srcport, dstaddr, dstport, protocol, packets, bytes, action, log_status, start, end, flow_direction, traffic_path, tcp_flags, pkt_srcaddr, pkt_src_aws_service, pkt_dstaddr, pkt_dst_aws_service, region, az_id, sublocation_type, sublocation_id'

fw=$work/flowwatch
go build -o "$fw" ./cmd/flowwatch
echo "# $N records per format, $RUNS runs per query, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# --- data ----------------------------------------------------------------------------
if [[ ! -s "$work/default.log.gz" ]]; then
  "$fw" gen --records "$N" --out "$work/default.log.gz"
  "$fw" gen --records "$N" --format "$KC_FORMAT" --header --out "$work/kc.log.gz"
fi

# --- flowwatch: import, then serve ---------------------------------------------------
rm -rf "$work/fw-data"
t0=$(date +%s.%N)
"$fw" import --data-dir "$work/fw-data" --log-group vpc --quiet "$work/default.log.gz"
"$fw" import --data-dir "$work/fw-data" --log-group kc --quiet "$work/kc.log.gz"
echo "# flowwatch import of 2x$N records: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
export FLOWWATCH_ACCESS_KEY_ID=AKIABENCHQUERY000001 FLOWWATCH_SECRET_ACCESS_KEY=bench/query/secret/0123456789abcdef
"$fw" serve --listen "127.0.0.1:$PORT" --data-dir "$work/fw-data" --capture=false >"$work/serve.log" 2>&1 &
fwpid=$!
for _ in $(seq 1 200); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/health" >/dev/null || { echo "serve did not start: $(cat "$work/serve.log")" >&2; exit 1; }
rss0=$(awk '/^VmRSS/{print $2}' "/proc/$fwpid/status")
fwq() {
  AWS_ACCESS_KEY_ID=$FLOWWATCH_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$FLOWWATCH_SECRET_ACCESS_KEY AWS_REGION=us-east-1 \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$fw" query --endpoint "http://127.0.0.1:$PORT" --poll 10ms --format csv --log-group "$1" "$2"
}

# --- ClickHouse: typed tables, bulk load, merged -------------------------------------
# Flow log text to TSV: "-" in an integer column is NULL (\N); string columns keep "-".
to_tsv() { # $1: space-separated 1-based positions of integer columns
  awk -v ints="$1" 'BEGIN { OFS = "\t"; n = split(ints, a, " "); for (i = 1; i <= n; i++) isint[a[i]] = 1 }
    NR == 1 && ($1 == "version" || $1 == "account-id") { next }
    { $1 = $1; for (i = 1; i <= NF; i++) if (isint[i] && $i == "-") $i = "\\N"; print }'
}
rm -rf "$work/ch"
ch_start "$work/ch"
ch_query "$CH_FLOW_TABLE"
KC_COLUMNS="account_id String, vpc_id String, subnet_id String, interface_id String, instance_id String,
  srcaddr FixedString(16), srcport Nullable(UInt16), dstaddr FixedString(16), dstport Nullable(UInt16), protocol Nullable(UInt8),
  packets Nullable(UInt64), bytes Nullable(UInt64), action Enum8('-' = 0, 'ACCEPT' = 1, 'REJECT' = 2),
  log_status Enum8('-' = 0, 'OK' = 1, 'NODATA' = 2, 'SKIPDATA' = 3), start UInt32, end UInt32,
  flow_direction Enum8('-' = 0, 'ingress' = 1, 'egress' = 2), traffic_path Nullable(UInt8), tcp_flags Nullable(UInt16),
  pkt_srcaddr FixedString(16), pkt_src_aws_service String, pkt_dstaddr FixedString(16), pkt_dst_aws_service String,
  region String, az_id String, sublocation_type String, sublocation_id String"
ch_query "CREATE TABLE kcflows ($KC_COLUMNS) ENGINE = MergeTree ORDER BY (interface_id, start)"
t0=$(date +%s.%N)
zcat "$work/default.log.gz" | to_tsv "1 6 7 8 9 10 11 12" | ch_load_typed flows "${CH_FLOW_COLUMNS//FixedString(16)/String}" "srcaddr dstaddr"
zcat "$work/kc.log.gz" | to_tsv "7 9 10 11 12 15 16 18 19" | ch_load_typed kcflows "${KC_COLUMNS//FixedString(16)/String}" "srcaddr dstaddr pkt_srcaddr pkt_dstaddr"
ch_query 'OPTIMIZE TABLE flows FINAL'
ch_query 'OPTIMIZE TABLE kcflows FINAL'
echo "# ClickHouse load of 2x$N records (gunzip + awk + INSERT + OPTIMIZE): $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
[[ "$(ch_query 'SELECT count() FROM flows')" == "$N" && "$(ch_query 'SELECT count() FROM kcflows')" == "$N" ]] || {
  echo "ClickHouse holds $(ch_query 'SELECT count() FROM flows') / $(ch_query 'SELECT count() FROM kcflows') rows, want $N" >&2
  exit 1
}

# Q4's rare source address: one that occurs in at most 3 records.
rare=$(ch_query "SELECT replaceOne(IPv6NumToString(srcaddr), '::ffff:', '') AS a FROM flows WHERE startsWith(IPv6NumToString(srcaddr), '::ffff:') GROUP BY srcaddr HAVING count() <= 3 ORDER BY a LIMIT 1")

FW=(
  'stats sum(bytes) as b by srcaddr, dstaddr | sort b desc | limit 10'
  'filter action="REJECT" and protocol=6 and dstport=22 | stats sum(bytes) as b by srcaddr | sort b desc | limit 10'
  'stats sum(bytes) by bin(1m)'
  "filter srcaddr = \"$rare\" | sort start desc | limit 20"
  'stats count(*)'
  'stats count_distinct(srcaddr)'
  "$KC_PARSE | stats sum(bytes) as Data_Transferred by srcaddr, dstaddr, flow_direction | sort by Data_Transferred desc | limit 2"
)
FW_GROUP=(vpc vpc vpc vpc vpc vpc kc)
# Addresses are typed (FixedString(16)): only the rows printed are turned into text.
CH=(
  'SELECT IPv6NumToString(srcaddr), IPv6NumToString(dstaddr), b FROM (SELECT srcaddr, dstaddr, sum(bytes) AS b FROM flows GROUP BY srcaddr, dstaddr ORDER BY b DESC LIMIT 10)'
  "SELECT IPv6NumToString(srcaddr), b FROM (SELECT srcaddr, sum(bytes) AS b FROM flows WHERE action = 'REJECT' AND protocol = 6 AND dstport = 22 GROUP BY srcaddr ORDER BY b DESC LIMIT 10)"
  'SELECT toStartOfMinute(toDateTime(start)) AS m, sum(bytes) FROM flows GROUP BY m ORDER BY m DESC'
  "SELECT version, account_id, interface_id, IPv6NumToString(srcaddr), IPv6NumToString(dstaddr), srcport, dstport, protocol, packets, bytes, start, end, action, log_status FROM flows WHERE srcaddr = IPv4ToIPv6(IPv4StringToNum('$rare')) ORDER BY start DESC LIMIT 20"
  'SELECT count() FROM flows'
  'SELECT uniqExact(srcaddr) FROM flows'
  'SELECT IPv6NumToString(srcaddr), IPv6NumToString(dstaddr), flow_direction, d FROM (SELECT srcaddr, dstaddr, flow_direction, sum(bytes) AS d FROM kcflows GROUP BY srcaddr, dstaddr, flow_direction ORDER BY d DESC LIMIT 2)'
)

# median of RUNS wall times (seconds) of a command, its output discarded.
median() {
  local ts=() s e
  for _ in $(seq 1 "$RUNS"); do
    s=$(date +%s%N)
    "$@" >/dev/null
    e=$(date +%s%N)
    ts+=("$(awk -v d=$((e - s)) 'BEGIN{printf "%.3f", d/1e9}')")
  done
  printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'
}

# Both sides must agree before they are timed.
fw_count=$(fwq vpc 'stats count(*)' | tail -1)
fw_distinct=$(fwq vpc 'stats count_distinct(srcaddr)' | tail -1)
fw_top=$(fwq vpc "${FW[0]}" | sed -n 2p | awk -F, '{print $3}')
ch_top=$(ch_query "${CH[0]}" | head -1 | cut -f3)
fw_top2=$(fwq vpc "${FW[1]}" | sed -n 2p | awk -F, '{print $2}')
ch_top2=$(ch_query "${CH[1]}" | head -1 | cut -f2)
fw_top7=$(fwq kc "${FW[6]}" | sed -n 2p | awk -F, '{print $4}')
ch_top7=$(ch_query "${CH[6]}" | head -1 | cut -f4)
echo "# check: count $fw_count / $(ch_query "${CH[4]}"), distinct srcaddr $fw_distinct / $(ch_query "${CH[5]}"), top sums Q1 $fw_top / $ch_top, Q2 $fw_top2 / $ch_top2, Q7 $fw_top7 / $ch_top7 (flowwatch / ClickHouse)"

printf '%-4s %12s %12s %8s\n' query flowwatch_s clickhouse_s ratio
fwt=()
for i in "${!FW[@]}"; do
  a=$(median fwq "${FW_GROUP[$i]}" "${FW[$i]}")
  b=$(median ch_query "${CH[$i]}")
  fwt+=("$a")
  printf 'Q%-3d %12s %12s %8s\n' $((i + 1)) "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", a/b}')"
done
echo "Q7/Q1 (flowwatch): $(awk -v a="${fwt[6]}" -v b="${fwt[0]}" 'BEGIN{printf "%.2f", a/b}')"
hwm=$(awk '/^VmHWM/{print $2}' "/proc/$fwpid/status")
echo "flowwatch server RSS: peak $((hwm / 1024)) MiB, $((rss0 / 1024)) MiB after start-up (+$(((hwm - rss0) / 1024)) MiB for the queries)"
fwb=$(du -sb "$work/fw-data" | cut -f1)
chb=$(du -sb "$work/ch/data/data/default" | cut -f1)
echo "on disk (after merges): flowwatch $(awk -v b="$fwb" -v n="$N" 'BEGIN{printf "%.1f", b/(2*n)}') bytes/record, ClickHouse $(awk -v b="$chb" -v n="$N" 'BEGIN{printf "%.1f", b/(2*n)}') bytes/record (both tables)"
