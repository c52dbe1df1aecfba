#!/usr/bin/env bash
# `make cluster-test` (README, "Outgrowing one machine"): on loopback, a private 3-node MariaDB
# Galera cluster, a 3-node RabbitMQ cluster with quorum queues and HAProxy in front; two
# replicas of every service (one sandbox); then bin/clustertest checks the Galera properties,
# drives purchases while one database node, one broker node and one order replica go down (and
# the two nodes come back), checks the books and prints the figures. Bounded; stops and removes
# everything it started, whatever happens. Needs root (the servers drop to mysql/rabbitmq),
# mariadb-server + galera-4, rabbitmq-server and haproxy (.ci/run installs them).
#   CLUSTER_TEST_DURATION (60s) CLUSTER_TEST_RATE (4/s) CLUSTER_PORT_BASE (24000) KEEP_CLUSTER=1
set -uo pipefail
cd "$(dirname "$0")/.."

for bin in mariadbd mariadb-install-db rabbitmq-server rabbitmqctl haproxy rsync; do
  command -v "$bin" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "$bin" >/dev/null ||
    { echo "cluster-test: $bin is not installed (apt-get install mariadb-server galera-4 rabbitmq-server haproxy rsync)" >&2; exit 2; }
done
export PATH=$PATH:/usr/sbin:/sbin
[ -e /usr/lib/galera/libgalera_smm.so ] || { echo "cluster-test: galera-4 is not installed" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "cluster-test: run as root (the servers switch to the mysql and rabbitmq users)" >&2; exit 2; }

export CLUSTER_DIR=${CLUSTER_DIR:-$(mktemp -d /tmp/paysuite-cluster.XXXXXX)}
mkdir -p "$CLUSTER_DIR" && chmod 755 "$CLUSTER_DIR"
. scripts/cluster/lib.sh

pids=()
cleanup() {
  trap - EXIT INT TERM
  log "stopping the replicas and the clusters"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  wait "${pids[@]}" 2>/dev/null # not a bare wait: the database servers are our children too
  cluster_down
  if [ "${KEEP_CLUSTER:-}" = 1 ]; then log "kept $CLUSTER_DIR"; else rm -rf "$CLUSTER_DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Bounded: the whole run, set-up included, is killed after this long.
( sleep "${CLUSTER_TEST_TIMEOUT:-900}"; log "timed out"; kill -TERM $$ ) & pids+=($!)

make -s build >/dev/null || exit 1
go build -o bin/clustertest ./pkg/cmd/clustertest || exit 1
galera_up || exit 1
rabbit_up || exit 1
haproxy_up || exit 1

# Every replica reaches the database through HAProxy; replica 1 reaches the broker through
# HAProxy too, replica 2 with all three nodes in its AMQP_URL (the client's own failover).
export MYSQL_DSN="paysuite:cluster@tcp(127.0.0.1:$HAPROXY_SQL)/paysuite?parseTime=true"
AMQP_VIA_PROXY="amqp://guest:guest@127.0.0.1:$HAPROXY_AMQP/"
AMQP_NODES="amqp://guest:guest@127.0.0.1:$(amqp_port 1)/,amqp://guest:guest@127.0.0.1:$(amqp_port 2)/,amqp://guest:guest@127.0.0.1:$(amqp_port 3)/"
export AMQP_QUEUE_TYPE=quorum PAYMENT_BROKER_USER=guest ORDER_BROKER_USER=guest
export PAYSUITE_TLS_DIR=$CLUSTER_DIR/tls SANDBOX_KEYS_DIR=$CLUSTER_DIR/sandbox
export SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT" SANDBOX_ADDR="127.0.0.1:$SANDBOX_PORT" SANDBOX_PUBLIC_URL="http://127.0.0.1:$SANDBOX_PORT"
export ALIPAY_BASE_URL=$SANDBOX_URL WECHAT_BASE_URL=$SANDBOX_URL PAYMENT_MERCHANT_FILE=$SANDBOX_KEYS_DIR/merchant.json
export PAYMENT_NOTIFY_BASE_URL="http://127.0.0.1:$HAPROXY_NOTIFY"
export GATEWAY_DEV_MODE=true GATEWAY_DEV_KEY_FILE=$CLUSTER_DIR/dev-issuer-key.pem WEBHOOK_ALLOW_PRIVATE=true
export WEBHOOK_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
# Unpaid orders expire within the run: the quorum TTL delay queue and the sweeper both work.
export ORDER_PAY_TIMEOUT=20s PROVIDER_TRADE_TIMEOUT=15s ORDER_SWEEP_INTERVAL=5s ORDER_SWEEP_GRACE=10s
export GATEWAY_BURST_PER_ADDRESS=100000 GATEWAY_BURST_PER_USER=1000 LOG_LEVEL=warn
list() { # service what: "127.0.0.1:p1,127.0.0.1:p2"
  echo "127.0.0.1:$(port_of "$1" 1 "$2"),127.0.0.1:$(port_of "$1" 2 "$2")"
}
export ORDER_TARGET=$(list order grpc) PAYMENT_TARGET=$(list payment grpc)
export NOTIFICATION_TARGET=$(list notification grpc) COURSE_TARGET=$(list course grpc)
bin/devenv tls >/dev/null || exit 1

start() { # service replica
  local s=$1 r=$2 up
  up=$(echo "$s" | tr a-z A-Z)
  local amqp=$AMQP_VIA_PROXY
  [ "$r" = 2 ] && amqp=$AMQP_NODES
  env AMQP_URL="$amqp" "${up}_GRPC_ADDR=127.0.0.1:$(port_of "$s" "$r" grpc)" "${up}_HTTP_ADDR=127.0.0.1:$(port_of "$s" "$r" http)" \
    "${up}_OPS_ADDR=127.0.0.1:$(port_of "$s" "$r" ops)" \
    TLS_CA_FILE="$PAYSUITE_TLS_DIR/ca.pem" TLS_CERT_FILE="$PAYSUITE_TLS_DIR/$s.pem" TLS_KEY_FILE="$PAYSUITE_TLS_DIR/$s-key.pem" \
    "bin/$s" >"$CLUSTER_DIR/$s$r.log" 2>&1 &
  pids+=($!)
  eval "PID_${s}_$r=$!"
}
wait_ready() { # service replica
  local i
  for i in $(seq 1 120); do
    curl -fsS -o /dev/null "http://127.0.0.1:$(port_of "$1" "$2" ops)/readyz" 2>/dev/null && return 0
    sleep 0.5
  done
  log "$1 replica $2 is not ready: $(tail -5 "$CLUSTER_DIR/$1$2.log")"
  return 1
}

TLS_CA_FILE="$PAYSUITE_TLS_DIR/ca.pem" TLS_CERT_FILE="$PAYSUITE_TLS_DIR/sandbox.pem" TLS_KEY_FILE="$PAYSUITE_TLS_DIR/sandbox-key.pem" \
  bin/sandbox >"$CLUSTER_DIR/sandbox.log" 2>&1 &
pids+=($!)
for i in $(seq 1 100); do [ -s "$PAYMENT_MERCHANT_FILE" ] && break; sleep 0.2; done
for s in payment order notification course gateway; do
  for r in 1 2; do start "$s" "$r"; wait_ready "$s" "$r" || exit 1; done
done
log "two replicas of every service are ready"

metrics=""
for s in order payment notification course; do
  for r in 1 2; do metrics+="${metrics:+,}http://127.0.0.1:$(port_of "$s" "$r" ops)"; done
done
lib=". scripts/cluster/lib.sh"
duration=${CLUSTER_TEST_DURATION:-60s}
bin/clustertest \
  -node1 "paysuite:cluster@tcp(127.0.0.1:$(sql_port 1))/paysuite" -node2 "paysuite:cluster@tcp(127.0.0.1:$(sql_port 3))/paysuite" \
  -dsn "$MYSQL_DSN" -sandbox "$SANDBOX_URL" -metrics "$metrics" \
  -gateways "http://127.0.0.1:$(port_of gateway 1 http),http://127.0.0.1:$(port_of gateway 2 http)" \
  -duration "$duration" -rate "${CLUSTER_TEST_RATE:-4}" \
  -fault "10s=$lib; galera_stop 1" \
  -fault "20s=$lib; rabbit_stop 1" \
  -fault "28s=kill -KILL $PID_order_1" \
  -fault "35s=$lib; galera_start 1" \
  -fault "40s=$lib; rabbit_start 1"
status=$?
exit $status
