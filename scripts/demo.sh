#!/usr/bin/env bash
# `make demo`: with `make run` up, buys a course and a good through the gateway and pays each
# with the sandbox buyer, printing every request and the final states; then refunds part of the
# good; at last merchant staff refund the course in the provider's console, outside paysuite, and
# a reconciliation of today's Alipay bill finds it (make run has the sandbox serve today's bill).
# Needs only curl (and sed); uses jq for nicer output when it is installed.
# It acts as a buyer and as merchant staff with tokens from the gateway's dev issuer
# (POST /dev/token, mounted because make run sets GATEWAY_DEV_MODE=true).
#   GATEWAY_URL (default http://127.0.0.1:8080)  SANDBOX_URL (default http://127.0.0.1:8090)
#   DEMO_USER   (default demo-<timestamp>: a fresh buyer, so the course is not owned yet)
set -euo pipefail

GW=${GATEWAY_URL:-http://127.0.0.1:8080}
SB=${SANDBOX_URL:-http://127.0.0.1:8090}
USER_ID=${DEMO_USER:-demo-$(date +%s)}
COURSE=${DEMO_COURSE:-course-go-concurrency}
GOOD=${DEMO_GOOD:-goods-gopher-mug}
have_jq=false
command -v jq >/dev/null && have_jq=true

if [ -t 1 ]; then bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }; else bold() { printf '\n== %s\n' "$*"; }; fi
pretty() {
  local in
  in=$(cat | sed 's/"qrPngBase64": *"\([^"]\{0,16\}\)[^"]*"/"qrPngBase64": "\1… (PNG, shown on the cashier page)"/')
  if ! { $have_jq && printf '%s' "$in" | jq . 2>/dev/null; }; then printf '%s\n' "$in"; fi
}

# field NAME: a top-level string field of the JSON on stdin (ids are strings in protojson).
field() {
  if $have_jq; then jq -r --arg f "$1" '.[$f] // empty' 2>/dev/null || true
  else { grep -o '"'"$1"'": *"[^"]*"' || true; } | sed -n '1s/.*"\([^"]*\)"$/\1/p'; fi
}

# call METHOD URL [JSON] [curl args…]: prints the request and the answer, sets $BODY, and stops
# the demo on an HTTP error.
call() {
  local method=$1 url=$2 data=${3:-}
  shift $(( $# < 3 ? $# : 3 ))
  echo "→ $method $url ${data:+$data}"
  local out code
  if [ -n "$data" ]; then
    out=$(curl -sS -X "$method" -H 'Content-Type: application/json' "${AUTH[@]}" "$@" -d "$data" -w '\n%{http_code}' "$url")
  else
    out=$(curl -sS -X "$method" "${AUTH[@]}" "$@" -w '\n%{http_code}' "$url")
  fi
  code=${out##*$'\n'}
  BODY=${out%$'\n'*}
  echo "← HTTP $code"
  printf '%s' "$BODY" | pretty
  if [ "$code" -ge 400 ]; then echo "demo stopped: $method $url answered $code" >&2; exit 1; fi
}

# wait_order ID STATUS: polls the order until it reaches STATUS (the notify is asynchronous).
wait_order() {
  local status=""
  for _ in $(seq 1 60); do
    status=$(curl -sS "${AUTH[@]}" "$GW/v1/orders/$1" 2>/dev/null | field status)
    [ "$status" = "$2" ] && { echo "order $1 is $status"; return 0; }
    sleep 0.5
  done
  echo "order $1 is still ${status:-unknown} after 30s (want $2)" >&2
  exit 1
}

# buy SKU QUANTITY CHANNEL: order, pay at the provider via the sandbox, wait for PAID.
buy() {
  local sku=$1 qty=$2 channel=$3
  local key="demo-$sku-$RANDOM$RANDOM"
  bold "order $qty × $sku for $USER_ID (Idempotency-Key: $key)"
  local order="{\"userId\":\"$USER_ID\",\"items\":[{\"skuId\":\"$sku\",\"quantity\":$qty}]}"
  call POST "$GW/v1/orders" "$order" -H "Idempotency-Key: $key"
  ORDER_ID=$(printf '%s' "$BODY" | field orderId)
  bold "the same request again (a client retry) returns the same order"
  local again
  again=$(curl -sS -X POST -H 'Content-Type: application/json' "${AUTH[@]}" -H "Idempotency-Key: $key" -d "$order" "$GW/v1/orders" | field orderId)
  echo "→ POST $GW/v1/orders (same Idempotency-Key) ← order $again"
  [ "$again" = "$ORDER_ID" ] || { echo "retry made a second order!" >&2; exit 1; }

  bold "pay order $ORDER_ID with $channel"
  call POST "$GW/v1/orders/$ORDER_ID/payments" "{\"channel\":\"$channel\"}"
  PAYMENT_ID=$(printf '%s' "$BODY" | field paymentId)
  local qr
  qr=$(printf '%s' "$BODY" | field qrCode)
  echo "QR code to scan: $qr   (expires $(printf '%s' "$BODY" | field expireAt))"

  bold "the buyer scans and pays in the sandbox"
  call POST "$SB/sandbox/pay" "{\"qrCode\":\"$qr\",\"buyerId\":\"demo-buyer\"}"
  bold "waiting for the provider's notify to mark order $ORDER_ID PAID"
  wait_order "$ORDER_ID" PAID
  call GET "$GW/v1/payments/$PAYMENT_ID"
}

bold "gateway at $GW"
curl -fsS "$GW/healthz" >/dev/null || { echo "the gateway is not answering at $GW: start everything with 'make run'" >&2; exit 1; }
curl -sS -o /dev/null "$SB/" || {
  echo "the sandbox is not answering at $SB: start everything with 'make run'" >&2; exit 1; }

# dev_token USER [ROLE]: a token from the dev issuer.
dev_token() {
  local body="{\"userId\":\"$1\"${2:+,\"roles\":[\"$2\"]}}"
  curl -fsS -X POST -H 'Content-Type: application/json' -d "$body" "$GW/dev/token" | field token
}

bold "catalog (the one route without a token)"
AUTH=()
call GET "$GW/v1/skus"

bold "tokens from the dev issuer: $USER_ID, and demo-staff with the merchant role"
USER_TOKEN=$(dev_token "$USER_ID") && MERCHANT_TOKEN=$(dev_token demo-staff merchant) && [ -n "$USER_TOKEN" ] || {
  echo "no token from $GW/dev/token: is the gateway in dev mode (GATEWAY_DEV_MODE=true, as make run sets)?" >&2; exit 1; }
echo "→ POST $GW/dev/token {\"userId\":\"$USER_ID\"} ← ${USER_TOKEN:0:24}…"
echo "without a token: $(curl -sS -o /dev/null -w 'HTTP %{http_code}' "$GW/v1/users/$USER_ID/orders") (401 expected)"
AUTH=(-H "Authorization: Bearer $USER_TOKEN")

buy "$COURSE" 1 ALIPAY_QR
COURSE_ORDER=$ORDER_ID COURSE_TRADE=$(printf '%s' "$BODY" | field outTradeNo) COURSE_FEN=$(printf '%s' "$BODY" | field amountFen)
buy "$GOOD" 2 WECHAT_NATIVE
GOOD_ORDER=$ORDER_ID GOOD_PAYMENT=$PAYMENT_ID

bold "refund ¥10.00 of the good, as merchant staff (idempotent on requestId)"
echo "the buyer may not refund: $(curl -sS -o /dev/null -w 'HTTP %{http_code}' "${AUTH[@]}" -X POST -d '{"amountFen":"1000","requestId":"x"}' "$GW/v1/payments/$GOOD_PAYMENT:refund") (403 expected)"
AUTH=(-H "Authorization: Bearer $MERCHANT_TOKEN")
call POST "$GW/v1/payments/$GOOD_PAYMENT:refund" '{"amountFen":"1000","reason":"demo: one mug arrived chipped"}' -H "Idempotency-Key: demo-refund-$GOOD_PAYMENT"
REFUND_ID=$(printf '%s' "$BODY" | field refundId)
echo "waiting for the provider to settle refund $REFUND_ID …"
refund_status=""
for _ in $(seq 1 60); do
  refund_status=$(curl -sS "${AUTH[@]}" "$GW/v1/refunds/$REFUND_ID" 2>/dev/null | field status)
  [ "$refund_status" = REFUND_PROCESSING ] || break
  sleep 0.5
done
echo "refund $REFUND_ID is ${refund_status:-unknown}"
AUTH=(-H "Authorization: Bearer $USER_TOKEN")

bold "buying the same course again is refused: $USER_ID already owns it"
echo "→ POST $GW/v1/orders (course $COURSE again)"
curl -sS -o /dev/null -w '← HTTP %{http_code} (409 expected)\n' -X POST -H 'Content-Type: application/json' "${AUTH[@]}" \
  -d "{\"userId\":\"$USER_ID\",\"requestId\":\"again-$RANDOM\",\"items\":[{\"skuId\":\"$COURSE\",\"quantity\":1}]}" "$GW/v1/orders"

sleep 1 # enrolment and notifications follow the payment over the broker
bold "final state of $USER_ID"
call GET "$GW/v1/users/$USER_ID/orders"
call GET "$GW/v1/users/$USER_ID/enrollments"
call GET "$GW/v1/users/$USER_ID/notifications"

bold "merchant staff refund the course in Alipay's console, outside paysuite"
call POST "$SB/sandbox/console/refund" "{\"outTradeNo\":\"$COURSE_TRADE\",\"amountFen\":$COURSE_FEN,\"reason\":\"demo: refunded by hand\"}"
BILL_DATE=$(date -u -d '+8 hours' +%F 2>/dev/null || TZ=Asia/Shanghai date +%F) # the provider's day
bold "reconcile today's ($BILL_DATE, Asia/Shanghai) Alipay bill, as merchant staff"
AUTH=(-H "Authorization: Bearer $MERCHANT_TOKEN")
call POST "$GW/v1/reconciliations" "{\"channel\":\"ALIPAY_QR\",\"billDate\":\"$BILL_DATE\"}"
case $BODY in
  *CONSOLE_REFUND*"$COURSE_TRADE"*|*"$COURSE_TRADE"*CONSOLE_REFUND*) echo "the reconciliation found the console refund of $COURSE_TRADE and recorded it" ;;
  *) echo "the reconciliation did not report the console refund of $COURSE_TRADE" >&2; exit 1 ;;
esac
AUTH=(-H "Authorization: Bearer $USER_TOKEN")
wait_order "$COURSE_ORDER" REFUNDED
sleep 1 # the revocation follows the refund over the broker
call GET "$GW/v1/users/$USER_ID/enrollments"

bold "done"
echo "course order $COURSE_ORDER: $(curl -sS "${AUTH[@]}" "$GW/v1/orders/$COURSE_ORDER" | field status)"
echo "goods order  $GOOD_ORDER: $(curl -sS "${AUTH[@]}" "$GW/v1/orders/$GOOD_ORDER" | field status)"
echo "open http://localhost:8080/ and set the user to $USER_ID to see the same purchases on the cashier page"
