#!/usr/bin/env bash
# Ingest through the API: aws-sdk-go-v2 clients send PutLogEvents batches of flow
# log records to a real `flowwatch serve` (durable store, loopback), client included.
#
#   scripts/bench-ingest.sh                  # 10,000,000 events, 4 clients
#   EVENTS=2000000 BENCH_CLIENTS=2 scripts/bench-ingest.sh
#   BENCH_INPUT=records.log scripts/bench-ingest.sh   # your own records
#
# Records come from `flowwatch gen` (default format, deterministic; RECORDS of them,
# default 1,000,000, cycled through by the clients).
#
# Batches hold 10,000 events, or fewer when the records are too long for the
# 1,048,576-byte PutLogEvents limit (default-format v2 records are ~100-130 bytes,
# so 7,000-8,000 fit); the events/batch figure says which.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-10000000}
RECORDS=${RECORDS:-1000000}
export BENCH_CLIENTS=${BENCH_CLIENTS:-4}
export BENCH_INPUT=${BENCH_INPUT:-}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/flowwatch" ./cmd/flowwatch
if [[ -z "$BENCH_INPUT" ]]; then
  "$work/flowwatch" gen --records "$RECORDS" --out "$work/records.log"
  export BENCH_INPUT=$work/records.log
fi
# Batches are filled to the 1 MiB limit (≤10,000 events), so the batch count
# is derived from the records' average size and the events wanted.
per_batch=$(awk '{ n++; b += length($0) + 26 } END { p = int(n * 1048576 / b); print (p > 10000 ? 10000 : p) }' "$BENCH_INPUT")
BATCHES=${BATCHES:-$(( (EVENTS + per_batch - 1) / per_batch ))}

out=$(go test -count=1 -run '^$' -bench '^BenchmarkIngest$' -benchtime "${BATCHES}x" ./tests/integration/ 2>&1) || {
  echo "$out" >&2
  exit 1
}
line=$(grep '^BenchmarkIngest' <<<"$out")
eps=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "events/s") print $i}' <<<"$line")
per=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "events/batch") print $i}' <<<"$line")
cpu=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "cpu-ns/event") print $i}' <<<"$line")
rss=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "server-peak-MiB") print $i}' <<<"$line")
echo "$line"
printf 'flowwatch API ingest: %.0f events/s (%s events/batch, %s batches, %s clients, %s cores)\n' \
  "$eps" "$per" "$BATCHES" "$BENCH_CLIENTS" "$(nproc)"
# CPU of client + server per event: on a busy machine wall time undercounts;
# this is what the same run would sustain on 2 otherwise idle cores.
printf 'cpu: %s ns/event (client + server) = %.0f events/s per 2 idle cores\n' "$cpu" "$(awk -v c="$cpu" 'BEGIN{print 2e9/c}')"
printf 'server peak RSS: %s MiB\n' "${rss:-?}"

# --- flowwatch import ----------------------------------------------------------------
# EVENTS records from `flowwatch gen` in one file, bulk-loaded IMPORT_RUNS times (default
# 3) into a fresh directory: median wall records/s (the whole command: load, final Compact,
# Close), CPU µs/record (user+sys), peak RSS, and bytes/record of the directory afterwards
# (after the import's own compaction). BENCH_IMPORT=0 skips it.
if [[ "${BENCH_IMPORT:-1}" == 1 ]]; then
  "$work/flowwatch" gen --records "$EVENTS" --out "$work/import.log"
  runs=${IMPORT_RUNS:-3}
  : >"$work/import.txt"
  for i in $(seq 1 "$runs"); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -f '%e %U %S %M' -o "$work/time.txt" \
      "$work/flowwatch" import --quiet --data-dir "$work/imp" --log-group flow "$work/import.log"
    read -r el us sy rss <"$work/time.txt"
    bytes=$(du -sb "$work/imp" | cut -f1)
    awk -v n="$EVENTS" -v el="$el" -v us="$us" -v sy="$sy" -v rss="$rss" -v b="$bytes" -v l="$load" \
      'BEGIN { printf "%.0f %.3f %.0f %.2f %s\n", n/el, (us+sy)*1e6/n, rss/1024, b/n, l }' >>"$work/import.txt"
    rm -rf "$work/imp"
  done
  rm -f "$work/import.log"
  median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  imp_eps=$(cut -d' ' -f1 "$work/import.txt" | median)
  printf 'flowwatch import (%s records, median of %s): %s records/s wall, %s µs CPU/record, peak RSS %s MiB, %s bytes/record on disk (load avg at start: %s)\n' \
    "$EVENTS" "$runs" "$imp_eps" "$(cut -d' ' -f2 "$work/import.txt" | median)" \
    "$(cut -d' ' -f3 "$work/import.txt" | median)" "$(cut -d' ' -f4 "$work/import.txt" | median)" "$(cut -d' ' -f5 "$work/import.txt" | tr '\n' ' ')"
fi

# --- peer comparison hook ----------------------------------------------------------
# The ClickHouse peer (scripts/clickhouse.sh: ch_start/ch_query/ch_stop, CH_FLOW_TABLE)
# goes here: load the same records (BENCH_INPUT) with clickhouse-client INSERT, set
# PEER_NAME and PEER_EPS (records/s), and the ratio below is printed.
# BENCH_PEER=none skips it; it needs default-format (14-field) records.
if [[ "${BENCH_PEER:-clickhouse}" == clickhouse && -z "${PEER_EPS:-}" ]] &&
   [[ "$(head -1 "$BENCH_INPUT" | awk '{print NF}')" == 14 ]]; then
  . scripts/clickhouse.sh
  trap 'ch_stop; rm -rf "$work"' EXIT
  ch_start "$work/ch"
  ch_query "$CH_FLOW_TABLE"
  # TSV ("-" in integer columns is NULL) is prepared before timing, as the Go
  # clients hold their records in memory before they send.
  awk 'BEGIN { OFS = "\t"; split("1 6 7 8 9 10 11 12", a, " "); for (i in a) isint[a[i]] = 1 }
    { $1 = $1; for (i = 1; i <= NF; i++) if (isint[i] && $i == "-") $i = "\\N"; print }' "$BENCH_INPUT" >"$work/records.tsv"
  nrec=$(wc -l <"$work/records.tsv")
  # The same number of events the flowwatch clients sent, cycling through
  # the records as they do, in one bulk INSERT stream (into a staging table
  # with text addresses, converted to the typed table's FixedString(16) by
  # ch_load_typed: both steps are timed).
  t0=$(date +%s%N)
  # (No `| head`: under pipefail its SIGPIPE to the writer would fail the run.)
  {
    for _ in $(seq 1 $((EVENTS / nrec))); do cat "$work/records.tsv"; done
    head -n $((EVENTS % nrec)) "$work/records.tsv"
  } | ch_load_typed flows "${CH_FLOW_COLUMNS//FixedString(16)/String}" "srcaddr dstaddr"
  t1=$(date +%s%N)
  PEER_NAME=clickhouse
  PEER_EPS=$(awk -v n="$EVENTS" -v d=$((t1 - t0)) 'BEGIN{printf "%.0f", n/(d/1e9)}')
  ch_query 'OPTIMIZE TABLE flows FINAL'
  chb=$(du -sb "$work/ch/data/data/default/flows" | cut -f1)
  printf 'ClickHouse 18.16 bulk INSERT (clickhouse-client TabSeparated into a text staging table, INSERT SELECT into the typed MergeTree): %s records/s; %.1f bytes/record on disk after OPTIMIZE FINAL\n' \
    "$PEER_EPS" "$(awk -v b="$chb" -v n="$EVENTS" 'BEGIN{print b/n}')"
  ch_stop
fi
if [[ -n "${PEER_EPS:-}" ]]; then
  printf 'ratio flowwatch/%s: %.2f\n' "${PEER_NAME:-peer}" "$(awk -v a="$eps" -v b="$PEER_EPS" 'BEGIN{print a/b}')"
  if [[ -n "${imp_eps:-}" ]]; then
    printf 'ratio flowwatch import/%s: %.2f\n' "${PEER_NAME:-peer}" "$(awk -v a="$imp_eps" -v b="$PEER_EPS" 'BEGIN{print a/b}')"
  fi
fi
