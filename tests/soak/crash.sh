#!/usr/bin/env bash
# Crash soak: the CI crash test (kill -9 the real server mid-batch, restart, check everything) for
# as many cycles as you like. The seed is printed first; pass it back to replay a failure.
#   tests/soak/crash.sh [cycles=1000] [sqlite|postgres|both=both] [seed=random]
set -euo pipefail
cd "$(dirname "$0")/../.."
cycles=${1:-1000}
store=${2:-both}
seed=${3:-$(( (RANDOM << 15) | RANDOM ))}
case "$store" in
  sqlite) filter="FullyQualifiedName~CrashTests_on_sqlite" ;;
  postgres) filter="FullyQualifiedName~CrashTests_on_postgres" ;;
  both) filter="FullyQualifiedName~CrashTests" ;;
  *) echo "store must be sqlite, postgres or both" >&2; exit 2 ;;
esac
echo "crash soak: $cycles cycles on $store, seed $seed (replay: $0 $cycles $store $seed)"
CAPACITY_CRASH_CYCLES=$cycles CAPACITY_CRASH_SEED=$seed dotnet test tests/Capacity.Server.Tests -c Release --filter "$filter"
