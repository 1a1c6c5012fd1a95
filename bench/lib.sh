# Shell functions the bench scripts share; sourced, not run.

# A .NET app from <folder> on 127.0.0.1:<port>, its output in $work/<port>.log; prints its pid once
# /healthz answers (or after 30 s, when the caller's first request will say why):
#   start <folder> <port> <dll> [options]
start() {
  local folder=$1 port=$2 dll=$3
  shift 3
  (cd "$folder" && exec dotnet "$dll" --urls "http://127.0.0.1:$port" "$@") > "$work/$port.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && break; sleep 0.1; done
  echo "$pid"
}

# A wrk script that builds each hold's body in Lua: lua_request <body expression> [holds per buyer].
# The expression may use buyer, a buyer key ("w<thread>-<n>") that changes every 4 requests of a
# thread (the rules scenario's per-buyer limit), or every [holds per buyer] (1: a new buyer for every
# hold, as an on-sale's). Every body built this way costs wrk the same calls, so two such scripts
# compare the server's work, not the load generator's. Each thread seeds math.random apart; a wrk
# process given a number after "--" (wrk ... -- 2) names its buyers "p2w<thread>-<n>" and seeds apart
# from other processes too.
# lua_request's body of a hold naming a new buyer on every request, as a platform names them (16
# random hex digits, a hash's look), so that their usage rows land all over the table.
random_buyer_body="'{\"quantity\":1,\"buyer_key\":\"' .. string.format('%08x%08x', math.random(0, 2147483647), math.random(0, 2147483647)) .. '\"}'"

lua_request() {
  cat << LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local threads, sent, process = 0, 0, ""
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args)
  local n = tonumber(args[1]) or 0
  if n > 0 then process = "p" .. n end
  math.randomseed(os.time() * 16 + id + n * 7919)
end
function request()
  sent = sent + 1
  local buyer = string.format('"%sw%d-%d"', process, id, math.floor(sent / ${2:-4}))
  return wrk.format(nil, nil, nil, $1)
end
LUA
}

# The server published from a commit (a worktree under $work/tree-<name>, which the caller's cleanup
# removes), or a folder that holds a published server, as is: server_folder <name> <commit or folder>
server_folder() {
  if [ -f "$2/Capacity.Server.dll" ]; then
    echo "$2"
    return
  fi
  git worktree add --detach "$work/tree-$1" "$2" > /dev/null 2>&1
  dotnet publish "$work/tree-$1/src/Capacity.Server" -c Release -o "$work/server-$1" -v q --nologo > "$work/publish-$1.log" 2>&1 \
    || { cat "$work/publish-$1.log" >&2; exit 1; }
  echo "$work/server-$1"
}

# PostgreSQL's binaries (the newest under /usr/lib/postgresql), or nothing.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1 || true)

# As EngineBench's PostgresCluster: a throwaway cluster in <folder> (which must not exist yet) on
# 127.0.0.1:<port>, fsync, synchronous_commit and full_page_writes on, its output appended to <log>;
# sets pg_pid once it answers. PostgreSQL refuses to run as root, so as root it runs as postgres
# (setpriv execs), and the folders above <folder> must let it in: start_postgres <folder> <port> <log>
start_postgres() {
  local data=$1 port=$2 out=$3 as_postgres=()
  mkdir -p "$data"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$data"
    as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups)
  fi
  "${as_postgres[@]}" "$pg_bin/initdb" -D "$data" -U capacity --auth=trust -E UTF8 --no-instructions >> "$out" 2>&1
  "${as_postgres[@]}" "$pg_bin/postgres" -D "$data" -p "$port" -k "$data" -c listen_addresses=127.0.0.1 -c max_connections=200 \
    -c log_min_messages=fatal -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c shared_buffers=256MB >> "$out" 2>&1 &
  pg_pid=$!
  for _ in $(seq 1 300); do "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
}

# A process's CPU seconds so far (user + system): cpu_seconds <pid>
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"; }

# The machine's idle seconds so far (idle + iowait, all cores).
idle_seconds() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { print ($5 + $6) / hz }' /proc/stat; }

# "key pool" of a new tenant's capped child on the server at <port>, from LoadGen's onsale set-up
# (LoadGen built in Release; $ADMIN the server's admin key): onsale_setup <port> [scenario] [webhook url],
# the scenario onsale unless named (soldout: a pool with nothing left; rules: every rule on, its
# webhook subscriber the url given)
onsale_setup() {
  local lines
  lines=$(dotnet bench/Capacity.LoadGen/bin/Release/net10.0/Capacity.LoadGen.dll --admin-key "$ADMIN" --connections "${CONNECTIONS:-64}" \
    --url "http://127.0.0.1:$1" --scenario "${2:-onsale}" ${3:+--webhook-url "$3"} --setup-only | grep '^SETUP ' | tr ' ' '\n')
  echo "$(sed -n 's/^api_key=//p' <<< "$lines") $(sed -n 's/^capped=//p' <<< "$lines")"
}

# GET /admin/verify on each server ($ADMIN its admin key); exits the script on the first that does
# not answer ok: verify_or_exit <port>...
verify_or_exit() {
  local port ok
  for port in "$@"; do
    ok=$(curl -fs -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$port/admin/verify" | jq -r .ok || echo failed)
    [ "$ok" = true ] || { echo "GET /admin/verify on port $port answered $ok" >&2; exit 1; }
  done
}

# The side-by-side scripts' exit trap: stops the processes in $pids and PostgreSQL ($pg_pid, when
# set), removes the worktrees server_folder made, then $work.
ab_cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  if [ -n "${pg_pid:-}" ]; then kill -INT "$pg_pid" 2> /dev/null || true; wait "$pg_pid" 2> /dev/null || true; fi
  for tree in "$work"/tree-*; do [ -d "$tree" ] && git worktree remove --force "$tree" > /dev/null 2>&1; done
  rm -rf "$work"
}

# The set-up of the one-server scripts (limit-fold.sh, fold-cost.sh): checks for wrk and sqlite3,
# makes $work (removed at exit, with the servers in $pids stopped), builds the server and LoadGen
# (Release) and sets $ADMIN: single_server_setup <name>.
single_server_setup() {
  command -v wrk > /dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 1; }
  command -v sqlite3 > /dev/null || { echo "sqlite3 is needed (apt-get install -y sqlite3)" >&2; exit 1; }
  work=$(mktemp -d "/tmp/capacity-$1-XXXXXX")
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; rm -rf "$work"' EXIT
  local project
  for project in src/Capacity.Server bench/Capacity.LoadGen; do
    dotnet build "$project" -c Release -v q --nologo > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
  done
  ADMIN="capadmin_$1_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
}
