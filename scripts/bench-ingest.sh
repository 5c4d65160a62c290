#!/usr/bin/env bash
# Ingest through the API: aws-sdk-go-v2 clients send PutLogEvents batches of flow
# log records to a real `flowwatch serve` (durable store, loopback), client included.
#
#   scripts/bench-ingest.sh                 # 300 batches, 4 clients, built-in records
#   BATCHES=1000 BENCH_CLIENTS=2 scripts/bench-ingest.sh
#   BENCH_INPUT=records.log scripts/bench-ingest.sh   # e.g. `flowwatch gen` output
#
# Batches hold 10,000 events, or fewer when the records are too long for the
# 1,048,576-byte PutLogEvents limit (default-format v2 records are ~100 bytes, so
# ~7,500 fit); the events/batch figure says which.
set -euo pipefail
cd "$(dirname "$0")/.."

BATCHES=${BATCHES:-300}
export BENCH_CLIENTS=${BENCH_CLIENTS:-4}
export BENCH_INPUT=${BENCH_INPUT:-}

out=$(go test -count=1 -run '^$' -bench '^BenchmarkIngest$' -benchtime "${BATCHES}x" ./tests/integration/ 2>&1) || {
  echo "$out" >&2
  exit 1
}
line=$(grep '^BenchmarkIngest' <<<"$out")
eps=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "events/s") print $i}' <<<"$line")
per=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "events/batch") print $i}' <<<"$line")
echo "$line"
printf 'flowwatch API ingest: %.0f events/s (%s events/batch, %s batches, %s clients, %s cores)\n' \
  "$eps" "$per" "$BATCHES" "$BENCH_CLIENTS" "$(nproc)"

# --- peer comparison hook ----------------------------------------------------------
# The ClickHouse peer (scripts/clickhouse.sh: ch_start/ch_query/ch_stop, CH_FLOW_TABLE)
# goes here: load the same records (BENCH_INPUT) with clickhouse-client INSERT, set
# PEER_NAME and PEER_EPS (records/s), and the ratio below is printed.
if [[ -n "${PEER_EPS:-}" ]]; then
  printf 'ratio flowwatch/%s: %.2f\n' "${PEER_NAME:-peer}" "$(awk -v a="$eps" -v b="$PEER_EPS" 'BEGIN{print a/b}')"
fi
