#!/usr/bin/env bash
# Two builds side by side on copies of one SQLite database that holds many active holds, with the
# live-hold bound on (at a bound no run reaches, so that its refresh runs but refuses nothing): what
# "SQLite: the active holds counted once" in docs/performance.md measures. A server of build B fills
# the database with FILL_SECONDS of wrk holds (one pool sells out at 1,000,000), then A and B each
# open a copy and take single-ticket holds on a new tenant's pool in alternating runs.
#
#   bench/live-holds-ab.sh <commit or server folder A> <commit or server folder B> [rounds]
#   bench/live-holds-ab.sh e93e7e3 HEAD 6     # about 5 minutes
#
# Prints each run (holds per second, p99, the server's CPU per hold in µs), the medians and B ÷ A
# pairwise. The holds last 15 minutes: the runs end long before the filled ones lapse.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

A=${1:?usage: bench/live-holds-ab.sh <A> <B> [rounds]} B=${2:?usage: bench/live-holds-ab.sh <A> <B> [rounds]}
ROUNDS=${3:-6}
DURATION=${DURATION:-5} WARMUP=${WARMUP:-8} FILL_SECONDS=${FILL_SECONDS:-75} CONNECTIONS=${CONNECTIONS:-64} PORT=${PORT:-5981}

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
command -v wrk > /dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 1; }

work=$(mktemp -d /tmp/capacity-live-holds-XXXXXX)
pids=()
trap ab_cleanup EXIT

folder_a=$(server_folder a "$A")
folder_b=$(server_folder b "$B")
dotnet build bench/Capacity.LoadGen -c Release -v q --nologo > /dev/null
ADMIN="capadmin_live_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf 'wrk.method = "POST"\nwrk.body = "{\\"quantity\\":1}"\nwrk.headers["Content-Type"] = "application/json"\n' > "$work/hold.lua"
server() { # <folder> <port> <data folder> [options]
  local folder=$1 port=$2 data=$3
  shift 3
  start "$folder" "$port" Capacity.Server.dll --Auth:AdminKey="$ADMIN" --Storage:DataDirectory="$data" --Storage:Sqlite:Path="$data/c.db" "$@"
}

mkdir -p "$work/fill"
fill=$(server "$folder_b" "$PORT" "$work/fill" --Capacity:Quotas:MaxLiveHoldsPerTenant=0)
read -r key pool <<< "$(onsale_setup "$PORT")"
filled=$(wrk -t2 -c"$CONNECTIONS" -d"${FILL_SECONDS}s" -s "$work/hold.lua" -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/capacity/$pool/reserve" \
  | awk '$2 == "requests" { print $1 }')
# Stopped, and gone, before the copy: a clean stop folds SQLite's WAL into the file.
kill "$fill"
while kill -0 "$fill" 2> /dev/null; do sleep 0.1; done
for side in a b; do mkdir -p "$work/$side" && cp "$work/fill/c.db" "$work/$side/"; done

pid_a=$(server "$folder_a" $((PORT + 2)) "$work/a" --Capacity:Quotas:MaxLiveHoldsPerTenant=100000000); pids+=("$pid_a")
pid_b=$(server "$folder_b" $((PORT + 4)) "$work/b" --Capacity:Quotas:MaxLiveHoldsPerTenant=100000000); pids+=("$pid_b")
read -r key_a pool_a <<< "$(onsale_setup $((PORT + 2)))"
read -r key_b pool_b <<< "$(onsale_setup $((PORT + 4)))"
echo "== live holds: A = $A, B = $B; $filled holds asked for in the fill (at most 1,000,000 placed); $ROUNDS rounds of ${DURATION} s; load average $(cut -d' ' -f1-3 /proc/loadavg)"

run() { # <label> <pid> <port> <key> <pool> <seconds>: "label rps p99 cpu_us_per_hold"
  local before output rps
  before=$(cpu_seconds "$2")
  output=$(wrk -t2 -c"$CONNECTIONS" -d"$6s" --latency -s "$work/hold.lua" -H "Authorization: Bearer $4" "http://127.0.0.1:$3/capacity/$5/reserve")
  grep -q "Non-2xx" <<< "$output" && { echo "holds refused on port $3:" >&2; curl -s -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $4" -d '{"quantity":1}' "http://127.0.0.1:$3/capacity/$5/reserve" >&2; exit 1; }
  rps=$(sed -n 's/^Requests\/sec: *//p' <<< "$output")
  printf '%s %.0f %s %.1f\n' "$1" "$rps" "$(awk '$1 == "99%" { print $2 }' <<< "$output")" \
    "$(echo "($(cpu_seconds "$2") - $before) * 1000000 / ($rps * $6)" | bc -l)"
}
run warm "$pid_a" $((PORT + 2)) "$key_a" "$pool_a" "$WARMUP" > /dev/null
run warm "$pid_b" $((PORT + 4)) "$key_b" "$pool_b" "$WARMUP" > /dev/null
echo "label holds_per_s p99 cpu_us_per_hold"
for _ in $(seq 1 "$ROUNDS"); do
  run A "$pid_a" $((PORT + 2)) "$key_a" "$pool_a" "$DURATION"
  run B "$pid_b" $((PORT + 4)) "$key_b" "$pool_b" "$DURATION"
done | tee "$work/runs.txt"

python3 - "$work/runs.txt" << 'PY'
import statistics as st, sys
runs = {}
for label, rps, _p99, cpu in (line.split() for line in open(sys.argv[1])):
    runs.setdefault(label, []).append((float(rps), float(cpu)))
for label, values in runs.items():
    print(f"{label} median {st.median(v[0] for v in values):8.0f} holds/s, {st.median(v[1] for v in values):5.1f} µs of CPU per hold")
a, b = ([v[0] for v in runs[k]] for k in ("A", "B"))
print("B ÷ A, pairwise:", " · ".join(f"{y / x:.2f}" for x, y in zip(a, b)), f"; median {st.median(y / x for x, y in zip(a, b)):.3f}")
PY
verify_or_exit $((PORT + 2)) $((PORT + 4))
echo "GET /admin/verify: true on both"
