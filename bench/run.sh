#!/usr/bin/env bash
# Regenerates every comparison in bench/README.md:
#   results/<area>.txt        raw `go test -bench` output (COUNT interleaved rounds, -cpu=CPU)
#   results/<area>.benchstat  benchstat's summary of it
#   results/hitratio.txt      cache hit ratios on the 2,000,000-request Zipf trace
#   results/spread.txt        shard spread/movement table over 1,000,000 keys
#   results/gameday/          the game days (area "gameday", about 11 minutes)
# and rewrites the part of README.md between the results markers.
#
# Usage: ./run.sh [area ...]      (default: all areas)
#   COUNT=10 CPU=1,2 BENCHTIME=200ms ./run.sh breaker
# Needs only Go: benchstat is installed with `go install` when missing.
set -euo pipefail
cd "$(dirname "$0")"

COUNT=${COUNT:-10}
CPU=${CPU:-1,2}
BENCHTIME=${BENCHTIME:-200ms}
AREAS=("$@")
[ ${#AREAS[@]} -gt 0 ] || AREAS=(retry breaker bulkhead cache balance shard gameday)

BENCHSTAT=$(command -v benchstat || true)
if [ -z "$BENCHSTAT" ]; then
  go install golang.org/x/perf/cmd/benchstat@latest
  BENCHSTAT="$(go env GOPATH)/bin/benchstat"
fi

mkdir -p results
# Each round runs every benchmark of an area once (-count=1), and the rounds
# repeat COUNT times: a library's samples are spread over the whole run instead
# of taken back to back, so a burst of load on the shared machine or a drift
# in clock speed hits bulwark and its peers alike.
for area in "${AREAS[@]}"; do
  [ "$area" = gameday ] && continue # not a go test benchmark: see below
  cmd="go test -run='^\$' -bench=. -benchmem -count=1 -cpu=$CPU -benchtime=$BENCHTIME ./$area/"
  echo "== $area: $COUNT rounds of $cmd" >&2
  {
    echo "# date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "# command (in bench/): $COUNT interleaved rounds of: $cmd"
    for _ in $(seq "$COUNT"); do eval "$cmd"; done
  } | tee "results/$area.txt" >&2
  "$BENCHSTAT" "results/$area.txt" >"results/$area.benchstat"
done

if [[ " ${AREAS[*]} " == *" cache "* ]]; then
  echo "== cache hit ratio, full trace" >&2
  {
    echo "# date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "# command (in bench/): go test -run='^\$' -bench=HitRatio -benchtime=1x ./cache/ -full"
    go test -run='^$' -bench=HitRatio -benchtime=1x ./cache/ -full
  } >results/hitratio.txt
fi
if [[ " ${AREAS[*]} " == *" shard "* ]]; then
  echo "== shard spread table" >&2
  {
    echo "# date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "# command (in bench/): go test -count=1 -run=TestSpreadTable -v ./shard/"
    go test -count=1 -run=TestSpreadTable -v ./shard/
  } >results/spread.txt
fi

if [[ " ${AREAS[*]} " == *" gameday "* ]]; then
  echo "== game days (client scenarios and the server overload day)" >&2
  go run ./gameday/cmd -out results/gameday
fi

# Rebuild the generated section of README.md from whatever results/ holds.
{
  for area in retry breaker bulkhead cache balance shard; do
    [ -f "results/$area.txt" ] || continue
    echo
    echo "### $area"
    echo
    sed -n 's/^# \(date\|command\)/\1/p' "results/$area.txt" | sed 's/^/    /'
    go run ./internal/benchtable "results/$area.txt"
  done
  if [ -f results/hitratio.txt ]; then
    echo
    echo "### cache hit ratio (Zipf s=1.01, 2,000,000 requests over 1,000,000 keys)"
    echo
    sed -n 's/^# \(date\|command\)/\1/p' results/hitratio.txt | sed 's/^/    /'
    go run ./internal/benchtable results/hitratio.txt
  fi
  if [ -f results/spread.txt ]; then
    echo
    echo "### shard spread and movement (1,000,000 keys, 10 members, then an 11th)"
    echo
    sed -n 's/^# \(date\|command\)/\1/p' results/spread.txt | sed 's/^/    /'
    echo
    grep '^ *|' results/spread.txt | sed 's/^ *//'
  fi
} >results/TABLES.md

awk -v tables=results/TABLES.md '
  /<!-- results:begin -->/ { print; while ((getline line < tables) > 0) print line; skip = 1; next }
  /<!-- results:end -->/   { skip = 0 }
  !skip { print }
' README.md >README.md.new && mv README.md.new README.md
echo "README.md updated from results/" >&2
