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

# A wrk script that builds each hold's body in Lua: lua_request <body expression>. The expression may
# use buyer, a buyer key ("w<thread>-<n>") that changes every 4 requests of a thread (the rules
# scenario's per-buyer limit). Every body built this way costs wrk the same calls, so two such
# scripts compare the server's work, not the load generator's.
lua_request() {
  cat << LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local threads, sent = 0, 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function request()
  sent = sent + 1
  local buyer = string.format('"w%d-%d"', id, math.floor(sent / 4))
  return wrk.format(nil, nil, nil, $1)
end
LUA
}
