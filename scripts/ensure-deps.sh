#!/usr/bin/env bash
# Makes sure MariaDB and RabbitMQ answer on their default ports: starts them when they are
# installed but down, and says exactly what to install when they are missing.
set -euo pipefail

MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
AMQP_HOST=${AMQP_HOST:-127.0.0.1}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() { # host port name seconds
  for _ in $(seq 1 "$4"); do port_open "$1" "$2" && return 0; sleep 1; done
  echo "ensure-deps: $3 did not come up on $1:$2" >&2
  return 1
}

if ! port_open "$MYSQL_HOST" 3306; then
  if [ -x /usr/sbin/mariadbd ]; then
    echo "ensure-deps: starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_port "$MYSQL_HOST" 3306 MariaDB 60
  else
    echo "ensure-deps: MariaDB is not running on $MYSQL_HOST:3306 and not installed." >&2
    echo "  install it: apt-get install mariadb-server   (or run: docker compose up -d mariadb rabbitmq)" >&2
    exit 1
  fi
fi

if ! port_open "$AMQP_HOST" 5672; then
  if command -v rabbitmq-server >/dev/null; then
    echo "ensure-deps: starting RabbitMQ"
    rabbitmq-server -detached
    wait_port "$AMQP_HOST" 5672 RabbitMQ 90
  else
    echo "ensure-deps: RabbitMQ is not running on $AMQP_HOST:5672 and not installed." >&2
    echo "  install it: apt-get install rabbitmq-server   (or run: docker compose up -d mariadb rabbitmq)" >&2
    exit 1
  fi
fi

# Tests create a vhost per run; the management API makes that fast (rabbitmqctl is the fallback).
if command -v rabbitmq-plugins >/dev/null && ! port_open "$AMQP_HOST" 15672; then
  rabbitmq-plugins enable --quiet rabbitmq_management >/dev/null 2>&1 || true
  wait_port "$AMQP_HOST" 15672 "RabbitMQ management" 30 || true
fi

# Integration tests run several packages at once, each starting real services with their own
# pools; MariaDB's default of 151 connections is too few for that on one machine.
if command -v mysql >/dev/null; then
  current=$(mysql -h "$MYSQL_HOST" -uroot -N -e "SELECT @@max_connections" 2>/dev/null || echo 0)
  if [ "${current:-0}" -lt 1000 ]; then
    mysql -h "$MYSQL_HOST" -uroot -e "SET GLOBAL max_connections = 1000" 2>/dev/null \
      || echo "ensure-deps: could not raise MariaDB max_connections (now $current); tests may see 'Too many connections'" >&2
  fi
fi
