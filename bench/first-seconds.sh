#!/usr/bin/env bash
# The first seconds of a fresh server, second by second: where run.sh gives one figure for the first
# COLD_SECONDS, this shows the ramp. A database with the tenant and pool is made once; each start
# runs on a copy of it (a restarted node finds its data), and wrk holds begin the moment /healthz
# answers, in SLICES runs of 1 s each; each slice prints holds per second and the server's CPU in
# it (cores). The server is the Release build of this tree; environment settings given after the
# rounds apply to the server process only.
#
#   bench/first-seconds.sh [starts] [VAR=value ...]
#   bench/first-seconds.sh 3 DOTNET_TieredCompilation=0
set -euo pipefail
cd "$(dirname "$0")/.."

STARTS=${1:-3}
shift $(($# < 1 ? $# : 1))
SETTINGS=("$@")
SLICES=${SLICES:-8} CONNECTIONS=${CONNECTIONS:-64} PORT=${PORT:-5971}

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
command -v wrk > /dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 1; }

work=$(mktemp -d /tmp/capacity-first-XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for project in src/Capacity.Server bench/Capacity.LoadGen; do
  dotnet build "$project" -c Release -v q --nologo > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
done
server=$PWD/src/Capacity.Server/bin/Release/net10.0

ADMIN="capadmin_first_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
start() { # <data dir> [VAR=value ...]: sets pid once /healthz answers
  local dir=$1
  shift
  (cd "$server" && exec env "$@" dotnet Capacity.Server.dll --urls "http://127.0.0.1:$PORT" --Auth:AdminKey="$ADMIN" \
    --Storage:DataDirectory="$dir" --Storage:Sqlite:Path="$dir/capacity.db" --Capacity:Quotas:MaxLiveHoldsPerTenant=0) > "$dir.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1500); do curl -fs "http://127.0.0.1:$PORT/healthz" > /dev/null 2>&1 && return; sleep 0.02; done
  echo "the server did not start; its log:" >&2
  tail -20 "$dir.log" >&2
  exit 1
}
stop() { kill "$pid"; wait "$pid" 2> /dev/null || true; pid=; }

mkdir -p "$work/seed"
start "$work/seed"
lines=$(dotnet bench/Capacity.LoadGen/bin/Release/net10.0/Capacity.LoadGen.dll --admin-key "$ADMIN" --connections "$CONNECTIONS" \
  --url "http://127.0.0.1:$PORT" --scenario onsale --setup-only | grep '^SETUP ' | tr ' ' '\n')
key=$(sed -n 's/^api_key=//p' <<< "$lines") capped=$(sed -n 's/^capped=//p' <<< "$lines")
stop
printf 'wrk.method = "POST"\nwrk.body = "{\\"quantity\\":1}"\nwrk.headers["Content-Type"] = "application/json"\n' > "$work/hold.lua"

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

echo "== $STARTS starts${SETTINGS[*]:+ with ${SETTINGS[*]}}, $SLICES slices of 1 s from the first /healthz answer; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "start: holds/s (server cores) per second"
for run in $(seq 1 "$STARTS"); do
  rm -rf "$work/run"
  cp -a "$work/seed" "$work/run"
  start "$work/run" "${SETTINGS[@]}"
  line="$run:"
  for _ in $(seq 1 "$SLICES"); do
    before=$(cpu_ticks "$pid")
    output=$(wrk -t2 -c"$CONNECTIONS" -d1s -s "$work/hold.lua" -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/capacity/$capped/reserve")
    grep -q "Non-2xx" <<< "$output" && { echo "holds refused on a pool that cannot sell out" >&2; exit 1; }
    line="$line $(sed -n 's/^Requests\/sec: *//p' <<< "$output" | xargs printf '%.0f') ($(echo "scale=2; ($(cpu_ticks "$pid") - $before) / $hz" | bc))"
  done
  echo "$line"
  ok=$(curl -fs -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/admin/verify" | jq -r .ok || echo failed)
  [ "$ok" = true ] || { echo "GET /admin/verify answered $ok" >&2; exit 1; }
  stop
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); GET /admin/verify true after every start"
