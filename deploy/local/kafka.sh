#!/usr/bin/env bash
# Local Apache Kafka for Warden: one KRaft node (broker + controller), no Docker.
# The jars come from Maven Central through deploy/local/pom.xml (which pins the
# version); see docs/adr/0001-kafka-version.md.
#
# Usage: deploy/local/kafka.sh fetch|start|stop|status|reset
#
# Environment:
#   WARDEN_HOME            cache root (default: <repo>/.warden)
#   KAFKA_PORT             client listener port     (default: 19092)
#   KAFKA_CONTROLLER_PORT  controller listener port (default: 19093)
#   KAFKA_HEAP_OPTS        JVM heap flags (default: -Xms256m -Xmx1g)
#   KAFKA_START_TIMEOUT    seconds `start` waits for the broker (default: 60)
#   KAFKA_STOP_TIMEOUT     seconds `stop` waits before SIGKILL (default: 30)
#   JAVA                   java binary (default: java on PATH; needs 17+)
#   KAFKA_INSTANCE         a second broker beside the first, sharing its jars: data in data-<name>/
#   KAFKA_SASL_USERS       "user:password,..." turns authentication and authorization on: both
#                          listeners speak SASL_PLAINTEXT with PLAIN, these users exist, the
#                          StandardAuthorizer allows only what ACLs grant (docs/security.md)
#   KAFKA_SUPER_USER       with KAFKA_SASL_USERS: the user allowed everything (default: admin),
#                          which the broker itself and the provisioning use; must be listed
#
# Layout: ${WARDEN_HOME}/kafka-<version>/
#   libs/           the jars (kept by `reset`), libs/.stamp records what was fetched
#   data/           (data-<KAFKA_INSTANCE>/ for another broker) server.properties, cluster.id, kafka.pid, kraft-combined-logs/, logs/
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
POM="$SCRIPT_DIR/pom.xml"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.properties"

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\([^<]*\)</kafka.version>.*:\1:p;T;q' "$POM")"
[[ -n "$KAFKA_VERSION" ]] || { echo "kafka.sh: no <kafka.version> in $POM" >&2; exit 1; }

WARDEN_HOME="$(realpath -m -- "${WARDEN_HOME:-$REPO_ROOT/.warden}")"
CACHE_DIR="$WARDEN_HOME/kafka-$KAFKA_VERSION"
LIBS_DIR="$CACHE_DIR/libs"
STAMP_FILE="$LIBS_DIR/.stamp"
KAFKA_INSTANCE="${KAFKA_INSTANCE:-}"
[[ -z "$KAFKA_INSTANCE" || "$KAFKA_INSTANCE" =~ ^[a-z0-9-]+$ ]] || { echo "kafka.sh: KAFKA_INSTANCE must be lower-case letters, digits, '-'" >&2; exit 1; }
DATA_DIR="$CACHE_DIR/data${KAFKA_INSTANCE:+-$KAFKA_INSTANCE}"
LOG_DIR="$DATA_DIR/logs"
KRAFT_DIR="$DATA_DIR/kraft-combined-logs"
SERVER_PROPS="$DATA_DIR/server.properties"
CLUSTER_ID_FILE="$DATA_DIR/cluster.id"
PID_FILE="$DATA_DIR/kafka.pid"
LOCK_FILE="$CACHE_DIR/.lock"

HOST=127.0.0.1
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
JAVA="${JAVA:-java}"
KAFKA_SASL_USERS="${KAFKA_SASL_USERS:-}"
KAFKA_SUPER_USER="${KAFKA_SUPER_USER:-admin}"

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }

for v in KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_START_TIMEOUT KAFKA_STOP_TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done

# One kafka.sh at a time per cache (parallel test runners may all call `start`).
lock() {
  mkdir -p "$CACHE_DIR"
  exec 9>"$LOCK_FILE"
  flock -w 180 9 || die "timed out waiting for $LOCK_FILE (another kafka.sh is running)"
}

# What the stamp records: the Kafka version and the pom it was fetched with,
# so editing the pom (e.g. the log4j2 version) fetches again.
stamp_content() {
  echo "kafka.version=$KAFKA_VERSION"
  echo "pom.sha256=$(sha256sum "$POM" | cut -d' ' -f1)"
}

is_fetched() {
  [[ -f "$STAMP_FILE" && -f "$LIBS_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]] &&
    [[ "$(cat "$STAMP_FILE")" == "$(stamp_content)" ]]
}

do_fetch() {
  if is_fetched; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: Maven is needed to fetch the Kafka jars"
  log "fetching Apache Kafka $KAFKA_VERSION jars into $LIBS_DIR"
  rm -rf "$LIBS_DIR" "$LIBS_DIR.tmp"
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
    -DoutputDirectory="$LIBS_DIR.tmp" >"$CACHE_DIR/fetch.log" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$CACHE_DIR/fetch.log" >&2
    die "mvn dependency:copy-dependencies failed (log: $CACHE_DIR/fetch.log)"
  fi
  [[ -f "$LIBS_DIR.tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"
  stamp_content >"$LIBS_DIR.tmp/.stamp"
  mv "$LIBS_DIR.tmp" "$LIBS_DIR"
}

check_java() {
  command -v "$JAVA" >/dev/null || die "java not found (Kafka $KAFKA_VERSION needs Java 17+)"
  local v
  v="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [[ "${v%%.*}" =~ ^[0-9]+$ && "${v%%.*}" -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17+, $JAVA is ${v:-unknown}"
}

# The pid of our broker if it is alive, else nothing (and a stale pid file is removed).
running_pid() {
  [[ -f "$PID_FILE" ]] || return 0
  local pid cmdline=""
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" || true)"
  if [[ "$cmdline" == *"kafka.Kafka $SERVER_PROPS"* ]]; then
    echo "$pid"
  else
    rm -f "$PID_FILE"
  fi
}

# The client port of the broker configured in server.properties.
configured_port() {
  sed -n "s#^listeners=[A-Z_]*://$HOST:\([0-9]*\),.*#\1#p;T;q" "$SERVER_PROPS" 2>/dev/null || true
}

port_open() { # port -> 0 when something accepts TCP connections on it
  # shellcheck disable=SC2016
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null
}

# A real Kafka request: ApiVersions v0 (request header v1, client id "warden-probe").
# Answers 0 when the broker replies with our correlation id and error_code 0.
broker_answers() { # port
  local reply
  # shellcheck disable=SC2016
  reply="$(timeout 3 bash -c '
      exec 3<>"/dev/tcp/$0/$1" || exit 1
      printf "\x00\x00\x00\x16\x00\x12\x00\x00\x57\x41\x52\x44\x00\x0cwarden-probe" >&3
      head -c 10 <&3' "$HOST" "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n' || true)"
  # size(4) | correlation id "WARD" | error_code 0
  [[ "$reply" =~ ^[0-9a-f]{8}574152440000$ ]]
}

who_listens() { # port
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p;T;q' || true
}

# With KAFKA_SASL_USERS: SASL/PLAIN on both listeners, the users' JAAS entries, the authorizer.
security_properties() {
  if [[ -z "$KAFKA_SASL_USERS" ]]; then
    echo "listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT"
    echo "advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT"
    echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    echo "inter.broker.listener.name=PLAINTEXT"
    return 0
  fi
  local entry user password users="" super_password=""
  IFS=',' read -ra entries <<<"$KAFKA_SASL_USERS"
  for entry in "${entries[@]}"; do
    user="${entry%%:*}"
    password="${entry#*:}"
    [[ "$user" =~ ^[A-Za-z0-9._-]+$ && -n "$password" && "$entry" == *:* ]] ||
      die "KAFKA_SASL_USERS: '$user' is not user:password (user of letters, digits, '.', '_', '-')"
    [[ "$password" != *'"'* && "$password" != *' '* ]] || die "KAFKA_SASL_USERS: $user's password has a quote or a space"
    users+=" user_$user=\"$password\""
    [[ "$user" == "$KAFKA_SUPER_USER" ]] && super_password="$password"
  done
  [[ -n "$super_password" ]] || die "KAFKA_SASL_USERS must list KAFKA_SUPER_USER ($KAFKA_SUPER_USER)"
  local jaas="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$KAFKA_SUPER_USER\" password=\"$super_password\"$users;"
  echo "listeners=SASL_PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT"
  echo "advertised.listeners=SASL_PLAINTEXT://$HOST:$KAFKA_PORT"
  echo "listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
  echo "inter.broker.listener.name=SASL_PLAINTEXT"
  echo "sasl.enabled.mechanisms=PLAIN"
  echo "sasl.mechanism.inter.broker.protocol=PLAIN"
  echo "sasl.mechanism.controller.protocol=PLAIN"
  echo "listener.name.sasl_plaintext.plain.sasl.jaas.config=$jaas"
  echo "listener.name.controller.plain.sasl.jaas.config=$jaas"
  echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
  echo "super.users=User:$KAFKA_SUPER_USER"
  echo "allow.everyone.if.no.acl.found=false"
}

write_server_properties() {
  mkdir -p "$DATA_DIR" "$LOG_DIR" "$KRAFT_DIR"
  local security
  security="$(security_properties)" || exit 1
  # The file may hold passwords (KAFKA_SASL_USERS): readable by its owner only.
  (umask 077 && : >"$SERVER_PROPS.tmp")
  cat >"$SERVER_PROPS.tmp" <<EOF
# Written by deploy/local/kafka.sh on every start: edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
$security
controller.listener.names=CONTROLLER
log.dirs=$KRAFT_DIR

num.partitions=6
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0

# Small machine (2 cores, several services beside Kafka).
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
EOF
  mv "$SERVER_PROPS.tmp" "$SERVER_PROPS"
}

storage_tool() {
  "$JAVA" -Xmx256m -cp "$LIBS_DIR/*" \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$LOG_DIR" -Dwarden.kafka.logfile=storage-tool \
    kafka.tools.StorageTool "$@"
}

format_storage() {
  [[ -f "$KRAFT_DIR/meta.properties" ]] && return 0
  if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
    storage_tool random-uuid >"$CLUSTER_ID_FILE.tmp" || die "StorageTool random-uuid failed"
    mv "$CLUSTER_ID_FILE.tmp" "$CLUSTER_ID_FILE"
  fi
  log "formatting $KRAFT_DIR (cluster id $(cat "$CLUSTER_ID_FILE"))"
  storage_tool format --ignore-formatted -t "$(cat "$CLUSTER_ID_FILE")" -c "$SERVER_PROPS" >>"$LOG_DIR/storage-tool.out" 2>&1 ||
    die "StorageTool format failed, see $LOG_DIR/storage-tool.out"
}

do_start() {
  lock
  local pid port
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    port="$(configured_port)"
    if [[ "$port" != "$KAFKA_PORT" ]]; then
      die "a broker from $CACHE_DIR is already running on $HOST:$port (pid $pid), not on $KAFKA_PORT: run '$0 stop' first"
    fi
    if wait_ready "$pid" "$KAFKA_START_TIMEOUT" ""; then
      echo "running on $HOST:$port"
      return 0
    fi
    die "broker pid $pid is running but does not answer on $HOST:$port; see $LOG_DIR/server.log (try '$0 stop')"
  fi

  if port_open "$KAFKA_PORT" && broker_answers "$KAFKA_PORT"; then
    # A broker of another checkout (or started by hand) already serves this port: share it.
    # Warden's topics carry a prefix, so installations and tests do not see each other.
    log "a Kafka broker not started from $CACHE_DIR already answers on $HOST:$KAFKA_PORT; using it"
    echo "running on $HOST:$KAFKA_PORT"
    return 0
  fi

  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_open "$p"; then
      die "port $HOST:$p is already in use by another process ($(who_listens "$p" || true)); set KAFKA_PORT / KAFKA_CONTROLLER_PORT to free ports"
    fi
  done
  [[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"

  check_java
  do_fetch
  write_server_properties
  format_storage

  local log_offset=0
  [[ -f "$LOG_DIR/server.log" ]] && log_offset="$(stat -c %s "$LOG_DIR/server.log")"
  echo "---- $(date -u +%FT%TZ) kafka.sh start (Kafka $KAFKA_VERSION) ----" >>"$LOG_DIR/kafka.out"
  rm -f "$PID_FILE"
  # setsid: own session, so a test runner killing its process group does not take
  # the broker with it. The inner bash records its pid, then execs java (same pid).
  # shellcheck disable=SC2086,SC2016
  nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    "$JAVA" $KAFKA_HEAP_OPTS \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOG_DIR" -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
    -cp "$LIBS_DIR/*" kafka.Kafka "$SERVER_PROPS" \
    >>"$LOG_DIR/kafka.out" 2>&1 </dev/null 9>&- &

  local _
  for _ in $(seq 1 50); do
    [[ -s "$PID_FILE" ]] && break
    sleep 0.1
  done
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] || die "broker did not start; see $LOG_DIR/kafka.out"

  if wait_ready "$pid" "$KAFKA_START_TIMEOUT" "$log_offset"; then
    echo "running on $HOST:$KAFKA_PORT"
    return 0
  fi
  if kill -0 "$pid" 2>/dev/null; then
    log "broker (pid $pid) not answering on $HOST:$KAFKA_PORT after ${KAFKA_START_TIMEOUT}s; stopping it"
    stop_pid "$pid"
  else
    log "broker (pid $pid) exited during startup"
  fi
  rm -f "$PID_FILE"
  log "last lines of $LOG_DIR/kafka.out and of this run's server.log:"
  tail -n 20 "$LOG_DIR/kafka.out" >&2 || true
  tail -c +"$((log_offset + 1))" "$LOG_DIR/server.log" 2>/dev/null | tail -n 40 >&2 || true
  exit 1
}

# Ready = the process is alive, answers an ApiVersions request on the client port,
# and (for a fresh start) has logged "Kafka Server started", which the broker only
# does once it has caught up with the metadata log and is unfenced.
wait_ready() { # pid timeout_seconds log_offset ("" = do not check the log)
  local pid=$1 deadline=$((SECONDS + $2)) log_offset=$3 port started size
  port="$(configured_port)"
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    started=1
    if [[ -n "$log_offset" ]]; then
      size="$(stat -c %s "$LOG_DIR/server.log" 2>/dev/null || echo 0)"
      ((size >= log_offset)) || log_offset=0 # the log rolled over meanwhile
      started="$(tail -c +"$((log_offset + 1))" "$LOG_DIR/server.log" 2>/dev/null | grep -c 'Kafka Server started' || true)"
    fi
    if ((started > 0)) && broker_answers "$port"; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

stop_pid() { # pid
  local pid=$1 deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "broker (pid $pid) still running after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
}

do_stop() {
  lock
  local pid
  pid="$(running_pid)"
  if [[ -z "$pid" ]]; then
    echo "not running"
    return 0
  fi
  stop_pid "$pid"
  rm -f "$PID_FILE"
  echo "stopped (pid $pid)"
}

do_status() {
  local pid port
  pid="$(running_pid)"
  [[ -n "$pid" ]] || { echo "not running"; return 1; }
  port="$(configured_port)"
  if broker_answers "$port"; then
    echo "running on $HOST:$port"
    return 0
  fi
  echo "pid $pid is up but not answering on $HOST:$port"
  return 1
}

do_reset() {
  do_stop
  rm -rf "$DATA_DIR"
  echo "deleted $DATA_DIR (jars kept in $LIBS_DIR)"
}

case "${1:-}" in
  fetch) lock; do_fetch; echo "Kafka $KAFKA_VERSION jars in $LIBS_DIR" ;;
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  reset) do_reset ;;
  *)
    echo "usage: $0 fetch|start|stop|status|reset" >&2
    exit 2
    ;;
esac
