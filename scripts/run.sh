#!/usr/bin/env bash
# `make run`: every built service in one terminal, logs prefixed per service; Ctrl-C stops all.
# make runs it through scripts/ensure-deps.sh, which brings up MariaDB and RabbitMQ and sets
# MYSQL_DSN and AMQP_URL (run by hand, the defaults below apply). The payment service is pointed
# at the local sandbox with the credentials the sandbox writes (what a merchant would download
# from the providers' consoles).
set -uo pipefail
cd "$(dirname "$0")/.."

services=("$@")
[ ${#services[@]} -gt 0 ] || services=(sandbox order payment notification course gateway)

export MYSQL_DSN=${MYSQL_DSN:-"root@tcp(127.0.0.1:3306)/paysuite?parseTime=true"}
export AMQP_URL=${AMQP_URL:-"amqp://guest:guest@127.0.0.1:5672/"}
export SANDBOX_KEYS_DIR=${SANDBOX_KEYS_DIR:-"$PWD/.sandbox"}
export SANDBOX_URL=${SANDBOX_URL:-"http://127.0.0.1:8090"}
export ALIPAY_BASE_URL=${ALIPAY_BASE_URL:-$SANDBOX_URL}
export WECHAT_BASE_URL=${WECHAT_BASE_URL:-$SANDBOX_URL}
export PAYMENT_MERCHANT_FILE=${PAYMENT_MERCHANT_FILE:-"$SANDBOX_KEYS_DIR/merchant.json"}
# The cashier page's return page (page/WAP/H5 pay send the buyer's browser back there).
export PAYMENT_RETURN_URL_ALLOWLIST=${PAYMENT_RETURN_URL_ALLOWLIST:-"http://localhost:8080/result,http://127.0.0.1:8080/result"}
# Dev: the sandbox serves today's bill with the rows so far, so `make demo` (and a developer) can
# reconcile the day just made; the real providers' bills come the next morning (README,
# "Reconciliation").
export SANDBOX_BILL_READY_DELAY=${SANDBOX_BILL_READY_DELAY:--24h}
# Dev identity: the gateway's dev issuer (its key kept under .paysuite/), webhooks allowed to
# reach this machine, and a webhook secret key made once and kept (README, "Authentication").
export GATEWAY_DEV_MODE=${GATEWAY_DEV_MODE:-true} WEBHOOK_ALLOW_PRIVATE=${WEBHOOK_ALLOW_PRIVATE:-true}
export GATEWAY_DEV_KEY_FILE=${GATEWAY_DEV_KEY_FILE:-"$PWD/.paysuite/dev-issuer-key.pem"}
[ -s .paysuite/webhook-secret.key ] || (umask 077 && mkdir -p .paysuite && head -c 32 /dev/urandom | base64 > .paysuite/webhook-secret.key)
export WEBHOOK_SECRET_KEY=${WEBHOOK_SECRET_KEY:-$(cat .paysuite/webhook-secret.key)}

# Identities: every gRPC port needs mutual TLS. The development CA and one certificate per name
# are made once under PAYSUITE_TLS_DIR and reused (bin/devenv tls); each process gets its own.
export PAYSUITE_TLS_DIR=${PAYSUITE_TLS_DIR:-"$PWD/.paysuite/tls"}
bin/devenv tls || exit 1

# Each service connects to MariaDB and RabbitMQ as its own user, made (once, passwords kept in
# .paysuite/services.env) with the admin identities ensure-deps.sh found, when both servers are
# on this machine; otherwise the services share MYSQL_DSN and AMQP_URL.
local_re='(@|//|\()(127\.[0-9.]+|localhost|\[::1\])[]:/)]'
is_local_url() { [[ $1 =~ $local_re ]]; }
if [ -n "${PAYSUITE_ADMIN_MYSQL_DSN:-}" ] && [ -n "${PAYSUITE_ADMIN_AMQP_URL:-}" ] &&
  is_local_url "$MYSQL_DSN" && is_local_url "$AMQP_URL"; then
  bin/devenv -env .paysuite/services.env users || exit 1
  . .paysuite/services.env
else
  echo "MariaDB or RabbitMQ is not local (or no admin identity from ensure-deps.sh): the services share MYSQL_DSN and AMQP_URL"
fi

# A shorter ORDER_PAY_TIMEOUT alone (e.g. 30s for a demo) would make the payment service refuse to
# start with the 25m provider default; keep the provider trade at 5/6 of the order's timeout.
duration_seconds() { # "1h2m30s" -> 3750; empty when it is not of that simple form
  local d=$1 total=0 n unit
  [[ $d =~ ^([0-9]+[hms])+$ ]] || return 0
  while [[ $d =~ ^([0-9]+)([hms])(.*)$ ]]; do
    n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]} d=${BASH_REMATCH[3]}
    case $unit in h) total=$((total + n * 3600)) ;; m) total=$((total + n * 60)) ;; s) total=$((total + n)) ;; esac
  done
  echo "$total"
}
if [ -n "${ORDER_PAY_TIMEOUT:-}" ] && [ -z "${PROVIDER_TRADE_TIMEOUT:-}" ]; then
  secs=$(duration_seconds "$ORDER_PAY_TIMEOUT")
  if [ -n "$secs" ] && [ "$secs" -lt 1800 ]; then
    export PROVIDER_TRADE_TIMEOUT="$(( secs * 5 / 6 > 0 ? secs * 5 / 6 : 1 ))s"
    echo "ORDER_PAY_TIMEOUT=$ORDER_PAY_TIMEOUT: using PROVIDER_TRADE_TIMEOUT=$PROVIDER_TRADE_TIMEOUT"
  fi
fi

pids=()
stop_all() {
  trap - INT TERM
  echo "stopping: ${services[*]}"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  wait
  echo "all stopped"
  exit 0
}
trap stop_all INT TERM HUP

start() { # name
  local name=$1
  if [ ! -x "bin/$name" ]; then echo "[$name] not built yet; skipped"; return; fi
  # Process substitution keeps $! the service's own pid, so Ctrl-C reaches it directly.
  # The prefixer ignores INT/TERM so it outlives the service and prints its last (drain) lines.
  TLS_CA_FILE="$PAYSUITE_TLS_DIR/ca.pem" TLS_CERT_FILE="$PAYSUITE_TLS_DIR/$name.pem" \
    TLS_KEY_FILE="$PAYSUITE_TLS_DIR/$name-key.pem" \
    "bin/$name" > >(trap "" INT TERM; exec sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { # port name
  for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.2; done
  echo "[$2] did not open port $1"; return 1
}

for s in "${services[@]}"; do
  start "$s"
  case $s in
    sandbox) wait_for 8090 sandbox ;;
    order) wait_for 9001 order ;;
    payment) wait_for 9002 payment ;;
  esac
done

echo "paysuite is up: cashier page http://localhost:8080/  sandbox http://localhost:8090/  (Ctrl-C stops)"
echo "gRPC as admin: grpcurl -cacert $PAYSUITE_TLS_DIR/ca.pem -cert $PAYSUITE_TLS_DIR/admin.pem -key $PAYSUITE_TLS_DIR/admin-key.pem localhost:9001 list"
[ "$GATEWAY_DEV_MODE" != true ] ||
  echo "a user's token (dev issuer): curl -s -XPOST localhost:8080/dev/token -d '{\"userId\":\"u1\"}'  (merchant staff: add \"roles\":[\"merchant\"])"

# If whoever started us goes away without a signal reaching us (make killed with SIGTERM, a
# closed terminal), stop the services instead of leaving them running.
parent=$PPID
while kill -0 "$parent" 2>/dev/null; do
  sleep 1 & wait $!
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ $alive -eq 1 ] || break
done
stop_all
