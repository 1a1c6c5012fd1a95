#!/usr/bin/env bash
# One command for the whole performance set: builds Release, runs the engine bench (SQLite and
# PostgreSQL, batching on and off, expiry, one million stored holds), the HTTP load generator
# against a real server (on-sale, sold-out, reads), and the micro-benchmarks; repeats the
# engine and HTTP figures RUNS times and writes the medians to bench/results/latest.md.
#
#   bench/run.sh                            # about 7 minutes on 2 cores
#   RUNS=1 DURATION=2 FILL=0 bench/run.sh   # a quick smoke run
#
# Everything runs on this machine: the load generator shares the cores with the server, so HTTP
# figures are a floor for a server with the machine to itself.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}                 # repeats of each engine and HTTP figure
DURATION=${DURATION:-5}         # measured seconds per engine or HTTP run (plus 1 s warm-up)
CLIENTS=${CLIENTS:-1000}        # concurrent in-process submitters for the engine bench
CONNECTIONS=${CONNECTIONS:-64}  # keep-alive HTTP connections
EXPIRY=${EXPIRY:-100000}        # due holds for the expiry figure
FILL=${FILL:-1000000}           # stored holds for the memory figure; 0 skips it
BDN_JOB=${BDN_JOB:-short}       # BenchmarkDotNet job for the micro-benchmarks; "none" skips them
PORT=${PORT:-5077}
WARMUP=${WARMUP:-10}            # unrecorded seconds of HTTP load per scenario before the first HTTP figure
ENGINE_WARMUP=${ENGINE_WARMUP:-3} # unmeasured seconds at the start of each engine run

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

out=bench/results
mkdir -p "$out"
work=$(mktemp -d /tmp/capacity-bench-XXXXXX)
log=$out/latest.log
results=$work/results.txt
: > "$log"
: > "$results"
failures=0
server_pid=

cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '%s\n' "$*" | tee -a "$log" >&2; }

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
    failures=$((failures + 1))
    say "  FAILED (exit $status): $label run $run; see $log"
    line="${line} failed=yes"
  fi
  echo "$label $run $line" >> "$results"
  printf '  %-22s run %s: %s\n' "$label" "$run" "$(printf '%s' "$line" | tr ' ' '\n' | grep -E '^(holds_per_s|rows_per_s|rps|expiry_s|rss_mib|p99_ms|audit|verify)=' | tr '\n' ' ' || true)" >&2
}

ADMIN="capadmin_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SERVER_DIR=src/Capacity.Server/bin/Release/net10.0

# The server runs from its output folder so that its appsettings.json applies, as when deployed;
# the database path is given explicitly because appsettings.json names ./data.
start_server() {
  local dir=$1
  mkdir -p "$dir"
  (cd "$SERVER_DIR" && exec dotnet Capacity.Server.dll --urls "http://127.0.0.1:$PORT" --Auth:AdminKey="$ADMIN" \
    --Storage:DataDirectory="$dir" --Storage:Sqlite:Path="$dir/capacity.db") > "$dir/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do
    if curl -fs "http://127.0.0.1:$PORT/healthz" > /dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  say "the server did not start; its log:"
  tail -20 "$dir/server.log" >&2
  return 1
}

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2> /dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" 2> /dev/null || true
  fi
  server_pid=
}

# CPU seconds a process has used so far (user + system).
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"; }

# Resident and peak resident memory of a process, in MiB.
memory_mib() { awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { printf "%.0f %.0f\n", r / 1024, h / 1024 }' "/proc/$1/status"; }

started=$(date +%s)
say "== build (Release)"
for project in src/Capacity.Server bench/Capacity.EngineBench bench/Capacity.LoadGen bench/Capacity.Benchmarks; do
  dotnet build "$project" -c Release -nologo -clp:ErrorsOnly >> "$log" 2>&1 || { say "build of $project failed; see $log"; exit 1; }
done

ENGINE=(dotnet bench/Capacity.EngineBench/bin/Release/net10.0/Capacity.EngineBench.dll --clients "$CLIENTS" --duration "$DURATION" --warmup "$ENGINE_WARMUP")
# Without --duration, which each use adds once: the option takes a single value, and a second one is
# an error, not an override.
LOADGEN=(dotnet bench/Capacity.LoadGen/bin/Release/net10.0/Capacity.LoadGen.dll --url "http://127.0.0.1:$PORT" --admin-key "$ADMIN"
         --connections "$CONNECTIONS")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

say "== engine: durable single-ticket holds in process, $CLIENTS submitters, ${DURATION} s each, $RUNS runs"
for run in $(seq 1 "$RUNS"); do
  for store in sqlite postgres; do
    for batching in on off; do
      record "$store-$batching" "$run" "${ENGINE[@]}" --store "$store" --batching "$batching"
    done
  done
  # The ceiling of a durable row per hold: the reservation rows alone, as the writer inserts them.
  record "floor" "$run" "${ENGINE[@]}" --scenario floor
  record "expiry" "$run" "${ENGINE[@]}" --scenario expiry --holds "$EXPIRY"
done

say "== HTTP: $CONNECTIONS keep-alive connections, ${DURATION} s each, $RUNS runs, load generator on the same machine"
start_server "$work/http"
# Unrecorded warm-up of every scenario used below, so tiered JIT has settled before the first
# measurement. It takes a while: after 4 s of load the JIT thread still used a sixth of the server's
# CPU (perf), and holds measured 13-15k/s after a 3 s warm-up against 21k/s after 20 s. A mixed
# warm-up is not enough: its pool sells out early, leaving the path of a successful hold cold.
for scenario in onsale soldout reads; do
  if ! "${LOADGEN[@]}" --scenario "$scenario" --duration "$WARMUP" >> "$log" 2>&1; then
    failures=$((failures + 1))
    say "  FAILED: the $scenario warm-up; see $log"
  fi
done
for run in $(seq 1 "$RUNS"); do
  for scenario in onsale soldout reads; do
    record "http-$scenario" "$run" "${LOADGEN[@]}" --duration "$DURATION" --scenario "$scenario" --server-pid "$server_pid"
  done
done

# wrk, when installed, as a reference: a load generator in C that needs far less CPU than HttpClient,
# so the gap between its figures and the ones above is the load generator's own share of the cores.
if command -v wrk > /dev/null; then
  say "== reference: wrk, 2 threads, $CONNECTIONS connections, ${DURATION} s each, same server (already warm)"
  printf 'wrk.method = "POST"\nwrk.body = "{\\"quantity\\":1}"\nwrk.headers["Content-Type"] = "application/json"\n' > "$work/hold.lua"
  for run in $(seq 1 "$RUNS"); do
    for scenario in onsale soldout reads; do
      setup=$("${LOADGEN[@]}" --scenario "$scenario" --setup-only | grep '^SETUP ' | tr ' ' '\n')
      key=$(sed -n 's/^api_key=//p' <<< "$setup")
      capped=$(sed -n 's/^capped=//p' <<< "$setup")
      if [ "$scenario" != reads ]; then
        target=(-s "$work/hold.lua" "http://127.0.0.1:$PORT/capacity/$capped/reserve")
      else
        target=("http://127.0.0.1:$PORT/capacity/$capped")
      fi
      cpu_before=$(cpu_seconds "$server_pid")
      output=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Authorization: Bearer $key" "${target[@]}" 2>&1)
      server_cores=$(printf '%.3f' "$(echo "($(cpu_seconds "$server_pid") - $cpu_before) / $DURATION" | bc -l)")
      printf '\n$ wrk %s\n%s\n' "${target[*]}" "$output" >> "$log"
      rps=$(awk '/^Requests\/sec:/ { print $2 }' <<< "$output")
      p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) sub(/ms$/, "", v); else { sub(/s$/, "", v); v *= 1000 } print v }' <<< "$output")
      non2xx=$(awk '/Non-2xx/ { print $NF }' <<< "$output")
      echo "wrk-$scenario $run rps=${rps:-0} p99_ms=${p99:-0} non2xx=${non2xx:-0} server_cores=$server_cores" >> "$results"
      printf '  %-22s run %s: rps=%s p99_ms=%s non2xx=%s\n' "wrk-$scenario" "$run" "${rps:-0}" "${p99:-0}" "${non2xx:-0}" >&2
    done
  done
fi
final_verify=$(curl -fs -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/admin/verify" | jq -r .ok || echo failed)
if [ "$final_verify" != true ]; then
  failures=$((failures + 1))
  say "  FAILED: GET /admin/verify after all HTTP runs answered $final_verify"
fi
read -r http_rss http_peak < <(memory_mib "$server_pid")
stop_server

fill_rows=
if [ "$FILL" -gt 0 ]; then
  say "== memory: $FILL stored holds (SQLite), then a server on that database"
  record "fill" 1 "${ENGINE[@]}" --scenario fill --holds "$FILL" --sqlite-path "$work/fill/capacity.db"
  start_server "$work/fill"
  curl -fs -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/readyz" > /dev/null || true
  read -r idle_rss _ < <(memory_mib "$server_pid")
  verify_start=$(date +%s.%N)
  verify=$(curl -fs -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/admin/verify" | jq -c '{ok, capacities, live_reservations}' || echo '"failed"')
  verify_s=$(echo "$(date +%s.%N) - $verify_start" | bc)
  read -r after_rss after_peak < <(memory_mib "$server_pid")
  stop_server
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
    failures=$((failures + 1))
    say "  FAILED: micro-benchmarks; see $log"
  fi
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report -------------------------------------------------------------------------------

# Values of one field of one label, in run order.
field() { awk -v l="$1" -v f="$2" '$1 == l { for (i = 3; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == f) print substr($i, n + 1) } }' "$results"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Numbers for people: thousands separated above 100, two decimals below.
fmt() { awk 'function commas(s,  r) { r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } return s r }
  { if ($1 !~ /^[0-9.]+$/) print $1; else if ($1 >= 100) print commas(sprintf("%.0f", $1)); else printf "%.2f\n", $1 }'; }
row() { # title label field
  local values
  values=$(field "$2" "$3")
  printf '| %s | %s | **%s** |\n' "$1" "$(printf '%s\n' "$values" | fmt | paste -sd' ' | sed 's/ / · /g')" "$(printf '%s\n' "$values" | median | fmt)"
}
ratio_row() { # title label-over label-under field [field-under, when it differs]
  local values
  values=$(paste <(field "$2" "$4") <(field "$3" "${5:-$4}") | awk '$2 > 0 { r = $1 / $2; printf (r < 10 ? "%.2f\n" : "%.1f\n"), r }')
  printf '| %s | %s | **%s×** |\n' "$1" "$(printf '%s\n' "$values" | sed 's/$/×/' | paste -sd' ' | sed 's/ / · /g')" "$(printf '%s\n' "$values" | median | awk '{ printf ($1 < 10 ? "%.2f" : "%.1f"), $1 }')"
}

{
  echo "# Capacity performance: latest run"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' with uncommitted changes in src/'), $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -h | awk '/^Mem:/ { print $2 }') memory."
  echo "Load average (1, 5, 15 min) before: $load_before; after: $load_after. Took $(( $(date +%s) - started )) s."
  echo "Each figure: $RUNS runs of ${DURATION} s measured (engine: after ${ENGINE_WARMUP} s unmeasured; HTTP: after ${WARMUP} s of unrecorded load per scenario, then 1 s); the median is in bold. Ratios are taken within each run."
  echo
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
  row "HTTP single-ticket holds, one hot pool: req/s" http-onsale rps
  row "HTTP single-ticket holds: p99 ms" http-onsale p99_ms
  row "HTTP single-ticket holds: server cores used" http-onsale server_cores
  row "HTTP sold-out (409s): req/s" http-soldout rps
  row "HTTP sold-out: p99 ms" http-soldout p99_ms
  row "HTTP reads GET /capacity/{id}: req/s" http-reads rps
  row "HTTP reads: p99 ms" http-reads p99_ms
  row "HTTP reads: server cores used" http-reads server_cores
  if grep -q '^wrk-' "$results"; then
    row "Reference, wrk: HTTP single-ticket holds req/s" wrk-onsale rps
    row "Reference, wrk: HTTP single-ticket holds p99 ms" wrk-onsale p99_ms
    row "Reference, wrk: HTTP sold-out (409s) req/s" wrk-soldout rps
    row "Reference, wrk: HTTP sold-out p99 ms" wrk-soldout p99_ms
    row "Reference, wrk: HTTP reads req/s" wrk-reads rps
    row "Reference, wrk: HTTP reads p99 ms" wrk-reads p99_ms
    row "Reference, wrk: server cores used (holds)" wrk-onsale server_cores
    row "Reference, wrk: server cores used (sold-out)" wrk-soldout server_cores
    row "Reference, wrk: server cores used (reads)" wrk-reads server_cores
  fi
  echo
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
  if [ "$failures" -gt 0 ]; then
    echo "**$failures run(s) failed** (broken invariant, lost hold or crash); see bench/results/latest.log."
  else
    echo "Every run passed its audit: nothing oversold, counters equal to the holds and the ledger, every acknowledged hold kept."
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
