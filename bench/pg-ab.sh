#!/usr/bin/env bash
# Two builds side by side on PostgreSQL, each as two server nodes on one database, under the same wrk
# load in alternating runs: what run.sh's "two nodes ÷ SQLite" figure measures, as an A/B. One
# throwaway cluster (fsync, synchronous_commit and full_page_writes on) holds a database per build.
#
#   bench/pg-ab.sh <commit or server folder A> <commit or server folder B> [rounds]
#   bench/pg-ab.sh 8cef1d0 HEAD 6
#
# Each round runs A's pair, then B's pair, for DURATION seconds each (wrk, CONNECTIONS split in half
# over the two nodes, single-ticket holds on one pool), after WARMUP seconds of each and an ANALYZE.
# Prints each run (holds per second summed over the nodes, the larger p99, the nodes' CPU per hold in
# µs, the machine's idle cores), the medians and B ÷ A pairwise. Every node ends with GET /admin/verify.
# BODY=keyed sends holds naming a buyer (every BUYER_HOLDS requests a new one per wrk process, 4 by
# default; each wrk process names its own buyers); with RANDOM_BUYERS=1 a new buyer on every hold,
# named with 16 random hex digits (the two processes seeded apart).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

A=${1:?usage: bench/pg-ab.sh <A> <B> [rounds]} B=${2:?usage: bench/pg-ab.sh <A> <B> [rounds]}
ROUNDS=${3:-6}
DURATION=${DURATION:-5} WARMUP=${WARMUP:-8} CONNECTIONS=${CONNECTIONS:-64} PORT=${PORT:-5961}
PG_PORT=$((PORT + 10))

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
command -v wrk > /dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 1; }
[ -n "$pg_bin" ] || { echo "PostgreSQL is needed (apt-get install -y postgresql)" >&2; exit 1; }

work=$(mktemp -d /tmp/capacity-pgab-XXXXXX)
pids=() pg_pid=
trap ab_cleanup EXIT

folder_a=$(server_folder a "$A")
folder_b=$(server_folder b "$B")
dotnet build bench/Capacity.LoadGen -c Release -v q --nologo > /dev/null

[ "$(id -u)" = 0 ] && chown postgres "$work"
start_postgres "$work/pg" "$PG_PORT" "$work/postgres.log"
psql() { "$pg_bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U capacity "$@"; }
psql -d postgres -qc "CREATE DATABASE build_a" -c "CREATE DATABASE build_b"

ADMIN="capadmin_pgab_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
node() { # <folder> <port> <database>
  start "$1" "$2" Capacity.Server.dll --Auth:AdminKey="$ADMIN" --Capacity:Quotas:MaxLiveHoldsPerTenant=0 \
    --Storage:Provider=postgres "--Storage:Postgres:ConnectionString=Host=127.0.0.1;Port=$PG_PORT;Username=capacity;Database=$3"
}
a1=$(node "$folder_a" "$PORT" build_a); pids+=("$a1")
a2=$(node "$folder_a" $((PORT + 1)) build_a); pids+=("$a2")
b1=$(node "$folder_b" $((PORT + 2)) build_b); pids+=("$b1")
b2=$(node "$folder_b" $((PORT + 3)) build_b); pids+=("$b2")

read -r key_a pool_a <<< "$(onsale_setup "$PORT")"
read -r key_b pool_b <<< "$(onsale_setup $((PORT + 2)))"
if [ "${BODY:-plain}" = keyed ] && [ "${RANDOM_BUYERS:-0}" = 1 ]; then
  lua_request "$random_buyer_body" > "$work/hold.lua"
elif [ "${BODY:-plain}" = keyed ]; then
  lua_request "'{\"quantity\":1,\"buyer_key\":' .. buyer .. '}'" "${BUYER_HOLDS:-4}" > "$work/hold.lua"
else
  printf 'wrk.method = "POST"\nwrk.body = "{\\"quantity\\":1}"\nwrk.headers["Content-Type"] = "application/json"\n' > "$work/hold.lua"
fi


# One run of a pair: pair <label> <pid1> <pid2> <port1> <key> <pool> <seconds>; prints "label rps p99 cpu_us idle_cores"
pair() {
  local before idle_before half=$((CONNECTIONS / 2)) out1 out2 rps p99
  before=$(echo "$(cpu_seconds "$2") + $(cpu_seconds "$3")" | bc) idle_before=$(idle_seconds)
  wrk -t1 -c"$half" -d"$7s" --latency -s "$work/hold.lua" -H "Authorization: Bearer $5" "http://127.0.0.1:$4/capacity/$6/reserve" -- 1 > "$work/w1.txt" &
  local first=$!
  wrk -t1 -c$((CONNECTIONS - half)) -d"$7s" --latency -s "$work/hold.lua" -H "Authorization: Bearer $5" "http://127.0.0.1:$(($4 + 1))/capacity/$6/reserve" -- 2 > "$work/w2.txt"
  wait "$first"  # not a bare wait: PostgreSQL is this shell's child too
  out1=$(cat "$work/w1.txt") out2=$(cat "$work/w2.txt")
  rps=$(echo "$(sed -n 's/^Requests\/sec: *//p' <<< "$out1") + $(sed -n 's/^Requests\/sec: *//p' <<< "$out2")" | bc -l)
  p99=$( (awk '$1 == "99%" { print $2 }' <<< "$out1"; awk '$1 == "99%" { print $2 }' <<< "$out2") \
    | python3 -c 'import sys; u={"us":0.001,"ms":1,"s":1000}; print(max(float(v.rstrip("usm"))*u[v.lstrip("0123456789.")] for v in sys.stdin.read().split()))')
  printf '%s %.0f %.2fms %.1f %.2f\n' "$1" "$rps" "$p99" \
    "$(echo "($(cpu_seconds "$2") + $(cpu_seconds "$3") - $before) * 1000000 / ($rps * $7)" | bc -l)" \
    "$(echo "($(idle_seconds) - $idle_before) / $7" | bc -l)"
}

echo "== two nodes on PostgreSQL: A = $A, B = $B; $ROUNDS rounds of ${DURATION} s each, after ${WARMUP} s of each; load average $(cut -d' ' -f1-3 /proc/loadavg)"
pair warm "$a1" "$a2" "$PORT" "$key_a" "$pool_a" "$WARMUP" > /dev/null
pair warm "$b1" "$b2" $((PORT + 2)) "$key_b" "$pool_b" "$WARMUP" > /dev/null
# As run.sh: the planner's guess for the batch's recursive closure query is poor before statistics.
psql -d build_a -qc ANALYZE
psql -d build_b -qc ANALYZE
echo "label holds_per_s p99 cpu_us_per_hold idle_cores"
# In turns first, as in ab.sh: the second of a round can run slower whichever it is.
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then
    pair A "$a1" "$a2" "$PORT" "$key_a" "$pool_a" "$DURATION"
    pair B "$b1" "$b2" $((PORT + 2)) "$key_b" "$pool_b" "$DURATION"
  else
    pair B "$b1" "$b2" $((PORT + 2)) "$key_b" "$pool_b" "$DURATION"
    pair A "$a1" "$a2" "$PORT" "$key_a" "$pool_a" "$DURATION"
  fi
done | tee "$work/runs.txt"

python3 - "$work/runs.txt" << 'PY'
import statistics as st, sys
runs = {}
for label, rps, _p99, cpu, _idle in (line.split() for line in open(sys.argv[1])):
    runs.setdefault(label, []).append((float(rps), float(cpu)))
for label, values in runs.items():
    print(f"{label} median {st.median(v[0] for v in values):8.0f} holds/s, {st.median(v[1] for v in values):6.1f} µs of the nodes' CPU per hold")
a, b = ([v[0] for v in runs[k]] for k in ("A", "B"))
print("B ÷ A, pairwise:", " · ".join(f"{y / x:.2f}" for x, y in zip(a, b)), f"; median {st.median(y / x for x, y in zip(a, b)):.3f}")
PY

verify_or_exit "$PORT" $((PORT + 1)) $((PORT + 2)) $((PORT + 3))
echo "GET /admin/verify: true on all four nodes"
