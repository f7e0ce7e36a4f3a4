#!/usr/bin/env bash
# Runs a standalone ZooKeeper (Debian's package `zookeeper`, installed by install-test-deps.sh)
# for the tests, without a service manager:
#
#   scripts/zookeeper.sh start DIR PORT   writes DIR/zoo.cfg, starts the server in the background
#                                         (pid in DIR/zookeeper.pid, log in DIR/zookeeper.log,
#                                         data in DIR/data), returns once it serves 127.0.0.1:PORT
#   scripts/zookeeper.sh stop DIR [PORT]  stops the server started in DIR (SIGTERM, then SIGKILL)
#
# The configuration is for tests: it listens on 127.0.0.1 only and does not fsync its log.
set -euo pipefail

ZK_JAR=/usr/share/java/zookeeper.jar       # its manifest's Class-Path names its dependencies
SLF4J_SIMPLE=/usr/share/java/slf4j-simple.jar # logs to stderr, which goes to DIR/zookeeper.log

usage() {
  echo "usage: $0 start DIR PORT | stop DIR [PORT]" >&2
  exit 2
}

# Prints the server's `srvr` answer (empty when nothing answers).
srvr() {
  local port=$1 reply=""
  if exec 3<>"/dev/tcp/127.0.0.1/$port"; then
    printf srvr >&3
    reply=$(timeout 2 cat <&3 || true)
    exec 3<&- 3>&-
  fi
  printf '%s' "$reply"
}

running_pid() {
  local dir=$1 pid
  [ -f "$dir/zookeeper.pid" ] || return 1
  pid=$(cat "$dir/zookeeper.pid")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

start() {
  local dir=$1 port=$2 pid
  if [ ! -f "$ZK_JAR" ] || ! command -v java >/dev/null; then
    echo "ZooKeeper is not installed ($ZK_JAR or java missing): run ./scripts/install-test-deps.sh (Debian package zookeeper)" >&2
    exit 1
  fi
  case "$port" in '' | *[!0-9]*) usage ;; esac
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd)
  if pid=$(running_pid "$dir"); then
    echo "ZooKeeper already runs from $dir (pid $pid)" >&2
    exit 1
  fi
  cat >"$dir/zoo.cfg" <<EOF
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
tickTime=2000
minSessionTimeout=1000
maxSessionTimeout=120000
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
forceSync=no
preAllocSize=4096
EOF
  local cp="$ZK_JAR"
  if [ -f "$SLF4J_SIMPLE" ]; then cp="$cp:$SLF4J_SIMPLE"; fi
  # setsid: the server outlives this script and is not in the caller's process group
  setsid java -Xmx256m -Dzookeeper.jmx.log4j.disable=true -cp "$cp" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
    >"$dir/zookeeper.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/zookeeper.pid"
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "ZooKeeper exited at start; the end of $dir/zookeeper.log:" >&2
      tail -n 30 "$dir/zookeeper.log" >&2 || true
      rm -f "$dir/zookeeper.pid"
      exit 1
    fi
    if srvr "$port" 2>/dev/null | grep -q '^Mode:'; then
      echo "ZooKeeper serves 127.0.0.1:$port (pid $pid, log $dir/zookeeper.log)"
      return 0
    fi
    sleep 0.1
  done
  echo "ZooKeeper did not answer on 127.0.0.1:$port within 30 s; the end of $dir/zookeeper.log:" >&2
  tail -n 30 "$dir/zookeeper.log" >&2 || true
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/zookeeper.pid"
  exit 1
}

stop() {
  local dir=$1 pid
  if ! pid=$(running_pid "$dir"); then
    rm -f "$dir/zookeeper.pid"
    return 0
  fi
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/zookeeper.pid"
}

[ $# -ge 2 ] || usage
case "$1" in
  start) [ $# -eq 3 ] || usage; start "$2" "$3" ;;
  stop) [ $# -le 3 ] || usage; stop "$2" ;;
  *) usage ;;
esac
