# Private clusters on loopback for `make cluster-test` (README, "Outgrowing one machine"): a
# 3-node MariaDB Galera cluster, a 3-node RabbitMQ cluster and HAProxy in front of them, all
# under CLUSTER_DIR on ports from CLUSTER_PORT_BASE, never the shared :3306 or :5672 servers.
# Recipes: ../shared/CLUSTERS.md. Sourced by scripts/cluster-test.sh.

CLUSTER_DIR=${CLUSTER_DIR:-/tmp/paysuite-cluster}
P=${CLUSTER_PORT_BASE:-24000}
RABBIT_PREFIX=${RABBIT_PREFIX:-paysuite-cl}

# Ports: Galera node n listens for SQL on P+10+n, gcomm P+20+n, IST P+30+n, SST P+40+n;
# RabbitMQ node n on P+50+n (AMQP), P+60+n (distribution); HAProxy: SQL P+1, AMQP P+2.
sql_port() { echo $((P + 10 + $1)); }
amqp_port() { echo $((P + 50 + $1)); }
HAPROXY_SQL=$((P + 1))
HAPROXY_AMQP=$((P + 2))
HAPROXY_NOTIFY=$((P + 3))
# The services' replicas r = 1, 2 (scripts/cluster-test.sh).
port_of() { # service r what: the port of replica r of service for grpc|http|ops
  local base
  case $1 in order) base=100 ;; payment) base=120 ;; notification) base=140 ;; course) base=160 ;; gateway) base=180 ;; esac
  case $3 in grpc) echo $((P + base + $2)) ;; http) echo $((P + base + 5 + $2)) ;; ops) echo $((P + base + 10 + $2)) ;; esac
}
SANDBOX_PORT=$((P + 200))

log() { printf '%s cluster: %s\n' "$(date -u +%H:%M:%S)" "$*"; }

galera_cnf() { # n
  local n=$1 d=$CLUSTER_DIR/galera$1
  cat >"$d/my.cnf" <<CNF
[mysqld]
datadir=$d/data
socket=$d/run/mysqld.sock
pid-file=$d/run/mysqld.pid
port=$(sql_port "$n")
bind-address=127.0.0.1
user=mysql
skip-name-resolve
log-error=$d/error.log
max_connections=500
innodb_buffer_pool_size=64M
innodb_log_file_size=16M
innodb_flush_log_at_trx_commit=2
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=/usr/lib/galera/libgalera_smm.so
wsrep_cluster_name=paysuite-cluster-test
wsrep_cluster_address=gcomm://127.0.0.1:$((P + 21)),127.0.0.1:$((P + 22)),127.0.0.1:$((P + 23))
wsrep_node_address=127.0.0.1:$((P + 20 + n))
wsrep_node_name=galera$n
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$((P + 20 + n));ist.recv_addr=127.0.0.1:$((P + 30 + n));gcache.size=64M"
wsrep_sst_receive_address=127.0.0.1:$((P + 40 + n))
wsrep_sst_method=rsync
CNF
}

galera_sql() { # n sql...
  local n=$1; shift
  mariadb -S "$CLUSTER_DIR/galera$n/run/mysqld.sock" -uroot -N -B -e "$*"
}

galera_wait_synced() { # n
  local i
  for i in $(seq 1 120); do
    [ "$(galera_sql "$1" "SHOW STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null | cut -f2)" = Synced ] && return 0
    sleep 0.5
  done
  log "galera$1 did not reach Synced: $(tail -5 "$CLUSTER_DIR/galera$1/error.log")"
  return 1
}

galera_start() { # n [--wsrep-new-cluster]
  local n=$1; shift
  mariadbd --defaults-file="$CLUSTER_DIR/galera$n/my.cnf" "$@" >>"$CLUSTER_DIR/galera$n/stdout.log" 2>&1 &
  galera_wait_synced "$n"
}

galera_stop() { # n
  mariadb-admin -S "$CLUSTER_DIR/galera$1/run/mysqld.sock" -uroot shutdown 2>/dev/null || true
}

galera_up() {
  local n
  for n in 1 2 3; do
    local d=$CLUSTER_DIR/galera$n
    mkdir -p "$d/data" "$d/run"
    galera_cnf "$n"
    chown -R mysql:mysql "$d"
    mariadb-install-db --defaults-file="$d/my.cnf" --user=mysql >"$d/install.log" 2>&1 ||
      { log "mariadb-install-db galera$n failed: $(tail -3 "$d/install.log")"; return 1; }
  done
  galera_start 1 --wsrep-new-cluster || return 1
  # The suite's admin over TCP (root over the socket needs no password; TCP needs a user).
  galera_sql 1 "CREATE USER 'paysuite'@'127.0.0.1' IDENTIFIED BY 'cluster'; GRANT ALL ON *.* TO 'paysuite'@'127.0.0.1' WITH GRANT OPTION" || return 1
  galera_start 2 && galera_start 3 || return 1
  log "galera: $(galera_sql 1 "SHOW STATUS LIKE 'wsrep_cluster_size'" | cut -f2) nodes on ports $(sql_port 1)-$(sql_port 3)"
}

galera_down() {
  local n
  for n in 3 2 1; do galera_stop "$n"; done
}

rabbit_env() { # n: the environment of node n
  local n=$1 d=$CLUSTER_DIR/rabbit$1
  echo RABBITMQ_NODENAME="$RABBIT_PREFIX$n@localhost" RABBITMQ_DIST_PORT=$((P + 60 + n)) \
    RABBITMQ_CONFIG_FILE="$d/rabbitmq" RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" \
    RABBITMQ_PID_FILE="$d/rabbit.pid" RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config"
}

rabbitctl() { # n args...
  local n=$1; shift
  rabbitmqctl -q -n "$RABBIT_PREFIX$n@localhost" "$@"
}

rabbit_start() { # n
  local n=$1
  env $(rabbit_env "$n") rabbitmq-server -detached >>"$CLUSTER_DIR/rabbit$n/stdout.log" 2>&1
  local i
  for i in $(seq 1 120); do
    rabbitctl "$n" await_startup >/dev/null 2>&1 && return 0
    sleep 1
  done
  log "rabbit$n did not start: $(tail -5 "$CLUSTER_DIR/rabbit$n/stdout.log")"
  return 1
}

rabbit_stop() { # n
  rabbitctl "$1" stop >/dev/null 2>&1 || true
}

rabbit_up() {
  local n
  for n in 1 2 3; do
    local d=$CLUSTER_DIR/rabbit$n
    mkdir -p "$d/mnesia" "$d/log"
    printf 'listeners.tcp.local = 127.0.0.1:%s\nloopback_users = none\n' "$(amqp_port "$n")" >"$d/rabbitmq.conf"
    echo '[].' >"$d/enabled_plugins"
    echo '[].' >"$d/advanced.config"
    chown -R rabbitmq:rabbitmq "$d"
  done
  rabbit_start 1 || return 1
  for n in 2 3; do
    rabbit_start "$n" || return 1
    rabbitctl "$n" stop_app && rabbitctl "$n" join_cluster "${RABBIT_PREFIX}1@localhost" && rabbitctl "$n" start_app || return 1
  done
  log "rabbitmq: $(rabbitctl 1 cluster_status --formatter json | grep -o "$RABBIT_PREFIX[0-9]@localhost" | sort -u | wc -l) nodes on ports $(amqp_port 1)-$(amqp_port 3)"
}

rabbit_down() {
  local n
  for n in 3 2 1; do rabbit_stop "$n"; done
}

haproxy_up() {
  local d=$CLUSTER_DIR/haproxy
  mkdir -p "$d"
  # SQL: one writer at a time (the others are backups), the usual way to run Galera behind a
  # proxy: certification conflicts then come only from failovers, not from every hot row.
  cat >"$d/haproxy.cfg" <<CFG
global
  daemon
  pidfile $d/haproxy.pid
  maxconn 4000
defaults
  mode tcp
  timeout connect 2s
  timeout client 1h
  timeout server 1h
  timeout check 1s
frontend sql
  bind 127.0.0.1:$HAPROXY_SQL
  default_backend galera
backend galera
  option tcp-check
  default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
  server galera1 127.0.0.1:$(sql_port 1) check
  server galera2 127.0.0.1:$(sql_port 2) check backup
  server galera3 127.0.0.1:$(sql_port 3) check backup
frontend amqp
  bind 127.0.0.1:$HAPROXY_AMQP
  default_backend rabbit
backend rabbit
  balance leastconn
  default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
  server rabbit1 127.0.0.1:$(amqp_port 1) check
  server rabbit2 127.0.0.1:$(amqp_port 2) check
  server rabbit3 127.0.0.1:$(amqp_port 3) check
frontend notify
  bind 127.0.0.1:$HAPROXY_NOTIFY
  default_backend payment_http
backend payment_http
  default-server inter 500ms fall 2 rise 2
  server payment1 127.0.0.1:$(port_of payment 1 http) check
  server payment2 127.0.0.1:$(port_of payment 2 http) check
CFG
  haproxy -f "$d/haproxy.cfg" || return 1
  log "haproxy: SQL on $HAPROXY_SQL, AMQP on $HAPROXY_AMQP, payment notify on $HAPROXY_NOTIFY"
}

haproxy_down() {
  [ -s "$CLUSTER_DIR/haproxy/haproxy.pid" ] && kill "$(cat "$CLUSTER_DIR/haproxy/haproxy.pid")" 2>/dev/null || true
}

cluster_down() {
  haproxy_down
  rabbit_down
  galera_down
}
