#!/usr/bin/env bash
# stub.sh stands in for every system command the script may call. It records the call in
# $STUB_LOG, then acts on the machine's state files in $STUB_STATE:
#
#   open               "host port" lines: what answers (read by the probe)
#   uid, user, uname   what id and uname say
#   sudo-ok            sudo -n works
#   docker-engine      a Docker engine answers
#   tcp-users          "user:password" lines MariaDB lets in over TCP
#   socket-users       users MariaDB lets in through its socket (root only for root callers)
#   max-connections    MariaDB's max_connections
#   refuse-set-global  SET GLOBAL is denied
#   http-status        what the management API answers when its port is open (default 200)
#   plugins-fail       rabbitmq-plugins fails
#   rabbit-never-up    rabbitmq-server starts but never listens
#   apt-starts         the packages' scripts start the servers when installed
#   brew-<formula>     Homebrew has the formula
#   goversion          what go env GOVERSION says (default go1.26.8)
#
# Installing stubs also print "[stub] <command>", so tests see what was said before.
name=$(basename "$0")
S=$STUB_STATE
printf '%s\n' "$name $*" >>"$STUB_LOG"
is_open() { grep -qx "$1 $2" "$S/open" 2>/dev/null; }
open_port() { echo "127.0.0.1 $1" >>"$S/open"; }
flag() { [ -e "$S/$1" ]; }
add_commands() { for n in "$@"; do ln -sf _stub "$STUB_BIN/$n"; done; }
caller_is_root() { [ "${STUB_AS_ROOT:-}" = 1 ] || [ "$(cat "$S/uid")" = 0 ]; }

run_sql() { # user sql
  case $2 in
    "SELECT 1") echo 1 ;;
    "SELECT @@max_connections") cat "$S/max-connections" 2>/dev/null || echo 151 ;;
    "SET GLOBAL max_connections = "*)
      if flag refuse-set-global; then
        echo "ERROR 1227 (42000): Access denied; you need (at least one of) the SUPER privilege(s)" >&2
        exit 1
      fi
      echo "${2##* }" >"$S/max-connections" ;;
    *"CREATE USER"*)
      printf '%s\n' "$2" >>"$S/sql-log"
      pw=$(printf '%s' "$2" | sed -n "s/^[^']*'paysuite'@'127.0.0.1' IDENTIFIED BY '\([^']*\)'.*/\1/p")
      echo "paysuite:$pw" >>"$S/tcp-users" ;;
    *) echo "unexpected SQL: $2" >&2; exit 1 ;;
  esac
}

mysql_client() { # the arguments of mariadb/mysql
  local protocol=SOCKET user="" sql="" port=3306
  while [ $# -gt 0 ]; do
    case $1 in
      --protocol=*) protocol=${1#--protocol=} ;;
      -u) user=$2; shift ;;
      -e) sql=$2; shift ;;
      -P) port=$2; shift ;;
      -h | -S) shift ;;
    esac
    shift
  done
  [ -n "$sql" ] || sql=$(cat)
  if [ "$protocol" = TCP ]; then
    [ "$port" = in-container ] || is_open 127.0.0.1 "$port" || { echo "ERROR 2002 (HY000): Can't connect to server on '127.0.0.1'" >&2; exit 1; }
    grep -qx "$user:${MYSQL_PWD:-}" "$S/tcp-users" 2>/dev/null ||
      { echo "ERROR 1045 (28000): Access denied for user '$user'@'127.0.0.1'" >&2; exit 1; }
  else
    if ! grep -qx "$user" "$S/socket-users" 2>/dev/null || { [ "$user" = root ] && ! caller_is_root; }; then
      echo "ERROR 1698 (28000): Access denied for user '$user'@'localhost'" >&2
      exit 1
    fi
  fi
  run_sql "$user" "$sql"
}

case $name in
  _probe)
    case $1 in
      tcp) is_open "$2" "$3" ;;
      http)
        port=${2#http://*:}
        port=${port%%/*}
        if ! is_open 127.0.0.1 "$port"; then echo 000
        elif flag http-status; then cat "$S/http-status"
        else echo 200; fi ;;
    esac ;;
  id) case $1 in -u) cat "$S/uid" ;; -un) cat "$S/user" ;; esac ;;
  uname) cat "$S/uname" ;;
  true) ;;
  sudo)
    if [ "$1" = -n ]; then shift; fi
    flag sudo-ok || { echo "sudo: a password is required" >&2; exit 1; }
    STUB_AS_ROOT=1 exec "$@" ;;
  docker)
    flag docker-engine || { echo "Cannot connect to the Docker daemon" >&2; exit 1; }
    case "$1 ${2:-}" in
      "compose up")
        echo "ports $PAYSUITE_MARIADB_PORT $PAYSUITE_RABBITMQ_PORT $PAYSUITE_RABBITMQ_MANAGEMENT_PORT" >>"$STUB_LOG"
        echo "compose files ${COMPOSE_FILE:-docker-compose.yml}" >>"$STUB_LOG"
        for service in "${@:4}"; do
          touch "$S/compose-$service"
          case $service in
            mariadb) open_port "$PAYSUITE_MARIADB_PORT"; echo "root:paysuite" >>"$S/tcp-users" ;;
            rabbitmq) open_port "$PAYSUITE_RABBITMQ_PORT"; open_port "$PAYSUITE_RABBITMQ_MANAGEMENT_PORT" ;;
          esac
        done ;;
      "compose ps") [ -e "$S/compose-$4" ] && echo "container-$4" ;;
      "inspect "*) echo healthy ;;
      "compose exec")
        shift 2
        while [ "$1" != mariadb ]; do
          case $1 in -e) export "$2"; shift ;; esac
          shift
        done
        shift 2
        mysql_client --protocol=TCP -P in-container "$@" ;;
    esac ;;
  mariadb | mysql) mysql_client "$@" ;;
  mariadbd)
    if [ "${*: -1}" = --print-defaults ]; then
      echo "mariadbd would have been started with the following arguments:"
      echo "--socket=$S/run/mysqld.sock --user=mysql --datadir=$S/datadir --port=3306"
    else
      for arg in "$@"; do case $arg in --port=*) open_port "${arg#--port=}" ;; esac; done
    fi ;;
  mariadb-install-db)
    for arg in "$@"; do case $arg in --datadir=*) mkdir -p "${arg#--datadir=}/mysql" ;; esac; done ;;
  setsid) if [ "$1" = -f ]; then shift; fi; exec "$@" ;;
  rabbitmq-server) if ! flag rabbit-never-up; then open_port 5672; fi ;;
  rabbitmq-plugins)
    if flag plugins-fail; then echo "Error: {:nodedown, :rabbit@localhost}" >&2; exit 1; fi
    open_port 15672 ;;
  systemctl)
    case $2 in mariadb) open_port 3306 ;; rabbitmq-server) open_port 5672 ;; esac ;;
  apt-get)
    echo "[stub] apt-get $*"
    for arg in "$@"; do
      case $arg in
        mariadb-server) add_commands mariadbd mariadb-install-db; if flag apt-starts; then open_port 3306; fi ;;
        mariadb-client) add_commands mariadb mysql ;;
        rabbitmq-server) add_commands rabbitmq-server rabbitmq-plugins; if flag apt-starts; then open_port 5672; fi ;;
      esac
    done ;;
  go)
    version=$(cat "$S/goversion" 2>/dev/null || echo go1.26.8)
    case "$1 ${2:-}" in
      "env GOVERSION") echo "$version" ;;
      "env CC") echo gcc ;;
      "version ") echo "go version $version linux/amd64" ;;
    esac ;;
  brew)
    case $1 in
      list) [ -e "$S/brew-$3" ] && echo "$3 1.0" ;;
      install)
        echo "[stub] brew install ${*:2}"
        for formula in "${@:2}"; do
          touch "$S/brew-$formula"
          case $formula in mariadb) add_commands mariadb mysql ;; rabbitmq) add_commands rabbitmq-plugins ;; esac
        done ;;
      services)
        case $3 in mariadb) open_port 3306 ;; rabbitmq) open_port 5672; open_port 15672 ;; esac ;;
    esac ;;
esac
