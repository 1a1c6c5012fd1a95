#!/usr/bin/env bash
# Two builds of the server side by side, and the echo, under the same wrk load in alternating runs:
# the A/B behind docs/performance.md's "The request pipeline". On a shared machine two figures
# measured minutes apart differ by more than most changes do; two servers running at once, measured
# in turns of a few seconds, see the same machine.
#
#   bench/ab.sh <commit or server folder A> <commit or server folder B> [holds|keyed|rules|reads|soldout] [rounds]
#   bench/ab.sh aeb503a HEAD reads 6
#
# A commit is published (Release) from a temporary worktree; a folder is a published server as is.
# Each round runs A and B (in turns first) and the echo for DURATION seconds each (wrk, 64 connections, single-ticket
# holds, holds naming a buyer (keyed: the body built in Lua, the buyer changing every 4 requests of
# a wrk thread, as run.sh's rules scenario), the same on a pool with every rule on (rules: an allocation,
# a waiting list, a per-buyer limit, a webhook subscriber, which is the echo), GET /capacity/{id} on one pool, or holds on a pool sold out
# by the warm-up (soldout: every measured answer a 409), SQLite FULL), after WARMUP seconds of each. Prints each
# run (requests per second, p99, the process's CPU per request in µs, the machine's idle cores),
# the medians, B ÷ A pairwise and each build ÷ echo. Both servers end with GET /admin/verify, and a
# failed verify fails the script. ENV_A and ENV_B give one server environment variables of its own
# (ENV_B="DOTNET_GCgen0size=0x4000000": a runtime setting only the environment reaches, on one build
# or on the same folder given twice). WINDOW=1 gives each server's pool a sale window (opened a minute
# before, ending a day after), as an on-sale's pool usually has. BUYER_HOLDS=1 gives keyed holds a new
# buyer on every request (4 by default, as the rules' limit needs); RANDOM_BUYERS=1 a new buyer on
# every keyed or rules hold, named with 16 random hex digits as a platform's hashed keys are.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

A=${1:?usage: bench/ab.sh <A> <B> [holds|keyed|rules|reads|soldout] [rounds]} B=${2:?usage: bench/ab.sh <A> <B> [holds|keyed|rules|reads|soldout] [rounds]}
SCENARIO=${3:-holds} ROUNDS=${4:-6}
DURATION=${DURATION:-5} WARMUP=${WARMUP:-8} CONNECTIONS=${CONNECTIONS:-64} PORT=${PORT:-5941}

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
command -v wrk > /dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 1; }
[[ $SCENARIO =~ ^(holds|keyed|rules|reads|soldout)$ ]] || { echo "the scenario is holds, keyed, rules, reads or soldout" >&2; exit 1; }

work=$(mktemp -d /tmp/capacity-ab-XXXXXX)
pids=()
trap ab_cleanup EXIT

folder_a=$(server_folder a "$A")
folder_b=$(server_folder b "$B")
dotnet build bench/Capacity.Echo -c Release -v q --nologo > /dev/null
dotnet build bench/Capacity.LoadGen -c Release -v q --nologo > /dev/null

ADMIN="capadmin_ab_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
server() { # <folder> <port> [NAME=value ...]: the live-hold bound off, so that long runs are not refused, and a rate limit that never refuses reads
  mkdir -p "$work/data-$2"
  local setting
  for setting in "${@:3}"; do export "$setting"; done # inside the caller's $(...): this server's alone
  start "$1" "$2" Capacity.Server.dll --Auth:AdminKey="$ADMIN" --Storage:DataDirectory="$work/data-$2" \
    --Storage:Sqlite:Path="$work/data-$2/capacity.db" --Capacity:Quotas:MaxLiveHoldsPerTenant=0 \
    --Capacity:RateLimit:PermitsPerSecond=1000000000 --Capacity:RateLimit:Burst=1000000000 --Capacity:Webhooks:AllowPrivateNetworks=true
}
# shellcheck disable=SC2086 # ENV_A and ENV_B are lists of NAME=value, split on spaces
pid_a=$(server "$folder_a" "$PORT" ${ENV_A:-}); pids+=("$pid_a")
# shellcheck disable=SC2086
pid_b=$(server "$folder_b" $((PORT + 2)) ${ENV_B:-}); pids+=("$pid_b")
pid_e=$(start bench/Capacity.Echo/bin/Release/net10.0 $((PORT + 1)) Capacity.Echo.dll); pids+=("$pid_e")

setup=onsale
[[ $SCENARIO == soldout || $SCENARIO == rules ]] && setup=$SCENARIO
hook=http://127.0.0.1:$((PORT + 1))/hook
# A new pool of the scenario, with a sale window when WINDOW=1: new_pool <port>, printing "key pool".
new_pool() {
  local key pool
  read -r key pool <<< "$(onsale_setup "$1" $setup "$hook")"
  if [ "${WINDOW:-0}" = 1 ]; then
    curl -fs -o /dev/null -X PUT -H "Authorization: Bearer $key" -H 'Content-Type: application/json' "http://127.0.0.1:$1/capacity/$pool" \
      -d "{\"sale_starts_at\":\"$(date -u -d '-1 min' +%FT%TZ)\",\"sale_ends_at\":\"$(date -u -d '+1 day' +%FT%TZ)\"}"
  fi
  echo "$key $pool"
}
read -r key_a pool_a <<< "$(new_pool "$PORT")"
read -r key_b pool_b <<< "$(new_pool $((PORT + 2)))"
echo_pool=01a2446f-927a-7228-b56b-f7728307b5a6

printf 'wrk.method = "POST"\nwrk.body = "{\\"quantity\\":1}"\nwrk.headers["Content-Type"] = "application/json"\n' > "$work/hold.lua"
if [ "${RANDOM_BUYERS:-0}" = 1 ]; then
  lua_request "$random_buyer_body" > "$work/keyed.lua"
else
  lua_request "'{\"quantity\":1,\"buyer_key\":' .. buyer .. '}'" "$([ "$SCENARIO" = keyed ] && echo "${BUYER_HOLDS:-4}" || echo 4)" > "$work/keyed.lua"
fi
case $SCENARIO in
  holds | soldout) suffix=/reserve script=(-s "$work/hold.lua") ;;
  keyed | rules) suffix=/reserve script=(-s "$work/keyed.lua") ;;
  *) suffix= script=() ;;
esac


# One wrk run: run <label> <pid> <port> <key> <pool> <seconds>; prints "label rps p99 cpu_us idle_cores".
# Holds go to a fresh pool each run (a fast machine fills a pool of 1,000,000 in half a minute, and
# refusals would be measured as holds); a server's answer that is not a 2xx fails the script. Sold-out
# holds stay on the one pool the warm-up sold out, and every answer must be a refusal.
run() {
  local before idle_before output rps p99 key=$4 pool=$5 total refused
  local server=$(($3 != PORT + 1))
  if [[ $SCENARIO == holds || $SCENARIO == keyed || $SCENARIO == rules ]] && [ "$server" = 1 ]; then read -r key pool <<< "$(new_pool "$3")"; fi
  before=$(cpu_seconds "$2") idle_before=$(idle_seconds)
  output=$(wrk -t2 -c"$CONNECTIONS" -d"$6s" --latency "${script[@]}" -H "Authorization: Bearer $key" "http://127.0.0.1:$3/capacity/$pool$suffix")
  if [ "$SCENARIO" = soldout ] && [ "$server" = 1 ] && [ "$1" != warm ]; then
    total=$(awk '/requests in/ { print $1 }' <<< "$output") refused=$(awk '/Non-2xx/ { print $NF }' <<< "$output")
    if [ "${refused:-0}" != "$total" ]; then
      echo "$1: $total answers, ${refused:-0} of them refusals; a sold-out pool answers only 409s" >&2
      exit 1
    fi
  elif [ "$SCENARIO" != soldout ] && [ "$server" = 1 ] && grep -q "Non-2xx" <<< "$output"; then
    echo "$1: answers that are not 2xx ($(grep Non-2xx <<< "$output")); the figure would not be the server's" >&2
    exit 1
  fi
  rps=$(sed -n 's/^Requests\/sec: *//p' <<< "$output")
  p99=$(awk '$1 == "99%" { print $2 }' <<< "$output")
  printf '%s %.0f %s %.1f %.2f\n' "$1" "$rps" "$p99" "$(echo "($(cpu_seconds "$2") - $before) * 1000000 / ($rps * $6)" | bc -l)" \
    "$(echo "($(idle_seconds) - $idle_before) / $6" | bc -l)"
}

echo "== $SCENARIO: A = $A, B = $B; $ROUNDS rounds of ${DURATION} s each, after ${WARMUP} s of each; load average $(cut -d' ' -f1-3 /proc/loadavg)"
run warm "$pid_a" "$PORT" "$key_a" "$pool_a" "$WARMUP" > /dev/null
run warm "$pid_b" $((PORT + 2)) "$key_b" "$pool_b" "$WARMUP" > /dev/null
run warm "$pid_e" $((PORT + 1)) x "$echo_pool" "$WARMUP" > /dev/null
echo "label rps p99 cpu_us_per_request idle_cores"
# A goes first in odd rounds and B in even ones: on the fourth host the second server of a round
# ran slower whichever it was (docs/performance.md, "The usage in memory forgotten when idle").
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then
    run A "$pid_a" "$PORT" "$key_a" "$pool_a" "$DURATION"
    run B "$pid_b" $((PORT + 2)) "$key_b" "$pool_b" "$DURATION"
  else
    run B "$pid_b" $((PORT + 2)) "$key_b" "$pool_b" "$DURATION"
    run A "$pid_a" "$PORT" "$key_a" "$pool_a" "$DURATION"
  fi
  run echo "$pid_e" $((PORT + 1)) x "$echo_pool" "$DURATION"
done | tee "$work/runs.txt"

python3 - "$work/runs.txt" << 'PY'
import statistics as st, sys
runs = {}
for label, rps, _p99, cpu, _idle in (line.split() for line in open(sys.argv[1])):
    runs.setdefault(label, []).append((float(rps), float(cpu)))
for label, values in runs.items():
    print(f"{label:5} median {st.median(v[0] for v in values):8.0f} req/s, {st.median(v[1] for v in values):5.1f} µs of CPU per request")
a, b, e = ([v[0] for v in runs[k]] for k in ("A", "B", "echo"))
print("B ÷ A, pairwise:", " · ".join(f"{y / x:.2f}" for x, y in zip(a, b)), f"; median {st.median(y / x for x, y in zip(a, b)):.3f}")
print(f"A ÷ echo {st.median(x / z for x, z in zip(a, e)):.3f}; B ÷ echo {st.median(y / z for y, z in zip(b, e)):.3f} (medians of each round's ratio)")
PY

verify_or_exit "$PORT" $((PORT + 2))
echo "GET /admin/verify: true on both"
