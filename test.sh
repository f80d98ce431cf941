#!/usr/bin/env bash
# The test command: go test -race in the root module and in every nested
# module (bench/ excepted: .ci/run runs its benchmarks), against real Redis
# servers that this script starts on loopback and stops when it exits.
#
#   ./test.sh                       every module
#   ./test.sh -m redis -run Fleet   only the redis/ module; other args go to go test
#   ./test.sh -m redis -p .         only the package redis/ itself (default ./...)
#
# Servers (redis-server 7, installed with apt-get when missing): a primary,
# a --replicaof replica and a three-node Redis Cluster, on free loopback
# ports, without persistence. Their addresses and pids are exported as
#   BULWARK_REDIS_ADDR, BULWARK_REDIS_PID
#   BULWARK_REDIS_REPLICA_ADDR, BULWARK_REDIS_REPLICA_PID
#   BULWARK_REDIS_CLUSTER_ADDRS, BULWARK_REDIS_CLUSTER_PIDS (comma-separated)
# Tests that need a server skip when these are unset, except under CI=true,
# where a missing server fails the run. BULWARK_REDIS=off starts none.
set -euo pipefail
cd "$(dirname "$0")"

modules=()
pkgs=./...
while [ $# -gt 0 ]; do
  case "$1" in
    -m) modules+=("${2%/}"); shift 2 ;;
    -p) pkgs=$2; shift 2 ;;
    *) break ;;
  esac
done
if [ ${#modules[@]} -eq 0 ]; then
  modules=(.)
  while IFS= read -r mod; do
    dir=$(dirname "$mod"); dir=${dir#./}
    case "$dir" in .|bench|bench/*) continue ;; esac
    modules+=("$dir")
  done < <(find . -name go.mod -not -path './.git/*' | sort)
fi

pids=()
workdir=$(mktemp -d "${TMPDIR:-/tmp}/bulwark-redis.XXXXXX")
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null; then
    echo "== installing redis-server"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null || true
  fi
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_redis NAME EXTRA_ARGS...: starts a server on a free port; sets
# started_port and started_pid.
start_redis() {
  local name=$1; shift
  local try port pid
  for try in $(seq 1 20); do
    port=$((20000 + RANDOM % 25000))   # the cluster bus takes port+10000
    if port_in_use "$port" || port_in_use $((port + 10000)); then continue; fi
    mkdir -p "$workdir/$name"
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
      --dir "$workdir/$name" --logfile "$workdir/$name/log" "$@" &
    pid=$!
    for _ in $(seq 1 100); do
      if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then
        pids+=("$pid"); started_port=$port; started_pid=$pid; return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  done
  echo "could not start redis-server $name; log:"; cat "$workdir/$name/log" 2>/dev/null || true
  return 1
}

wait_for() { # wait_for DESCRIPTION COMMAND...: up to 20 s
  local _
  for _ in $(seq 1 200); do "${@:2}" && return 0; sleep 0.1; done
  echo "timed out waiting for $1"; return 1
}

start_servers() {
  start_redis primary
  export BULWARK_REDIS_ADDR=127.0.0.1:$started_port BULWARK_REDIS_PID=$started_pid
  local primary_port=$started_port

  start_redis replica --replicaof 127.0.0.1 "$primary_port"
  export BULWARK_REDIS_REPLICA_ADDR=127.0.0.1:$started_port BULWARK_REDIS_REPLICA_PID=$started_pid
  local replica_port=$started_port
  wait_for "the replica's link" bash -c "redis-cli -p $replica_port info replication | grep -q master_link_status:up"

  local addrs=() cpids=() i
  for i in 1 2 3; do
    start_redis "cluster$i" --cluster-enabled yes --cluster-config-file "$workdir/cluster$i/nodes.conf" \
      --cluster-node-timeout 5000
    addrs+=("127.0.0.1:$started_port"); cpids+=("$started_pid")
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$workdir/cluster-create.log" 2>&1 ||
    { cat "$workdir/cluster-create.log"; return 1; }
  for i in "${addrs[@]}"; do
    wait_for "cluster state ok at $i" bash -c "redis-cli -p ${i##*:} cluster info | grep -q cluster_state:ok"
  done
  export BULWARK_REDIS_CLUSTER_ADDRS=$(IFS=,; echo "${addrs[*]}")
  export BULWARK_REDIS_CLUSTER_PIDS=$(IFS=,; echo "${cpids[*]}")
  echo "== redis: primary $BULWARK_REDIS_ADDR, replica $BULWARK_REDIS_REPLICA_ADDR, cluster $BULWARK_REDIS_CLUSTER_ADDRS"
}

if [ "${BULWARK_REDIS:-}" = off ]; then
  echo "== BULWARK_REDIS=off: no Redis servers; tests that need one skip"
elif need_redis; then
  start_servers
elif [ "${CI:-}" = true ]; then
  echo "redis-server is missing and could not be installed"; exit 1
else
  echo "== redis-server not found: tests that need it skip"
fi

status=0
for mod in "${modules[@]}"; do
  # Nested modules share the servers, and their fault tests pause them: one
  # package at a time there.
  parallel=()
  [ "$mod" = . ] || parallel=(-p 1)
  echo "== go test -race $pkgs in ${mod}"
  (cd "$mod" && go test -race -count=1 "${parallel[@]}" "$@" $pkgs) || status=1
done
exit $status
