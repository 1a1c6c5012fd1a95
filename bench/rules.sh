#!/usr/bin/env bash
# What each of issue 24's rules costs a hold: one server (SQLite FULL, Release, built from this tree)
# and the echo as the webhook subscriber, wrk holds on a fresh pool per run, the variants alternating
# in every round. Prints each run's requests per second and the server's CPU per request (µs), then
# the medians; CPU per request is the steadier figure, as wrk shares the two cores with the server.
#
#   bench/rules.sh [rounds]
#   VARIANTS="plain keyed all" bench/rules.sh 6
#
# Variants: plain (a fixed body, as run.sh's plain holds), plain-lua (the same body built in Lua per
# request, as run.sh's denominator for the rules), keyed (plain holds naming a buyer, built in Lua),
# and allocation, waitlist, limit, webhook, all (LoadGen's rules scenario with that rule or all of
# them on, holds naming a buyer). Each keyed variant with -random (keyed-random, limit-random, …)
# names a new buyer on every hold with a random key instead. Ends with GET /admin/verify.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${1:-6}
VARIANTS=${VARIANTS:-plain plain-lua keyed allocation waitlist limit webhook all}
DURATION=${DURATION:-5} WARMUP=${WARMUP:-8} CONNECTIONS=${CONNECTIONS:-64} PORT=${PORT:-5961}

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
command -v wrk > /dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 1; }

work=$(mktemp -d /tmp/capacity-rules-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

for project in src/Capacity.Server bench/Capacity.Echo bench/Capacity.LoadGen; do
  dotnet build "$project" -c Release -v q --nologo > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
done

ADMIN="capadmin_rules_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
pid=$(start src/Capacity.Server/bin/Release/net10.0 "$PORT" Capacity.Server.dll --Auth:AdminKey="$ADMIN" \
  --Storage:DataDirectory="$work/data" --Storage:Sqlite:Path="$work/data/capacity.db" \
  --Capacity:Quotas:MaxLiveHoldsPerTenant=0 --Capacity:Webhooks:AllowPrivateNetworks=true)
pids+=("$pid")
pids+=("$(start bench/Capacity.Echo/bin/Release/net10.0 $((PORT + 1)) Capacity.Echo.dll)")

printf 'wrk.method = "POST"\nwrk.body = "{\\"quantity\\":1}"\nwrk.headers["Content-Type"] = "application/json"\n' > "$work/plain.lua"
lua_request "'{\"quantity\":1}'" > "$work/plain-lua.lua"
lua_request "'{\"quantity\":1,\"buyer_key\":' .. buyer .. '}'" > "$work/keyed.lua"
lua_request "$random_buyer_body" > "$work/random.lua"


# One run of a variant on a pool of its own: run <variant> <seconds>; prints "variant rps cpu_us non2xx"
run() {
  local scenario=onsale rules=all script=keyed variant=$1 lines key capped before output rps
  if [[ $variant == *-random ]]; then script=random variant=${variant%-random}; fi
  case $variant in
    plain | plain-lua) script=$variant ;;
    keyed) ;;
    allocation | waitlist | limit | webhook | all) scenario=rules rules=$variant ;;
    *) echo "unknown variant $1" >&2; exit 1 ;;
  esac
  lines=$(dotnet bench/Capacity.LoadGen/bin/Release/net10.0/Capacity.LoadGen.dll --admin-key "$ADMIN" --connections "$CONNECTIONS" \
    --url "http://127.0.0.1:$PORT" --scenario "$scenario" --rules "$rules" --webhook-url "http://127.0.0.1:$((PORT + 1))/hook" \
    --setup-only | grep '^SETUP ' | tr ' ' '\n')
  key=$(sed -n 's/^api_key=//p' <<< "$lines") capped=$(sed -n 's/^capped=//p' <<< "$lines")
  before=$(cpu_seconds "$pid")
  output=$(wrk -t2 -c"$CONNECTIONS" -d"$2s" -s "$work/$script.lua" -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/capacity/$capped/reserve")
  rps=$(sed -n 's/^Requests\/sec: *//p' <<< "$output")
  printf '%s %.0f %.1f %d\n' "$1" "$rps" "$(echo "($(cpu_seconds "$pid") - $before) * 1000000 / ($rps * $2)" | bc -l)" \
    "$(awk '/Non-2xx/ { n = $NF } END { print n + 0 }' <<< "$output")"
}

echo "== rules: $VARIANTS; $ROUNDS rounds of ${DURATION} s each, after ${WARMUP} s of each; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for variant in $VARIANTS; do run "$variant" "$WARMUP" > /dev/null; done
echo "variant rps cpu_us_per_request non2xx"
for _ in $(seq 1 "$ROUNDS"); do
  for variant in $VARIANTS; do run "$variant" "$DURATION"; done
done | tee "$work/runs.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$work/runs.txt" << 'PY'
import statistics as st, sys
runs = {}
for variant, rps, cpu, non2xx in (line.split() for line in open(sys.argv[1])):
    if int(non2xx):
        sys.exit(f"{variant}: {non2xx} holds refused on a pool that cannot sell out")
    runs.setdefault(variant, []).append((float(rps), float(cpu)))
for variant, values in runs.items():
    print(f"{variant:10} median {st.median(v[0] for v in values):8.0f} req/s, {st.median(v[1] for v in values):5.1f} µs of CPU per request")
PY

verify_or_exit "$PORT"
echo "GET /admin/verify: true"
