#!/usr/bin/env bash
# What the idle-time fold of the usage log costs keyed holds under load: one Release server on SQLite
# at a time (built from this tree), alternately with the fold on (Capacity:UsageFoldSlice, its
# default) and off (0), each on a fresh database: WARMUP seconds of wrk holds, then SECONDS of them
# measured, each naming a new buyer with a random key (so every hold appends to the log). One server
# at a time, because a server with the fold on drains its log while it is not measured, on the
# cores the other one is measured on. Prints each run (holds/s, the log's entries and the buyers'
# rows at the end: rows are what the fold wrote during the load), the medians and on ÷ off pairwise,
# and ends each run with GET /admin/verify. Behind docs/performance.md's "The usage log, folded while idle".
#
#   bench/fold-cost.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${1:-4} SECONDS_OF_HOLDS=${SECONDS_OF_HOLDS:-8} WARMUP=${WARMUP:-5} PORT=${PORT:-5997}
single_server_setup foldcost
lua_request "$random_buyer_body" > "$work/random.lua"

run() { # run <label> <slice>: prints "<label> <holds/s> <log entries> <usage rows>"
  local data="$work/data-$1-$RANDOM" pid key pool rps
  mkdir -p "$data"
  pid=$(start src/Capacity.Server/bin/Release/net10.0 "$PORT" Capacity.Server.dll --Auth:AdminKey="$ADMIN" \
    --Storage:DataDirectory="$data" --Storage:Sqlite:Path="$data/capacity.db" --Capacity:Quotas:MaxLiveHoldsPerTenant=0 \
    --Capacity:RateLimit:PermitsPerSecond=1000000000 --Capacity:RateLimit:Burst=1000000000 --Capacity:UsageFoldSlice="$2")
  pids+=("$pid")
  read -r key pool <<< "$(onsale_setup "$PORT")"
  wrk -t2 -c64 -d"${WARMUP}s" -s "$work/random.lua" -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/capacity/$pool/reserve" > /dev/null
  rps=$(wrk -t2 -c64 -d"${SECONDS_OF_HOLDS}s" -s "$work/random.lua" -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/capacity/$pool/reserve" | awk '/Requests\/sec/ { print $2 }')
  echo "$1 $rps $(sqlite3 "$data/capacity.db" "SELECT COUNT(*) FROM buyer_usage_log") $(sqlite3 "$data/capacity.db" "SELECT COUNT(*) FROM buyer_usage")"
  verify_or_exit "$PORT"
  kill "$pid"
  while kill -0 "$pid" 2> /dev/null; do sleep 0.1; done
  rm -rf "$data"
}

# Not in a pipeline: run adds to pids, which the exit trap reads.
for round in $(seq 1 "$ROUNDS"); do
  if (( round % 2 )); then run on 100 >> "$work/runs.txt"; run off 0 >> "$work/runs.txt"; else run off 0 >> "$work/runs.txt"; run on 100 >> "$work/runs.txt"; fi
  tail -2 "$work/runs.txt"
done
python3 - "$work/runs.txt" <<'PY'
import statistics, sys
runs = [l.split() for l in open(sys.argv[1])]
on = [float(r[1]) for r in runs if r[0] == "on"]
off = [float(r[1]) for r in runs if r[0] == "off"]
pairs = [a / b for a, b in zip(on, off)]
print(f"on  median {statistics.median(on):,.0f} holds/s; off median {statistics.median(off):,.0f} holds/s")
print("on ÷ off, pairwise: " + " · ".join(f"{p:.2f}" for p in pairs) + f" ; median {statistics.median(pairs):.3f}")
PY
