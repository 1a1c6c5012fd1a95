#!/usr/bin/env bash
# One command for the whole performance set: builds Release, runs the engine bench (SQLite and
# PostgreSQL, batching on and off, expiry, one million stored holds), the HTTP load against a real
# server (on-sale, sold-out, reads, holds with every rule switched on) next to the baselines measured
# in the same run (a bare minimal-API echo, and Redis running a Lua reserve script with
# appendfsync always), the server right after its start, two server nodes on one PostgreSQL database,
# and the micro-benchmarks; repeats the figures RUNS times and writes the medians, and the ratios
# taken within each run, to bench/results/latest.md.
#
#   bench/run.sh                                              # about 25 minutes on 2 cores
#   RUNS=1 DURATION=2 WARMUP=2 FILL=0 BDN_JOB=none ENGINE=0 bench/run.sh   # a quick smoke run
#
# Everything runs on this machine: the load generator shares the cores with the server, so HTTP
# figures are a floor for a server with the machine to itself. That is why the HTTP figures are also
# given as ratios to the echo and to Redis: the same load generator on the same cores, minutes apart.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-3}                 # repeats of each engine and HTTP figure
DURATION=${DURATION:-5}         # measured seconds per engine or HTTP run (LoadGen: plus 1 s warm-up)
CLIENTS=${CLIENTS:-1000}        # concurrent in-process submitters for the engine bench
CONNECTIONS=${CONNECTIONS:-64}  # keep-alive HTTP connections (and Redis clients)
EXPIRY=${EXPIRY:-100000}        # due holds for the expiry figure
FILL=${FILL:-1000000}           # stored holds for the memory figure; 0 skips it
BDN_JOB=${BDN_JOB:-short}       # BenchmarkDotNet job for the micro-benchmarks; "none" skips them
ENGINE=${ENGINE:-1}             # 0 skips the engine bench
PORT=${PORT:-5077}              # the server; the echo, Redis, PostgreSQL and the second node use the next four
WARMUP=${WARMUP:-10}            # unrecorded seconds of HTTP load per scenario before the first HTTP figure
ENGINE_WARMUP=${ENGINE_WARMUP:-3} # unmeasured seconds at the start of each engine run
REDIS=${REDIS:-1}               # 0 skips the Redis reference (skipped anyway without redis-server and redis-benchmark)
REDIS_RATE=${REDIS_RATE:-50000} # operations asked of redis-benchmark per second of DURATION (it runs a count, not a time)
COLD=${COLD:-1}                 # 0 skips the figures right after a start
COLD_SECONDS=${COLD_SECONDS:-5} # seconds of hold load on a fresh process, from its first /healthz answer
# One cold start per entry and run: "default", "r2r" (the server published with ReadyToRun), or
# runtime settings joined by "+". Entries that are environment variables apply to that process only.
KNOBS=${KNOBS:-default DOTNET_TieredPGO=0 DOTNET_TC_QuickJitForLoops=0 DOTNET_TC_CallCountingDelayMs=0 DOTNET_OSR_HitLimit=1+DOTNET_TC_OnStackReplacement_InitialCounter=10 DOTNET_TieredCompilation=0 DOTNET_ReadyToRun=0 r2r}
POSTGRES=${POSTGRES:-1}         # 0 skips the two nodes on PostgreSQL
FLUSH=${FLUSH:-1}               # 0 skips the disk's sync latency (bench/flush-gap.py, about 10 s)

ECHO_PORT=$((PORT + 1)) REDIS_PORT=$((PORT + 2)) PG_PORT=$((PORT + 3)) PORT2=$((PORT + 4))

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

out=bench/results
mkdir -p "$out"
work=$(mktemp -d /tmp/capacity-bench-XXXXXX)
log=$out/latest.log
results=$work/results.txt
notes=$work/notes.txt
: > "$log"
: > "$results"
: > "$notes"
failures=0
server_pid= echo_pid= redis_pid= pg_pid= pg_data=
pids=()

cleanup() {
  for pid in "${pids[@]}" "$redis_pid"; do
    stop_pid "$pid"
  done
  stop_postgres
  # What the servers logged above Information, and their memory trims (a full collection taken when
  # the process looks idle, whose pause would show in a p99), go to the log before the folder does.
  for file in "$work"/*/server.log; do
    [ -f "$file" ] || continue
    printf '\n$ %s: warnings, errors and memory trims\n' "${file#"$work"/}" >> "$log"
    jq -rR 'fromjson? | select(.LogLevel == "Warning" or .LogLevel == "Error" or .LogLevel == "Critical"
      or ((.Message // "") | startswith("Quiet after a burst"))) | "\(.Timestamp) \(.LogLevel) \(.Category): \(.Message)"' "$file" >> "$log" || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

stop_postgres() {
  if [ -n "$pg_pid" ] && kill -0 "$pg_pid" 2> /dev/null; then
    kill -INT "$pg_pid"  # fast shutdown
    wait "$pg_pid" 2> /dev/null || true
  fi
  pg_pid=
  if [ -n "$pg_data" ]; then rm -rf "$pg_data"; fi
  pg_data=
}

say() { printf '%s\n' "$*" | tee -a "$log" >&2; }
# A line for the report, under the table: what was skipped and why.
note() { say "  note: $*"; echo "- $*" >> "$notes"; }
fail() { failures=$((failures + 1)); say "  FAILED: $*"; }

# Runs one bench, keeps its whole output in the log and its RESULT line in $results as
# "<label> <run> key=value ...". A failed run (broken invariant, crash) is counted, not fatal.
record() {
  local label=$1 run=$2 output status=0
  shift 2
  output=$("$@" 2>&1) || status=$?
  printf '\n$ %s\n%s\n' "$*" "$output" >> "$log"
  local line
  line=$(printf '%s\n' "$output" | grep '^RESULT ' | tail -1 | cut -d' ' -f2- || true)
  if [ "$status" -ne 0 ] || [ -z "$line" ]; then
    fail "(exit $status): $label run $run; see $log"
    line="${line} failed=yes"
  fi
  echo "$label $run $line" >> "$results"
  show "$label" "$run" "$line"
  case $label in
    http-onsale | http-rules) [[ $line == *" s409=0 s4xx_other=0 s5xx=0 errors=0 "* ]] || fail "$label run $run: holds refused or lost on a pool that cannot sell out" ;;
  esac
}

show() { printf '  %-26s run %s: %s\n' "$1" "$2" "$(printf '%s' "$3" | tr ' ' '\n' | grep -E '^(holds_per_s|rows_per_s|rps|ops_per_s|expiry_s|fixed_us|per_hold_us|rss_mib|p99_ms|non2xx|ready_s|audit|verify)=' | tr '\n' ' ' || true)" >&2; }

ADMIN="capadmin_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SERVER_DIR=src/Capacity.Server/bin/Release/net10.0
ECHO_DIR=bench/Capacity.Echo/bin/Release/net10.0

# Starts a .NET web app from its output folder and waits until GET /healthz answers:
#   start_dotnet <folder> <dll> <port> <log file> [VAR=value ...] [-- options]
# Sets started_pid (the dotnet process itself) and ready_s, the seconds from the spawn to the first answer.
start_dotnet() {
  local folder=$1 dll=$2 port=$3 logfile=$4 envs=() spawned
  shift 4
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  spawned=$(date +%s.%N)
  (cd "$folder" && exec env "${envs[@]}" dotnet "$dll" --urls "http://127.0.0.1:$port" "$@") > "$logfile" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
  for _ in $(seq 1 600); do
    if curl -fs "http://127.0.0.1:$port/healthz" > /dev/null 2>&1; then
      ready_s=$(echo "$(date +%s.%N) - $spawned" | bc)
      return 0
    fi
    kill -0 "$started_pid" 2> /dev/null || break
    sleep 0.05
  done
  say "$dll did not start on port $port; its log:"
  tail -20 "$logfile" >&2
  return 1
}

# The server from <folder> (its own appsettings.json applies, as when deployed) on <data dir>, with
# the database path given explicitly because appsettings.json names ./data; webhooks may go to
# 127.0.0.1 (the rules scenario's subscriber is the echo), and the per-tenant rate limit and
# live-hold bound so high that they never refuse (their counting still runs): on a fast machine one
# tenant's reads pass its default 50,000 a second, and one run's holds its default 200,000 active
# holds, and the 429s would be measured as reads and holds:
#   start_server <folder> <data dir> <port> [VAR=value ...] [-- more server options]
start_server() {
  local folder=$1 dir=$2 port=$3 envs=()
  shift 3
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  mkdir -p "$dir"
  start_dotnet "$folder" Capacity.Server.dll "$port" "$dir/server.log" "${envs[@]}" -- --Auth:AdminKey="$ADMIN" \
    --Storage:DataDirectory="$dir" --Storage:Sqlite:Path="$dir/capacity.db" --Capacity:Webhooks:AllowPrivateNetworks=true \
    --Capacity:RateLimit:PermitsPerSecond=1000000000 --Capacity:RateLimit:Burst=1000000000 \
    --Capacity:Quotas:MaxLiveHoldsPerTenant=1000000000 "$@"
}

stop_pid() {
  if [ -n "${1:-}" ] && kill -0 "$1" 2> /dev/null; then
    kill -TERM "$1"
    wait "$1" 2> /dev/null || true
  fi
}

# GET /admin/verify on a server; a failure is counted.
verify() { # <port> <what>
  local ok
  ok=$(curl -fs -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$1/admin/verify" | jq -r .ok || echo failed)
  if [ "$ok" != true ]; then
    fail "GET /admin/verify after $2 answered $ok"
  fi
}

# CPU seconds a process has used so far (user + system).

# Resident and peak resident memory of a process, in MiB.
memory_mib() { awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { printf "%.0f %.0f\n", r / 1024, h / 1024 }' "/proc/$1/status"; }

# The figures of one wrk output as "rps=… p99_ms=… non2xx=… errors=…".
wrk_fields() {
  awk '/^Requests\/sec:/ { rps = $2 }
       $1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) sub(/ms$/, "", v); else { sub(/s$/, "", v); v *= 1000 } p99 = v }
       /Non-2xx/ { non = $NF }
       /Socket errors/ { gsub(/,/, ""); errors = $4 + $6 + $8 + $10 }
       END { printf "rps=%s p99_ms=%s non2xx=%d errors=%d\n", rps + 0, p99 + 0, non, errors }' <<< "$1"
}

# One value of a "key=value key=value" line: kv <line> <key>.
kv() { tr ' ' '\n' <<< "$1" | sed -n "s/^$2=//p"; }

# One wrk run of DURATION on all CONNECTIONS: wrk_run <label> <run> <pid to measure> <url> [wrk options].
# A hold that is not a 2xx on a pool that cannot sell out is a failure.
wrk_run() {
  local label=$1 run=$2 pid=$3 url=$4 output before began line
  shift 4
  before=$(cpu_seconds "$pid") began=$(date -u +%H:%M:%S.%3N)
  output=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url" 2>&1)
  printf '\n$ wrk %s %s (from %s UTC)\n%s\n' "$label" "$url" "$began" "$output" >> "$log"
  line="$(wrk_fields "$output") server_cores=$(printf '%.3f' "$(echo "($(cpu_seconds "$pid") - $before) / $DURATION" | bc -l)")"
  echo "$label $run $line" >> "$results"
  show "$label" "$run" "$line"
  case $label in
    *onsale | *onsale-lua | *rules) [[ $line == *" non2xx=0 errors=0 "* ]] || fail "$label run $run: holds refused or lost on a pool that cannot sell out ($line)" ;;
    wrk-reads) [[ $line == *" non2xx=0 errors=0 "* ]] || fail "$label run $run: reads not answered 200 ($line)" ;;
  esac
  [[ $line != "rps=0 "* ]] || fail "$label run $run: wrk measured nothing; see $log"
}

# A tenant and an event on a server, for wrk: sets key and capped (the capped child, which the holds hit).
setup_target() { # <port> <scenario>
  local setup
  setup=$("${LOADGEN_BASE[@]}" --url "http://127.0.0.1:$1" --scenario "$2" --webhook-url "http://127.0.0.1:$ECHO_PORT/hook" --setup-only | grep '^SETUP ' | tr ' ' '\n')
  key=$(sed -n 's/^api_key=//p' <<< "$setup")
  capped=$(sed -n 's/^capped=//p' <<< "$setup")
}

started=$(date +%s)
say "== build (Release)"
for project in src/Capacity.Server bench/Capacity.Echo bench/Capacity.EngineBench bench/Capacity.LoadGen bench/Capacity.Benchmarks; do
  dotnet build "$project" -c Release -nologo -clp:ErrorsOnly >> "$log" 2>&1 || { say "build of $project failed; see $log"; exit 1; }
done
if [ "$COLD" = 1 ] && [[ " $KNOBS " == *" r2r "* ]]; then
  # Framework-dependent, as the server ships; needs the runtime pack and crossgen from the NuGet feed.
  if ! dotnet publish src/Capacity.Server -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
       -o "$work/r2r" -nologo -clp:ErrorsOnly >> "$log" 2>&1; then
    note "ReadyToRun: the publish failed (the runtime pack or crossgen did not restore?); the r2r start is skipped, see $log"
    KNOBS=${KNOBS/r2r/}
  fi
fi

ENGINE_CMD=(dotnet bench/Capacity.EngineBench/bin/Release/net10.0/Capacity.EngineBench.dll --clients "$CLIENTS" --duration "$DURATION" --warmup "$ENGINE_WARMUP")
# Without --duration, which each use adds once: the option takes a single value, and a second one is
# an error, not an override.
LOADGEN_BASE=(dotnet bench/Capacity.LoadGen/bin/Release/net10.0/Capacity.LoadGen.dll --admin-key "$ADMIN" --connections "$CONNECTIONS")
LOADGEN=("${LOADGEN_BASE[@]}" --url "http://127.0.0.1:$PORT")
LOADGEN_ECHO=("${LOADGEN_BASE[@]}" --url "http://127.0.0.1:$ECHO_PORT" --echo)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# What a batch's flush pays on this machine's disk, back to back and after the writer's work
# (docs/performance.md, "The flush waits for the virtual disk to wake"): on a virtual disk the second
# can be ten times the first, and it bounds the holds' closed loop, so each report carries it.
flush_line=
if [ "$FLUSH" = 1 ] && command -v python3 > /dev/null; then
  say "== the disk: 25-page syncs back to back and after 300 µs of work (bench/flush-gap.py, 3 rounds)"
  flush_line=$(python3 bench/flush-gap.py "$work" 3 | tee -a "$log" | sed -n 's/^FLUSH //p')
fi

if [ "$ENGINE" = 1 ]; then
  say "== engine: durable single-ticket holds in process, $CLIENTS submitters, ${DURATION} s each, $RUNS runs"
  for run in $(seq 1 "$RUNS"); do
    for store in sqlite postgres; do
      for batching in on off; do
        record "$store-$batching" "$run" "${ENGINE_CMD[@]}" --store "$store" --batching "$batching"
      done
    done
    # The ceiling of a durable row per hold: the reservation rows alone, as the writer inserts them.
    record "floor" "$run" "${ENGINE_CMD[@]}" --scenario floor
    record "expiry" "$run" "${ENGINE_CMD[@]}" --scenario expiry --holds "$EXPIRY"
    # CPU per commit at fixed batch sizes and the fixed-plus-per-hold line through it, with and without the fsync.
    record "sweep-sync" "$run" dotnet bench/Capacity.EngineBench/bin/Release/net10.0/Capacity.EngineBench.dll --scenario sweep --warmup 1 --duration 2
    record "sweep-nosync" "$run" dotnet bench/Capacity.EngineBench/bin/Release/net10.0/Capacity.EngineBench.dll --scenario sweep --warmup 1 --duration 2 --sync off
  done
fi

# ---- HTTP, warm: the server and its baselines, interleaved within each run -----------------------

redis_sha=
if [ "$REDIS" = 1 ] && command -v redis-server > /dev/null && command -v redis-benchmark > /dev/null; then
  # The reference the issue names: a reserve as a Lua script on one hash, every write fsynced before
  # its answer (appendfsync always; Redis still flushes once per event-loop turn, so concurrent
  # clients share an fsync, as a batch shares a commit). The same decision as a single-ticket hold on
  # one pool: refused when reserved + n would pass the limit.
  mkdir -p "$work/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$work/redis" --appendonly yes --appendfsync always --save "" \
    --daemonize no --logfile "$work/redis/redis.log" &
  redis_pid=$!
  for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1 && break; sleep 0.05; done
  redis_sha=$(redis-cli -p "$REDIS_PORT" SCRIPT LOAD "
    local v = redis.call('HMGET', KEYS[1], 'reserved', 'limit')
    local n = tonumber(ARGV[1])
    if tonumber(v[1]) + n > tonumber(v[2]) then return -1 end
    return redis.call('HINCRBY', KEYS[1], 'reserved', n)")
  # A limit that is never reached, as the on-sale pool's.
  redis-cli -p "$REDIS_PORT" HSET pool reserved 0 limit 1000000000000 > /dev/null
  say "== reference: Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), appendfsync always, Lua reserve $redis_sha"
elif [ "$REDIS" = 1 ]; then
  note "Redis reference skipped: redis-server and redis-benchmark are not installed (apt-get install -y redis-server)"
fi

# redis_run <run>: EVALSHA of the reserve on CONNECTIONS clients, for about DURATION seconds; checks
# that every operation reserved its ticket (a script error would be answered, and counted, just as fast).
redis_run() {
  local run=$1 n=$((REDIS_RATE * DURATION)) before after cpu output line
  before=$(redis-cli -p "$REDIS_PORT" HGET pool reserved)
  cpu=$(cpu_seconds "$redis_pid")
  output=$(redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c "$CONNECTIONS" -n "$n" --csv EVALSHA "$redis_sha" 1 pool 1 2>&1)
  after=$(redis-cli -p "$REDIS_PORT" HGET pool reserved)
  printf '\n$ redis-benchmark -c %s -n %s EVALSHA %s 1 pool 1\n%s\n' "$CONNECTIONS" "$n" "$redis_sha" "$output" >> "$log"
  line=$(awk -F'","' 'NR == 2 { for (i = 1; i <= NF; i++) gsub(/"/, "", $i); printf "ops_per_s=%s p50_ms=%s p99_ms=%s", $2, $5, $7 }' <<< "$output")
  # Its CPU over its own elapsed time, which is the count over the rate.
  line="$line reserved=$((after - before)) server_cores=$(printf '%.3f' "$(echo "($(cpu_seconds "$redis_pid") - $cpu) * $(kv "$line" ops_per_s) / $n" | bc -l)")"
  echo "redis $run $line" >> "$results"
  show redis "$run" "$line"
  [ "$((after - before))" = "$n" ] || fail "redis run $run: $n operations reserved $((after - before)) tickets; see $log"
}

say "== HTTP: $CONNECTIONS keep-alive connections, ${DURATION} s each, $RUNS runs, load generators on the same machine"
start_dotnet "$ECHO_DIR" Capacity.Echo.dll "$ECHO_PORT" "$work/echo.log"
echo_pid=$started_pid
start_server "$SERVER_DIR" "$work/http" "$PORT"
server_pid=$started_pid
ECHO_ID=01a2430d-b353-7784-8cd7-d9244dfe8e63
ECHO_KEY="cap_$(printf 'e%.0s' $(seq 1 43))"
printf 'wrk.method = "POST"\nwrk.body = "{\\"quantity\\":1}"\nwrk.headers["Content-Type"] = "application/json"\n' > "$work/hold.lua"
# The rules scenario's holds name a buyer; each key serves 4 holds (the limit), per wrk thread. A
# request built in Lua costs wrk more CPU than hold.lua's fixed one, on the cores the server uses (in
# four alternating rounds of 2026-12-05 plain holds built in Lua ran 0.84-1.00x, median 0.97x, as fast
# as with the fixed body). So the rules are compared with plain holds built the same way (plain.lua:
# the same calls, no buyer), and the fixed body's ratio is printed beside it.
lua_request "'{\"quantity\":1,\"buyer_key\":' .. buyer .. '}'" > "$work/rules.lua"
lua_request "'{\"quantity\":1}'" > "$work/plain.lua"

# Unrecorded warm-up of every scenario used below, so tiered JIT has settled before the first
# measurement. It takes a while: after 4 s of load the JIT thread still used a sixth of the server's
# CPU (perf), and holds measured 13-15k/s after a 3 s warm-up against 21k/s after 20 s. A mixed
# warm-up is not enough: its pool sells out early, leaving the path of a successful hold cold. The
# echo gets the same, so that both sides of a ratio are warm.
for scenario in onsale soldout reads rules; do
  "${LOADGEN[@]}" --scenario "$scenario" --webhook-url "http://127.0.0.1:$ECHO_PORT/hook" --duration "$WARMUP" >> "$log" 2>&1 \
    || fail "the $scenario warm-up; see $log"
done
for scenario in onsale reads; do
  "${LOADGEN_ECHO[@]}" --scenario "$scenario" --duration "$WARMUP" >> "$log" 2>&1 || fail "the echo $scenario warm-up; see $log"
done
if [ -n "$redis_sha" ]; then
  redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c "$CONNECTIONS" -n "$REDIS_RATE" EVALSHA "$redis_sha" 1 pool 1 > /dev/null 2>&1
fi

# Each run measures the baseline, then the server, then the baseline again, so that a drift in the
# machine's load shows up as a gap between the two echo figures rather than in one ratio only.
for run in $(seq 1 "$RUNS"); do
  say "-- run $run of $RUNS"
  record "http-echo-post" "$run" "${LOADGEN_ECHO[@]}" --scenario onsale --duration "$DURATION" --server-pid "$echo_pid"
  for scenario in onsale soldout reads; do
    record "http-$scenario" "$run" "${LOADGEN[@]}" --duration "$DURATION" --scenario "$scenario" --server-pid "$server_pid"
  done
  record "http-echo-get" "$run" "${LOADGEN_ECHO[@]}" --scenario reads --duration "$DURATION" --server-pid "$echo_pid"
  record "http-rules" "$run" "${LOADGEN[@]}" --duration "$DURATION" --scenario rules --webhook-url "http://127.0.0.1:$ECHO_PORT/hook" --server-pid "$server_pid"

  # wrk, when installed: a load generator in C that needs far less CPU than HttpClient, so its
  # figures leave the server more of the two cores; the headline ratios are wrk's.
  if command -v wrk > /dev/null; then
    wrk_run wrk-echo-post "$run" "$echo_pid" "http://127.0.0.1:$ECHO_PORT/capacity/$ECHO_ID/reserve" -s "$work/hold.lua" -H "Authorization: Bearer $ECHO_KEY"
    for scenario in onsale soldout reads; do
      setup_target "$PORT" "$scenario"
      if [ "$scenario" = reads ]; then
        wrk_run "wrk-$scenario" "$run" "$server_pid" "http://127.0.0.1:$PORT/capacity/$capped" -H "Authorization: Bearer $key"
      else
        wrk_run "wrk-$scenario" "$run" "$server_pid" "http://127.0.0.1:$PORT/capacity/$capped/reserve" -s "$work/hold.lua" -H "Authorization: Bearer $key"
      fi
    done
    wrk_run wrk-echo-get "$run" "$echo_pid" "http://127.0.0.1:$ECHO_PORT/capacity/$ECHO_ID" -H "Authorization: Bearer $ECHO_KEY"
    setup_target "$PORT" onsale
    wrk_run wrk-onsale-lua "$run" "$server_pid" "http://127.0.0.1:$PORT/capacity/$capped/reserve" -s "$work/plain.lua" -H "Authorization: Bearer $key"
    setup_target "$PORT" rules
    wrk_run wrk-rules "$run" "$server_pid" "http://127.0.0.1:$PORT/capacity/$capped/reserve" -s "$work/rules.lua" -H "Authorization: Bearer $key"
  fi
  if [ -n "$redis_sha" ]; then
    redis_run "$run"
  fi
done
if ! command -v wrk > /dev/null; then
  note "wrk is not installed (apt-get install -y wrk): the ratios are LoadGen's only"
fi
verify "$PORT" "all HTTP runs"
read -r http_rss http_peak < <(memory_mib "$server_pid")
stop_pid "$server_pid"
stop_pid "$echo_pid"
stop_pid "$redis_pid"
redis_pid=

# ---- Right after a start ---------------------------------------------------------------------------

# A fresh process on a copy of a database that already has the tenant and the pool (a node restarted
# in production finds its data there, and setting them up through a second process would take the
# CPU the measurement is about). Hold load from 64 connections begins the moment /healthz answers,
# for COLD_SECONDS; ready_s is the time from the spawn to that answer. Each setting in KNOBS applies
# to that one process.
if [ "$COLD" = 1 ] && command -v wrk > /dev/null; then
  say "== right after a start: ${COLD_SECONDS} s of holds (wrk, $CONNECTIONS connections) from the first /healthz answer; $RUNS runs of: $KNOBS"
  start_server "$SERVER_DIR" "$work/cold-seed" "$PORT"
  setup_target "$PORT" onsale
  cold_key=$key cold_capped=$capped
  stop_pid "$started_pid"
  for run in $(seq 1 "$RUNS"); do
    for knob in $KNOBS; do
      folder=$SERVER_DIR envs=()
      case $knob in
        default) ;;
        r2r) folder=$work/r2r ;;
        *) IFS=+ read -r -a envs <<< "$knob" ;;
      esac
      rm -rf "$work/cold"
      cp -a "$work/cold-seed" "$work/cold"
      if ! start_server "$folder" "$work/cold" "$PORT" "${envs[@]}"; then
        fail "the server with $knob did not start"
        continue
      fi
      output=$(wrk -t2 -c"$CONNECTIONS" -d"${COLD_SECONDS}s" --latency -s "$work/hold.lua" -H "Authorization: Bearer $cold_key" \
        "http://127.0.0.1:$PORT/capacity/$cold_capped/reserve" 2>&1)
      printf '\n$ wrk cold %s\n%s\n' "$knob" "$output" >> "$log"
      line="$(wrk_fields "$output") ready_s=$(printf '%.2f' "$ready_s")"
      echo "cold-$knob $run $line" >> "$results"
      show "cold-$knob" "$run" "$line"
      [[ $line == *" non2xx=0 errors=0 "* && $line != "rps=0 "* ]] || fail "cold-$knob run $run: holds refused or lost, or none measured ($line)"
      verify "$PORT" "the start with $knob"
      stop_pid "$started_pid"
    done
  done
elif [ "$COLD" = 1 ]; then
  note "the figures right after a start need wrk; skipped"
fi

# ---- Two server nodes on one PostgreSQL database -------------------------------------------------

if [ "$POSTGRES" = 1 ] && [ -n "$pg_bin" ] && command -v wrk > /dev/null; then
  say "== two server nodes on one PostgreSQL database (fsync on), wrk $((CONNECTIONS / 2)) + $((CONNECTIONS - CONNECTIONS / 2)) connections on one pool"
  pg_data=$(mktemp -u /tmp/capacity-bench-pg-XXXXXX)
  start_postgres "$pg_data" "$PG_PORT" "$log"
  pg_options=(-- --Storage:Provider=postgres "--Storage:Postgres:ConnectionString=Host=127.0.0.1;Port=$PG_PORT;Username=capacity;Database=postgres")
  start_server "$SERVER_DIR" "$work/pg1" "$PORT" "${pg_options[@]}"
  node1=$started_pid
  start_server "$SERVER_DIR" "$work/pg2" "$PORT2" "${pg_options[@]}"
  node2=$started_pid

  # Both nodes at once on one pool, half the connections each, one wrk thread each (two in all, as
  # on the single node). Figures: the sum of the two, p99 the larger, and the nodes' CPU (PostgreSQL's
  # backends are not counted).
  pg_pair() { # <seconds>
    local c1=$((CONNECTIONS / 2)) before f1 f2
    before=$(echo "$(cpu_seconds "$node1") + $(cpu_seconds "$node2")" | bc)
    wrk -t1 -c"$c1" -d"${1}s" --latency -s "$work/hold.lua" -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/capacity/$capped/reserve" > "$work/pg-1.txt" 2>&1 &
    wrk -t1 -c"$((CONNECTIONS - c1))" -d"${1}s" --latency -s "$work/hold.lua" -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT2/capacity/$capped/reserve" > "$work/pg-2.txt" 2>&1
    wait $!
    printf '\n$ wrk, node 1\n%s\n$ wrk, node 2\n%s\n' "$(cat "$work/pg-1.txt")" "$(cat "$work/pg-2.txt")" >> "$log"
    f1=$(wrk_fields "$(cat "$work/pg-1.txt")") f2=$(wrk_fields "$(cat "$work/pg-2.txt")")
    printf 'rps=%s p99_ms=%s non2xx=%s errors=%s rps_node1=%s rps_node2=%s server_cores=%.3f\n' \
      "$(echo "$(kv "$f1" rps) + $(kv "$f2" rps)" | bc)" "$(printf '%s\n%s\n' "$(kv "$f1" p99_ms)" "$(kv "$f2" p99_ms)" | sort -g | tail -1)" \
      "$(($(kv "$f1" non2xx) + $(kv "$f2" non2xx)))" "$(($(kv "$f1" errors) + $(kv "$f2" errors)))" "$(kv "$f1" rps)" "$(kv "$f2" rps)" \
      "$(echo "($(cpu_seconds "$node1") + $(cpu_seconds "$node2") - $before) / $1" | bc -l)"
  }
  setup_target "$PORT" onsale
  pg_pair "$WARMUP" > /dev/null
  # Statistics, as autovacuum gathers them within its first minute on a live database. Without them
  # the planner guesses a huge row count for the batch's recursive closure query and PostgreSQL
  # JIT-compiles it in every batch (about 150 ms each, jit_above_cost): holds ran at 50-150/s on one
  # node, against 1,000-2,300/s after ANALYZE, in one sitting. A figure that depended on whether
  # autovacuum had run yet would measure its timing, not the server.
  "$pg_bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U capacity -d postgres -qc ANALYZE >> "$log" 2>&1
  for run in $(seq 1 "$RUNS"); do
    setup_target "$PORT" onsale
    line=$(pg_pair "$DURATION")
    echo "pg2-onsale $run $line" >> "$results"
    show "pg2-onsale" "$run" "$line"
    [[ $line == *" non2xx=0 errors=0 "* ]] || fail "pg2-onsale run $run: holds refused or lost ($line)"
    # One node with all the connections, the other idle: splits the two-node figure into what
    # PostgreSQL costs and what the second node adds (both contend for the hot pool's row locks).
    setup_target "$PORT" onsale
    wrk_run pg1-onsale "$run" "$node1" "http://127.0.0.1:$PORT/capacity/$capped/reserve" -s "$work/hold.lua" -H "Authorization: Bearer $key"
  done
  verify "$PORT" "the PostgreSQL runs (node 1)"
  verify "$PORT2" "the PostgreSQL runs (node 2)"
  stop_pid "$node1"
  stop_pid "$node2"
  stop_postgres
elif [ "$POSTGRES" = 1 ]; then
  note "the two nodes on PostgreSQL need PostgreSQL under /usr/lib/postgresql and wrk; skipped"
fi

# ---- Memory, micro-benchmarks --------------------------------------------------------------------

fill_rows=
if [ "$FILL" -gt 0 ]; then
  say "== memory: $FILL stored holds (SQLite), then a server on that database"
  record "fill" 1 "${ENGINE_CMD[@]}" --scenario fill --holds "$FILL" --sqlite-path "$work/fill/capacity.db"
  start_server "$SERVER_DIR" "$work/fill" "$PORT"
  server_pid=$started_pid
  curl -fs -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/readyz" > /dev/null || true
  read -r idle_rss _ < <(memory_mib "$server_pid")
  verify_start=$(date +%s.%N)
  verify=$(curl -fs -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/admin/verify" | jq -c '{ok, capacities, live_reservations}' || echo '"failed"')
  verify_s=$(echo "$(date +%s.%N) - $verify_start" | bc)
  read -r after_rss after_peak < <(memory_mib "$server_pid")
  stop_pid "$server_pid"
  fill_rows=$(printf '| Server with %s stored holds: resident after start | %s MiB |\n| Same server: resident after `GET /admin/verify` / peak during it | %s / %s MiB |\n| `GET /admin/verify` over them | %.1f s, %s |\n' \
    "$FILL" "$idle_rss" "$after_rss" "$after_peak" "$verify_s" "$verify")
fi

bdn_tables=
if [ "$BDN_JOB" != none ]; then
  say "== micro-benchmarks (BenchmarkDotNet, job $BDN_JOB)"
  if dotnet bench/Capacity.Benchmarks/bin/Release/net10.0/Capacity.Benchmarks.dll --filter '*' --job "$BDN_JOB" \
       --artifacts "$work/bdn" --exporters github >> "$log" 2>&1; then
    bdn_tables=$(for f in "$work"/bdn/results/*-report-github.md; do sed -n '/^| Method/,$p' "$f"; echo; done)
  else
    fail "micro-benchmarks; see $log"
  fi
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report -------------------------------------------------------------------------------

# Values of one field of one label, in run order.
field() { awk -v l="$1" -v f="$2" '$1 == l { for (i = 3; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == f) print substr($i, n + 1) } }' "$results"; }
has() { grep -q "^$1 " "$results"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Numbers for people: thousands separated above 100, two decimals below.
fmt() { awk 'function commas(s,  r) { r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } return s r }
  { if ($1 !~ /^[0-9.]+$/) print $1; else if ($1 >= 100) print commas(sprintf("%.0f", $1)); else printf "%.2f\n", $1 }'; }
row() { # title label field
  local values
  has "$2" || return 0
  values=$(field "$2" "$3")
  printf '| %s | %s | **%s** |\n' "$1" "$(printf '%s\n' "$values" | fmt | paste -sd' ' | sed 's/ / · /g')" "$(printf '%s\n' "$values" | median | fmt)"
}
# Per-run ratios of two labels' fields, one a line.
ratios() { # label-over label-under field [field-under, when it differs]
  paste <(field "$1" "$3") <(field "$2" "${4:-$3}") | awk '$2 > 0 { r = $1 / $2; printf (r < 10 ? "%.2f\n" : "%.1f\n"), r }'
}
ratio_row() { # title label-over label-under field [field-under]
  local values
  has "$2" && has "$3" || return 0
  values=$(ratios "$2" "$3" "$4" "${5:-$4}")
  printf '| %s | %s | **%s×** |\n' "$1" "$(printf '%s\n' "$values" | sed 's/$/×/' | paste -sd' ' | sed 's/ / · /g')" "$(printf '%s\n' "$values" | median | awk '{ printf ($1 < 10 ? "%.2f" : "%.1f"), $1 }')"
}
# A target of the issue: the per-run ratios, their median, the target and whether the median meets it.
target_row() { # title label-over label-under field target [field-under]
  local values m
  has "$2" && has "$3" || return 0
  values=$(ratios "$2" "$3" "$4" "${6:-$4}")
  m=$(printf '%s\n' "$values" | median)
  printf '| %s | ≥ %s× | %s | **%s×** | %s |\n' "$1" "$5" "$(printf '%s\n' "$values" | sed 's/$/×/' | paste -sd' ' | sed 's/ / · /g')" \
    "$(awk -v m="$m" 'BEGIN { printf "%.2f", m }')" "$(awk -v m="$m" -v t="$5" 'BEGIN { print (m >= t ? "yes" : "**no**") }')"
}

machine="$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -h | awk '/^Mem:/ { print $2 }') memory, .NET $(dotnet --list-runtimes | awk '/Microsoft.NETCore.App/ { v = $2 } END { print v }'), $(uname -sr)"
{
  echo "# Capacity performance: latest run"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' with uncommitted changes in src/'), $machine."
  echo "Load average (1, 5, 15 min) before: $load_before; after: $load_after. Took $(( $(date +%s) - started )) s."
  if [ -n "$flush_line" ]; then
    echo "The disk (bench/flush-gap.py, 3 rounds, medians): a 25-page fsync takes $(kv "$flush_line" back_to_back_ms) ms back to back and $(kv "$flush_line" after_gap_ms) ms after 300 µs of work, as each batch's flush comes after the writer's."
  fi
  echo "Each figure: $RUNS runs of ${DURATION} s measured (engine: after ${ENGINE_WARMUP} s unmeasured; HTTP: after ${WARMUP} s of unrecorded load per scenario, then 1 s for LoadGen); the median is in bold. Ratios are taken within each run: the echo, the server and Redis are measured one after another in every run, with the same load generator and $CONNECTIONS connections."
  echo
  if has wrk-onsale || has http-onsale; then
    echo "The issue's targets (ratios with wrk, the lighter load generator, where it ran; LoadGen's below):"
    echo
    echo "| Target | | Runs | Median | Met |"
    echo "|---|---|---|---|---|"
    target_row "HTTP holds ÷ echo POST (wrk)" wrk-onsale wrk-echo-post rps 0.5
    if has wrk-onsale; then
      p99=$(field wrk-onsale p99_ms | median)
      printf '| HTTP holds p99 (wrk) | ≤ 25 ms | %s | **%s ms** | %s |\n' "$(field wrk-onsale p99_ms | fmt | paste -sd' ' | sed 's/ / · /g')" "$(fmt <<< "$p99")" "$(awk -v m="$p99" 'BEGIN { print (m <= 25 ? "yes" : "**no**") }')"
    fi
    target_row "HTTP holds (wrk) ÷ Redis Lua reserve, appendfsync always" wrk-onsale redis rps 0.7 ops_per_s
    target_row "HTTP sold-out refusals ÷ echo POST (wrk)" wrk-soldout wrk-echo-post rps 0.85
    target_row "HTTP availability reads ÷ echo GET (wrk)" wrk-reads wrk-echo-get rps 0.9
    target_row "First ${COLD_SECONDS} s after a start ÷ warm holds (wrk, default settings)" cold-default wrk-onsale rps 0.8
    target_row "HTTP holds, PostgreSQL, two nodes ÷ SQLite, one node (wrk)" pg2-onsale wrk-onsale rps 0.5
    target_row "Holds with the rules on ÷ plain holds, both built in Lua (wrk)" wrk-rules wrk-onsale-lua rps 0.9
    echo
  fi
  echo "| Figure | Runs | Median |"
  echo "|---|---|---|"
  row "Engine, SQLite (synchronous=FULL), batched: holds/s" sqlite-on holds_per_s
  row "Engine, SQLite, unbatched: holds/s" sqlite-off holds_per_s
  ratio_row "Engine, SQLite: batched ÷ unbatched" sqlite-on sqlite-off holds_per_s
  row "Engine, SQLite: the reservation rows alone, as the writer inserts them, 500 a commit (the floor): rows/s" floor rows_per_s
  ratio_row "Engine, SQLite: batched holds ÷ the rows alone" sqlite-on floor holds_per_s rows_per_s
  row "Engine, SQLite, batched: p99 ms" sqlite-on p99_ms
  row "Engine, SQLite, batched: mean batch (commands)" sqlite-on mean_batch
  row "Engine, PostgreSQL (fsync on), batched: holds/s" postgres-on holds_per_s
  row "Engine, PostgreSQL, unbatched: holds/s" postgres-off holds_per_s
  ratio_row "Engine, PostgreSQL: batched ÷ unbatched" postgres-on postgres-off holds_per_s
  row "Engine, PostgreSQL, batched: p99 ms" postgres-on p99_ms
  row "Engine, PostgreSQL, batched: mean batch (commands)" postgres-on mean_batch
  row "Expiry: one sweep of $EXPIRY due holds (SQLite), s" expiry expiry_s
  row "Engine, SQLite: fixed CPU per commit without the fsync (sweep fit; target ≤ 150), µs" sweep-nosync fixed_us
  row "Engine, SQLite: fixed CPU per commit, synchronous=FULL (sweep fit), µs" sweep-sync fixed_us
  row "Engine, SQLite: CPU per hold beyond the fixed part (sweep fit), µs" sweep-sync per_hold_us
  if has wrk-onsale; then
    row "wrk: echo POST /capacity/{id}/reserve: req/s" wrk-echo-post rps
    row "wrk: HTTP single-ticket holds, one hot pool: req/s" wrk-onsale rps
    row "wrk: HTTP single-ticket holds: p99 ms" wrk-onsale p99_ms
    ratio_row "wrk: holds ÷ echo POST" wrk-onsale wrk-echo-post rps
    row "wrk: HTTP sold-out (409s): req/s" wrk-soldout rps
    row "wrk: HTTP sold-out: p99 ms" wrk-soldout p99_ms
    ratio_row "wrk: sold-out ÷ echo POST" wrk-soldout wrk-echo-post rps
    row "wrk: echo GET /capacity/{id}: req/s" wrk-echo-get rps
    row "wrk: HTTP reads GET /capacity/{id}: req/s" wrk-reads rps
    row "wrk: HTTP reads: p99 ms" wrk-reads p99_ms
    ratio_row "wrk: reads ÷ echo GET" wrk-reads wrk-echo-get rps
    row "wrk: holds with the rules on: req/s" wrk-rules rps
    row "wrk: holds with the rules on: p99 ms" wrk-rules p99_ms
    row "wrk: plain holds, each request built in Lua as the rules' are: req/s" wrk-onsale-lua rps
    ratio_row "wrk: rules on ÷ plain holds built in Lua" wrk-rules wrk-onsale-lua rps
    ratio_row "wrk: rules on ÷ plain holds with hold.lua's fixed body" wrk-rules wrk-onsale rps
    ratio_row "wrk: plain holds built in Lua ÷ with the fixed body (the load generator's share)" wrk-onsale-lua wrk-onsale rps
    ratio_row "wrk: echo GET, the second echo of the run ÷ echo POST, the first (drift and GET vs POST)" wrk-echo-get wrk-echo-post rps
    row "wrk: server cores used (echo POST)" wrk-echo-post server_cores
    row "wrk: server cores used (holds)" wrk-onsale server_cores
    row "wrk: server cores used (sold-out)" wrk-soldout server_cores
    row "wrk: server cores used (echo GET)" wrk-echo-get server_cores
    row "wrk: server cores used (reads)" wrk-reads server_cores
    row "wrk: server cores used (rules on)" wrk-rules server_cores
  fi
  row "Redis Lua reserve, appendfsync always, $CONNECTIONS clients (redis-benchmark): ops/s" redis ops_per_s
  row "Redis: p99 ms" redis p99_ms
  row "Redis: cores used" redis server_cores
  ratio_row "wrk holds ÷ Redis" wrk-onsale redis rps ops_per_s
  ratio_row "LoadGen holds ÷ Redis" http-onsale redis rps ops_per_s
  row "LoadGen: echo POST: req/s" http-echo-post rps
  row "LoadGen: HTTP single-ticket holds, one hot pool: req/s" http-onsale rps
  row "LoadGen: HTTP single-ticket holds: p99 ms" http-onsale p99_ms
  row "LoadGen: HTTP single-ticket holds: server cores used" http-onsale server_cores
  ratio_row "LoadGen: holds ÷ echo POST" http-onsale http-echo-post rps
  row "LoadGen: HTTP sold-out (409s): req/s" http-soldout rps
  row "LoadGen: HTTP sold-out: p99 ms" http-soldout p99_ms
  ratio_row "LoadGen: sold-out ÷ echo POST" http-soldout http-echo-post rps
  row "LoadGen: echo GET: req/s" http-echo-get rps
  row "LoadGen: HTTP reads GET /capacity/{id}: req/s" http-reads rps
  row "LoadGen: HTTP reads: p99 ms" http-reads p99_ms
  row "LoadGen: HTTP reads: server cores used" http-reads server_cores
  ratio_row "LoadGen: reads ÷ echo GET" http-reads http-echo-get rps
  row "LoadGen: holds with the rules on: req/s" http-rules rps
  row "LoadGen: holds with the rules on: p99 ms" http-rules p99_ms
  ratio_row "LoadGen: rules on ÷ plain holds" http-rules http-onsale rps
  row "LoadGen: server cores used (echo POST)" http-echo-post server_cores
  row "LoadGen: its own cores (echo POST)" http-echo-post loadgen_cores
  row "LoadGen: its own cores (holds)" http-onsale loadgen_cores
  row "PostgreSQL, two nodes, wrk $((CONNECTIONS / 2)) + $((CONNECTIONS - CONNECTIONS / 2)) connections: holds/s (sum)" pg2-onsale rps
  row "PostgreSQL, two nodes: node 1 holds/s" pg2-onsale rps_node1
  row "PostgreSQL, two nodes: node 2 holds/s" pg2-onsale rps_node2
  row "PostgreSQL, two nodes: p99 ms (the larger)" pg2-onsale p99_ms
  row "PostgreSQL, two nodes: both nodes' cores (PostgreSQL's not counted)" pg2-onsale server_cores
  row "PostgreSQL, one node, wrk $CONNECTIONS connections: holds/s" pg1-onsale rps
  row "PostgreSQL, one node: p99 ms" pg1-onsale p99_ms
  row "PostgreSQL, one node: server cores used" pg1-onsale server_cores
  ratio_row "PostgreSQL two nodes ÷ SQLite one node (wrk)" pg2-onsale wrk-onsale rps
  ratio_row "PostgreSQL one node ÷ SQLite one node (wrk)" pg1-onsale wrk-onsale rps
  ratio_row "PostgreSQL two nodes ÷ one node" pg2-onsale pg1-onsale rps
  echo
  if grep -q '^cold-' "$results"; then
    echo "Right after a start: a fresh process on a copy of a database with the tenant and pool, ${COLD_SECONDS} s of holds"
    echo "(wrk, $CONNECTIONS connections) from its first /healthz answer, against the warm holds of the same run (wrk, above)."
    echo "One setting at a time, for that process only; r2r is the server published with ReadyToRun (framework-dependent)."
    echo
    echo "| Setting | Spawn to /healthz, s | First ${COLD_SECONDS} s: holds/s | p99 ms | ÷ warm holds |"
    echo "|---|---|---|---|---|"
    for knob in $KNOBS; do
      has "cold-$knob" || continue
      printf '| `%s` | %s | %s | %s | %s |\n' "$knob" \
        "$(field "cold-$knob" ready_s | median | fmt)" \
        "$(field "cold-$knob" rps | fmt | paste -sd' ' | sed 's/ / · /g') (**$(field "cold-$knob" rps | median | fmt)**)" \
        "$(field "cold-$knob" p99_ms | median | fmt)" \
        "$(ratios "cold-$knob" wrk-onsale rps | sed 's/$/×/' | paste -sd' ' | sed 's/ / · /g') (**$(ratios "cold-$knob" wrk-onsale rps | median | awk '{ printf "%.2f", $1 }')×**)"
    done
    echo
  fi
  echo "| Memory | |"
  echo "|---|---|"
  echo "| HTTP server after the HTTP runs: resident / peak | $http_rss / $http_peak MiB |"
  if [ -n "$fill_rows" ]; then
    echo "| Engine process after placing $FILL holds (SQLite): resident | $(field fill rss_mib | fmt) MiB, placed at $(field fill fill_per_s | fmt)/s |"
    echo "| Engine process: peak, including its audit of them | $(field fill peak_mib | fmt) MiB (audit $(field fill audit_s | fmt) s) |"
    echo "$fill_rows"
  fi
  echo
  if [ -n "$bdn_tables" ]; then
    echo "Micro-benchmarks (BenchmarkDotNet, job $BDN_JOB; per decision or per parse, one thread):"
    echo
    echo "$bdn_tables"
    echo
  fi
  if [ -s "$notes" ]; then
    echo "Notes:"
    echo
    cat "$notes"
    echo
  fi
  if [ "$failures" -gt 0 ]; then
    echo "**$failures run(s) failed** (broken invariant, lost or refused hold, crash); see bench/results/latest.log."
  else
    echo "Every run passed its audit: nothing oversold, counters equal to the holds and the ledger, every acknowledged hold kept, no hold refused on a pool that could not sell out."
  fi
  echo
  echo "Raw RESULT lines:"
  echo
  echo '```'
  cat "$results"
  echo '```'
} > "$out/latest.md"

cat "$out/latest.md"
[ "$failures" -eq 0 ]
