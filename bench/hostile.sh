#!/usr/bin/env bash
# Issue 21's hostile tenant against a real server process (Kestrel over TCP), on SQLite and, when
# PostgreSQL is installed, on a throwaway PostgreSQL cluster: tenant H fills one event to its bounds
# (a pool and 9,999 sections, 100,000 live holds), opens 500 streams on it, keeps changing it and
# reads the whole of it in 64 loops; meanwhile tenant O reads and holds on its own small event and
# /healthz is asked every 50 ms (LoadGen --scenario hostile). Prints a Markdown table of what O and
# /healthz saw and of the server's resident memory before, during and after, and appends it to
# bench/results/hostile-<date>.md.
#
#   bench/hostile.sh                                   # about 7 minutes on 2 cores (PostgreSQL's setup: 2.5)
#   POSTGRES=0 SECTIONS=999 HOLDS=10000 bench/hostile.sh   # a quick smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

SECTIONS=${SECTIONS:-9999}            # sections of 1,000 under H's pool (the event's capacities: one more)
HOLDS=${HOLDS:-100000}                # live holds H places, 1 ticket, 60 minutes each
HOLD_CONCURRENCY=${HOLD_CONCURRENCY:-48} # H's holds in flight at once during its setup
STREAMS=${STREAMS:-500}               # H's event streams
HEAVY=${HEAVY:-64}                    # H's concurrent loops of the whole unpaged list of its event
DURATION=${DURATION:-20}              # seconds O and /healthz are measured, during H's load
SETTLE=${SETTLE:-10,30}               # seconds after H closes everything at which memory is read
PORT=${PORT:-5099}                    # the server; PostgreSQL takes the next one
SQLITE=${SQLITE:-1}                   # 0 skips the SQLite run
POSTGRES=${POSTGRES:-1}               # 0 skips the PostgreSQL run
# KEEP=1 keeps the work directory (the servers' logs and data) and prints where it is
PG_SECTIONS=${PG_SECTIONS:-$SECTIONS} # the PostgreSQL run's, if its setup is too slow at full size
PG_HOLDS=${PG_HOLDS:-$HOLDS}
PG_PORT=$((PORT + 1))

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

out=bench/results
mkdir -p "$out"
work=$(mktemp -d /tmp/capacity-hostile-XXXXXX)
server_pid= pg_pid=
cleanup() {
  stop_pid "$server_pid"
  if [ -n "$pg_pid" ] && kill -0 "$pg_pid" 2> /dev/null; then
    kill -INT "$pg_pid"  # fast shutdown
    wait "$pg_pid" 2> /dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

stop_pid() {
  if [ -n "${1:-}" ] && kill -0 "$1" 2> /dev/null; then
    kill -TERM "$1"
    wait "$1" 2> /dev/null || true
  fi
}

say() { printf '%s\n' "$*" >&2; }

ADMIN="capadmin_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SERVER_DIR=src/Capacity.Server/bin/Release/net10.0
LOADGEN=bench/Capacity.LoadGen/bin/Release/net10.0/Capacity.LoadGen.dll

say "== build (Release)"
for project in src/Capacity.Server bench/Capacity.LoadGen; do
  dotnet build "$project" -c Release -nologo -clp:ErrorsOnly > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
done

# The server at issue 21's bounds, with the rate limiter off (H's setup would otherwise be the
# limiter's figure), settings as environment variables the way a deployment sets them:
#   start_server <data dir> [more server options]
start_server() {
  local dir=$1
  shift
  mkdir -p "$dir"
  (cd "$SERVER_DIR" && exec env Capacity__Quotas__MaxStreamsPerTenant=$((STREAMS > 500 ? STREAMS : 500)) Capacity__Quotas__MaxCapacitiesPerEvent=10000 \
    Capacity__Quotas__MaxLiveHoldsPerTenant=100000 Capacity__RateLimit__PermitsPerSecond=0 Auth__AdminKey="$ADMIN" \
    dotnet Capacity.Server.dll --urls "http://127.0.0.1:$PORT" --Storage:DataDirectory="$dir" --Storage:Sqlite:Path="$dir/capacity.db" "$@") > "$dir/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$PORT/healthz" > /dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2> /dev/null || break
    sleep 0.1
  done
  say "the server did not start; its log:"
  tail -20 "$dir/server.log" >&2
  exit 1
}

# One run: run <store> <sections> <holds> [server options]; its RESULT line goes to $work/<store>.result.
run() {
  local store=$1 sections=$2 holds=$3 status=0
  shift 3
  start_server "$work/$store" "$@"
  say "== $store: $sections sections, $holds holds, $STREAMS streams, $HEAVY heavy loops, O for $DURATION s (server pid $server_pid)"
  dotnet "$LOADGEN" --url "http://127.0.0.1:$PORT" --admin-key "$ADMIN" --scenario hostile --server-pid "$server_pid" --duration "$DURATION" \
    --sections "$sections" --holds "$holds" --hold-concurrency "$HOLD_CONCURRENCY" --streams "$STREAMS" --heavy-loops "$HEAVY" --settle "$SETTLE" \
    2>&1 | tee "$work/$store.out" >&2 || status=$?
  grep '^RESULT ' "$work/$store.out" | tail -1 | cut -d' ' -f2- > "$work/$store.result" || true
  [ -s "$work/$store.result" ] || say "  FAILED (exit $status): no RESULT line; server log: $(tail -5 "$work/$store/server.log")"
  stop_pid "$server_pid"
  server_pid=
  stores+=("$store")
}

stores=()
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
[ "$SQLITE" = 1 ] && run sqlite "$SECTIONS" "$HOLDS"

if [ "$POSTGRES" = 1 ] && [ -n "$pg_bin" ]; then
  [ "$(id -u)" = 0 ] && chown postgres "$work"
  start_postgres "$work/pgdata" "$PG_PORT" "$work/postgres.log"
  run postgres "$PG_SECTIONS" "$PG_HOLDS" --Storage:Provider=postgres "--Storage:Postgres:ConnectionString=Host=127.0.0.1;Port=$PG_PORT;Username=capacity;Database=postgres"
elif [ "$POSTGRES" = 1 ]; then
  say "  note: no PostgreSQL under /usr/lib/postgresql; the PostgreSQL run is skipped"
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the table --------------------------------------------------------------------------------

# One value of a store's RESULT line: kv <store> <key>.
kv() { tr ' ' '\n' < "$work/$1.result" | sed -n "s/^$2=//p"; }
# A row: its title, then a format for printf and the keys it takes, for each store.
row() { # title format key...
  local title=$1 format=$2 cells=() store values k
  shift 2
  for store in "${stores[@]}"; do
    values=()
    for k in "$@"; do values+=("$(kv "$store" "$k")"); done
    # shellcheck disable=SC2059
    cells+=("$(LC_ALL=C printf "$format" "${values[@]}" 2> /dev/null || echo "n/a")")
  done
  printf '| %s |' "$title"
  printf ' %s |' "${cells[@]}"
  printf '\n'
}

machine="$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -h | awk '/^Mem:/ { print $2 }') memory, .NET $(dotnet --list-runtimes | awk '/Microsoft.NETCore.App/ { v = $2 } END { print v }'), $(uname -sr)"
table=$work/table.md
{
  echo "## Hostile tenant (issue 21), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)"
  echo
  echo "$machine. Load average (1, 5, 15 min) before: $load_before; after: $load_after. Took $(( $(date +%s) - started )) s."
  echo "H: $STREAMS streams, $HEAVY loops of the whole list, one loop of changes; O and /healthz (every 50 ms) measured for $DURATION s during that."
  echo
  printf '| Figure |'; printf ' %s |' "${stores[@]}"; printf '\n'
  printf '|---|'; printf -- '---|%.0s' "${stores[@]}"; printf '\n'
  row "H setup: capacities (sections + pool), capacities/s" "%'d, %'.0f/s" sections capacities_per_s
  row "H setup: holds placed of asked (201), holds/s" "%'d of %'d, %'.0f/s" holds_placed holds_asked holds_per_s
  row "H: streams open of asked, seconds to open them" "%d of %d, %.1f s" streams_open streams_asked streams_open_s
  row "H: snapshots a stream received (mean), MiB streamed in all" "%.1f, %'.0f MiB" snapshots_per_stream streamed_mib
  row "H: changes made; whole-event reads done (non-2xx)" "%'d; %'d (%d)" changes heavy_reads heavy_non2xx
  row "H: whole-event read p50 / p99" "%.0f / %.0f ms" heavy_p50_ms heavy_p99_ms
  row "O reads \`GET /capacity/{id}\`: n, p50 / p99 / max" "%'d, %.1f / %.1f / %.0f ms" o_reads o_read_p50_ms o_read_p99_ms o_read_max_ms
  row "O holds \`POST /capacity/{id}/reserve\`: n, p50 / p99 / max" "%'d, %.1f / %.1f / %.0f ms" o_holds o_hold_p50_ms o_hold_p99_ms o_hold_max_ms
  row "O together: p50 / **p99** / max (target p99 < 250 ms); non-2xx" "%.1f / **%.1f** / %.0f ms; %d" o_p50_ms o_p99_ms o_max_ms o_non2xx
  row "\`/healthz\`: n, p50 / **p99** / max (target < 100 ms); non-2xx" "%'d, %.1f / **%.1f** / %.0f ms; %d" healthz healthz_p50_ms healthz_p99_ms healthz_max_ms healthz_non2xx
  row "Server resident before H / peak during setup / after setup" "%'.0f / %'.0f / %'.0f MiB" rss_before_mib rss_setup_peak_mib rss_loaded_mib
  row "Server resident: peak during H's load" "%'.0f MiB" rss_peak_mib
  for after in ${SETTLE//,/ }; do
    row "Server resident ${after} s after H closed everything (managed heap)" "%'.0f MiB (%'.0f)" "rss_${after}s_mib" "gc_${after}s_mib"
  done
  row "Managed heap before H / after setup / end of load" "%'.0f / %'.0f / %'.0f MiB" gc_before_mib gc_loaded_mib gc_load_end_mib
  row "\`GET /admin/verify\` afterwards" "%s" verify
  echo
} > "$table"
cat "$table"
report="$out/hostile-$(date -u +%Y-%m-%d).md"
[ -e "$report" ] || echo "# Hostile tenant runs (bench/hostile.sh)" > "$report"
{ echo; cat "$table"; echo "Raw RESULT lines:"; echo; echo '```'; for s in "${stores[@]}"; do echo "$s $(cat "$work/$s.result")"; done; echo '```'; } >> "$report"
for s in "${stores[@]}"; do [ -s "$work/$s.result" ] && [ "$(kv "$s" verify)" != failed ] || exit 1; done
