#!/usr/bin/env bash
# Where a published server's holds spend their time, from outside: each thread's CPU (by name, in
# cores) over DURATION seconds of wrk holds on one pool (64 connections, SQLite FULL), the machine's
# idle cores, and from the engine's own metrics the holds per batch and the time from a batch's BEGIN
# to its durable COMMIT. Behind docs/performance.md's "The third host: what bounds the holds".
#
#   bench/threads.sh <published server folder> [server arguments ...]
#   bench/threads.sh /tmp/server --Capacity:Engine:MaxBatch=32
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

FOLDER=${1:?usage: bench/threads.sh <published server folder> [server arguments ...]}
shift
DURATION=${DURATION:-10} PORT=${PORT:-5975}
command -v wrk > /dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 1; }

work=$(mktemp -d /tmp/capacity-threads-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; rm -rf "$work"' EXIT
dotnet build bench/Capacity.LoadGen -c Release -v q --nologo > /dev/null

ADMIN="capadmin_threads_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
pid=$(start "$FOLDER" "$PORT" Capacity.Server.dll --Auth:AdminKey="$ADMIN" --Storage:DataDirectory="$work/data" \
  --Capacity:Quotas:MaxLiveHoldsPerTenant=0 --Capacity:WarmUpMs=0 \
  --Capacity:RateLimit:PermitsPerSecond=1000000000 --Capacity:RateLimit:Burst=1000000000 "$@")
pids+=("$pid")
read -r key pool <<< "$(onsale_setup "$PORT")"
lua_request "'{\"quantity\":1}'" > "$work/hold.lua"
url="http://127.0.0.1:$PORT/capacity/$pool/reserve"
wrk -t2 -c64 -d8s -s "$work/hold.lua" -H "Authorization: Bearer $key" "$url" > /dev/null

# A fresh pool for the measured run: a fast machine fills one of 1,000,000 in under a minute, and
# refusals would be measured as holds.
read -r key pool <<< "$(onsale_setup "$PORT")"
url="http://127.0.0.1:$PORT/capacity/$pool/reserve"

# Each thread's name and CPU ticks so far.
threads() { for t in /proc/"$pid"/task/*; do echo "$(basename "$t") $(tr ' ' '_' < "$t/comm") $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat")"; done; }
metric() { curl -s -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

threads | sort > "$work/before"
b0=$(metric capacity_engine_batch_size_sum) n0=$(metric capacity_engine_batch_size_count) c0=$(metric capacity_engine_commit_duration_seconds_sum)
i0=$(idle_seconds)
wrk -t2 -c64 -d"${DURATION}s" -s "$work/hold.lua" -H "Authorization: Bearer $key" "$url" > "$work/wrk.txt"
i1=$(idle_seconds)
threads | sort > "$work/after"
b1=$(metric capacity_engine_batch_size_sum) n1=$(metric capacity_engine_batch_size_count) c1=$(metric capacity_engine_commit_duration_seconds_sum)

grep -q "Non-2xx" "$work/wrk.txt" && { grep "Non-2xx" "$work/wrk.txt" >&2; exit 1; }
echo "$(awk '/Requests\/sec/ { print $2 }' "$work/wrk.txt") holds/s, $(echo "($i1 - $i0) / $DURATION" | bc -l | cut -c1-4) cores idle"
echo "$(echo "($b1 - $b0) / ($n1 - $n0)" | bc -l | cut -c1-5) holds a batch, $(echo "($c1 - $c0) * 1000 / ($n1 - $n0)" | bc -l | cut -c1-5) ms from BEGIN to durable COMMIT"
join "$work/before" "$work/after" | awk -v hz="$(getconf CLK_TCK)" -v d="$DURATION" \
  '{ c = ($5 - $3) / hz / d; if (c > 0.005) { cores[$2] += c; n[$2]++ } } END { for (k in cores) printf "%-24s %5.3f cores (%d threads)\n", k, cores[k], n[k] }' | sort -k2 -nr
