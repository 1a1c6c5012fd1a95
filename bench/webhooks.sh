#!/usr/bin/env bash
# Holds/s with and without one subscribed webhook endpoint, alternating on one server (ratios from the
# same run), for the onsale scenario (holds only: notices are looked for, few are written) and the mix
# (confirms and releases: every one writes a delivery, which the dispatcher then sends to a local
# listener). Usage: bench/webhooks.sh [rounds]; prints RESULT lines and the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}; PORT=${PORT:-5098}
dotnet build -c Release src/Capacity.Server > /dev/null && dotnet build -c Release bench/Capacity.LoadGen > /dev/null
LOADGEN=bench/Capacity.LoadGen/bin/Release/net10.0/Capacity.LoadGen.dll
ADMIN="capadmin_bench_$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
DATA=$(mktemp -d)
(cd src/Capacity.Server/bin/Release/net10.0 && exec dotnet Capacity.Server.dll --urls "http://127.0.0.1:$PORT" --Auth:AdminKey="$ADMIN" \
  --Storage:DataDirectory="$DATA" --Capacity:Webhooks:AllowPrivateNetworks=true) > "$DATA/server.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$PORT/healthz" > /dev/null 2>&1 && break; sleep 0.1; done
OUT=$(mktemp)
for scenario in onsale mix; do
  dotnet $LOADGEN --url "http://127.0.0.1:$PORT" --admin-key "$ADMIN" --scenario $scenario --duration 5 > /dev/null 2>&1 || true
  for round in $(seq 1 "$ROUNDS"); do
    for hook in off on; do
      flag=""; [[ $hook == on ]] && flag="--webhook"
      line=$(dotnet $LOADGEN --url "http://127.0.0.1:$PORT" --admin-key "$ADMIN" --scenario $scenario --warmup 2 --duration 5 $flag 2>&1 | grep '^RESULT ' | tail -1)
      echo "round=$round webhook=$hook $line" | tee -a "$OUT"
    done
  done
done
python3 - "$OUT" <<'PY'
import re, statistics, sys
rows = [dict(re.findall(r'(\w+)=(\S+)', l)) for l in open(sys.argv[1])]
for scenario in ("onsale", "mix"):
    ratios = []
    for r in sorted({x["round"] for x in rows}):
        pair = {x["webhook"]: float(x["rps"]) for x in rows if x["scenario"] == scenario and x["round"] == r}
        if len(pair) == 2:
            ratios.append(pair["on"] / pair["off"])
    off = statistics.median(float(x["rps"]) for x in rows if x["scenario"] == scenario and x["webhook"] == "off")
    on = statistics.median(float(x["rps"]) for x in rows if x["scenario"] == scenario and x["webhook"] == "on")
    print(f"{scenario}: median {off:,.0f} req/s without, {on:,.0f} with one endpoint; paired ratio median {statistics.median(ratios):.2f} ({', '.join(f'{x:.2f}' for x in ratios)})")
PY
