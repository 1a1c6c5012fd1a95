#!/usr/bin/env bash
# What a limit's creation costs over a capacity whose keyed holds went to the usage log: one Release
# server on SQLite (built from this tree), SECONDS of wrk holds on one pool, each naming a new buyer
# with a random key, then POST /events/{event}/limits over that pool, timed, and one hold right after
# (on SQLite the first hold checked against the limit loads the pool's usage, rows plus log, into the
# writer's memory; every other write waits for it). Prints the log's size before, both times, the
# server's resident memory before and after, a buyer's usage read over the API, the rows and log
# after, and
# ends with GET /admin/verify. With WAIT=N, the limit is created N seconds after the holds end instead
# of at once: meanwhile the idle writer folds the log in slices (UsageFoldService), the log's size is
# printed each second, and single holds are sent one after another (one connection, curl), whose
# median and slowest times show what a hold arriving during a slice waits.
#
# SERVER_ARGS adds settings to the server's command line (SERVER_ARGS=--Capacity:UsageFoldSlice=0: no
# folds while idle, the single holds' baseline).
#
#   [WAIT=seconds] [SERVER_ARGS=...] bench/limit-fold.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

SECONDS_OF_HOLDS=${1:-10} PORT=${PORT:-5995}
single_server_setup fold
mkdir -p "$work/data"
db="$work/data/capacity.db"
pid=$(start src/Capacity.Server/bin/Release/net10.0 "$PORT" Capacity.Server.dll --Auth:AdminKey="$ADMIN" \
  --Storage:DataDirectory="$work/data" --Storage:Sqlite:Path="$db" --Capacity:Quotas:MaxLiveHoldsPerTenant=0 \
  --Capacity:RateLimit:PermitsPerSecond=1000000000 --Capacity:RateLimit:Burst=1000000000 ${SERVER_ARGS:-})
pids+=("$pid")
lua_request "$random_buyer_body" > "$work/random.lua"
read -r key pool <<< "$(onsale_setup "$PORT")"
url="http://127.0.0.1:$PORT"
wrk -t2 -c64 -d"${SECONDS_OF_HOLDS}s" -s "$work/random.lua" -H "Authorization: Bearer $key" "$url/capacity/$pool/reserve" | grep Requests/sec
event=$(curl -fs -H "Authorization: Bearer $key" "$url/capacity/$pool" | jq -r .event_id)
echo "usage log entries: $(sqlite3 "$db" "SELECT COUNT(*) FROM buyer_usage_log")"
if [[ ${WAIT:-0} -gt 0 ]]; then
  ( for i in $(seq 1 "$WAIT"); do sleep 1; echo "  after ${i} s: $(sqlite3 "$db" "SELECT COUNT(*) FROM buyer_usage_log") log entries"; done ) &
  sampler=$!
  end=$((SECONDS + WAIT))
  while (( SECONDS < end )); do
    curl -fs -o /dev/null -w "%{time_total}\n" -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
      -X POST "$url/capacity/$pool/reserve" -d '{"quantity":1,"buyer_key":"probe"}'
  done > "$work/probe.txt"
  wait "$sampler"
  python3 - "$work/probe.txt" <<'PY'
import statistics, sys
t = sorted(float(x) * 1000 for x in open(sys.argv[1]) if x.strip())
print(f"single holds during the wait: {len(t)}, median {statistics.median(t):.2f} ms, p99 {t[int(len(t) * 0.99)]:.2f} ms, slowest {t[-1]:.2f} ms")
PY
fi
echo "server's resident memory before the limit: $(($(ps -o rss= -p "$pid") / 1024)) MiB"
curl -fs -o "$work/limit.json" -w "limit created: %{http_code} in %{time_total} s\n" -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
  -X POST "$url/events/$event/limits" -d "{\"name\":\"Four\",\"capacity_ids\":[\"$pool\"],\"per_buyer_max\":4}"
curl -fs -o /dev/null -w "a hold after it: %{http_code} in %{time_total} s\n" -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
  -X POST "$url/capacity/$pool/reserve" -d '{"quantity":1,"buyer_key":"after"}'
curl -fs -o /dev/null -w "a buyer's usage under it (GET /limits/{id}/usage): %{http_code} in %{time_total} s\n" -H "Authorization: Bearer $key" \
  "$url/limits/$(jq -r .id "$work/limit.json")/usage?buyer_key=after"
echo "server's resident memory after it and a hold: $(($(ps -o rss= -p "$pid") / 1024)) MiB (on SQLite the first hold checked against the limit loads the pool's usage into the writer's memory)"
echo "usage rows: $(sqlite3 "$db" "SELECT COUNT(*) FROM buyer_usage"), log entries: $(sqlite3 "$db" "SELECT COUNT(*) FROM buyer_usage_log")"
verify_or_exit "$PORT"
echo "GET /admin/verify: true"
