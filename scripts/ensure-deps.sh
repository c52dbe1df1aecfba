#!/usr/bin/env bash
# ensure-deps.sh [command ...] — finds or provides MariaDB and RabbitMQ for `make run`,
# `make test` and `make bench`, printing one line per decision. For each, in this order:
#   1. answering on the configured address -> use it;
#   2. installed but stopped -> start it as the system's service scripts do;
#   3. a Docker engine answers -> `docker compose up -d` it from docker-compose.yml;
#   4. Debian/Ubuntu with root or passwordless sudo -> apt-get install (macOS: brew install),
#      then start it;
#   5. otherwise -> print the commands for this system and exit 1.
# Then it settles an admin identity over TCP (stock MariaDB lets root in only through the unix
# socket: a `paysuite` user is made for TCP) and the settings the suite needs (max_connections,
# RabbitMQ's management API); failing either is an error. The result goes to .paysuite/deps.env
# (`. .paysuite/deps.env` before running `go test` by hand); given a command, the script runs it
# with that environment.
#
# Environment: MYSQL_DSN, AMQP_URL (the contract's defaults), AMQP_MANAGEMENT_URL (default
# http://<AMQP host>:15672); PAYSUITE_INSTALL=ask|yes|no (ask: a terminal is asked, CI is not;
# no: nothing is installed and Docker is not used); PAYSUITE_WAIT_SECONDS (120: for a start or
# a container to come up); PAYSUITE_INSTALL_TIMEOUT (1800); PAYSUITE_SYSTEMD=auto|yes|no;
# PAYSUITE_MARIADB_CNF (a my.cnf for a private server: its datadir, socket, user);
# RABBITMQ_* (passed to rabbitmq-server and rabbitmq-plugins: a private node);
# PAYSUITE_STATE_DIR (~/.config/paysuite: the `paysuite` user's password);
# PAYSUITE_DEPS_ENV (.paysuite/deps.env).
# For tests: PAYSUITE_PROBE, a command answering `tcp HOST PORT` (status 0 when it connects) and
# `http URL USER PASSWORD` (prints the status code) in place of the built-in probes;
# PAYSUITE_SBIN_PATH, the directories added to PATH for the daemons (/usr/local/sbin:/usr/sbin:/sbin).
set -euo pipefail

SCRIPT_NAME=ensure-deps
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib/sys.sh"
. "$ROOT/scripts/lib/mariadb.sh"
. "$ROOT/scripts/lib/rabbitmq.sh"
cd "$ROOT"

SBIN_PATH=${PAYSUITE_SBIN_PATH-/usr/local/sbin:/usr/sbin:/sbin}
[ -z "$SBIN_PATH" ] || PATH=$PATH:$SBIN_PATH
WAIT_SECONDS=${PAYSUITE_WAIT_SECONDS:-120}
STATE_DIR=${PAYSUITE_STATE_DIR:-${XDG_CONFIG_HOME:-$HOME/.config}/paysuite}
ENV_FILE=${PAYSUITE_DEPS_ENV:-$ROOT/.paysuite/deps.env}
MANUAL=()
COMPOSE=()

# probe answers `tcp HOST PORT` and `http URL USER PASSWORD`, or lets PAYSUITE_PROBE answer.
probe() {
  if [ -n "${PAYSUITE_PROBE:-}" ]; then
    "$PAYSUITE_PROBE" "$@"
    return
  fi
  case $1 in
    tcp) (exec 3<>"/dev/tcp/$2/$3") 2>/dev/null ;;
    http) http_status "$2" "$3" "$4" ;;
  esac
}

tcp_open() { probe tcp "$1" "$2"; }

# http_status prints the status code of a GET with basic auth, 000 when nothing answers. Plain
# bash: a fresh machine may have no curl.
http_status() {
  local rest=${1#http://} hostport path host port auth line
  case $rest in
    */*) hostport=${rest%%/*} path=/${rest#*/} ;;
    *) hostport=$rest path=/ ;;
  esac
  host=${hostport%:*} port=${hostport##*:}
  [ "$host" != "$hostport" ] || port=80
  auth=$(printf '%s:%s' "$2" "$3" | base64 | tr -d '\n')
  line=$( (
    exec 3<>"/dev/tcp/$host/$port" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\nAuthorization: Basic %s\r\n\r\n' "$path" "$hostport" "$auth" >&3
    IFS= read -r -t 10 line <&3 && printf '%s' "$line"
  ) 2>/dev/null) || true
  set -- $line
  echo "${2:-000}"
}

is_local() { case $1 in 127.* | localhost | ::1) return 0 ;; *) return 1 ;; esac; }

# use_systemd answers whether systemd runs this machine (PAYSUITE_SYSTEMD overrides).
use_systemd() {
  case ${PAYSUITE_SYSTEMD:-auto} in
    yes) return 0 ;;
    no) return 1 ;;
    *) [ -d /run/systemd/system ] && have systemctl ;;
  esac
}

# --- configuration ---------------------------------------------------------------------------

CONFIGURED_DSN=${MYSQL_DSN:-'root@tcp(127.0.0.1:3306)/paysuite?parseTime=true'}
CONFIGURED_AMQP=${AMQP_URL:-'amqp://guest:guest@127.0.0.1:5672/'}

dsn_re='^(.*)@tcp\(([^)]*)\)(/.*)$'
[[ $CONFIGURED_DSN =~ $dsn_re ]] ||
  die "MYSQL_DSN=$CONFIGURED_DSN: expected user[:password]@tcp(host:port)/database?parameters"
DB_CREDS=${BASH_REMATCH[1]} DB_ADDR=${BASH_REMATCH[2]} DB_REST=${BASH_REMATCH[3]}
DB_USER=${DB_CREDS%%:*} DB_PASS=""
[ "$DB_USER" = "$DB_CREDS" ] || DB_PASS=${DB_CREDS#*:}
DB_HOST=${DB_ADDR%:*} DB_PORT=${DB_ADDR##*:}
[ "$DB_HOST" != "$DB_ADDR" ] || DB_PORT=3306
DB_HOST=${DB_HOST#[}
DB_HOST=${DB_HOST%]}
DB_CNF=()
[ -z "${PAYSUITE_MARIADB_CNF:-}" ] || DB_CNF=(--defaults-file="$PAYSUITE_MARIADB_CNF")
DB_FROM=local

amqp_re='^amqps?://(([^@/]*)@)?([^/:]+|\[[^]/]*\])(:([0-9]+))?(/.*)?$'
[[ $CONFIGURED_AMQP =~ $amqp_re ]] || die "AMQP_URL=$CONFIGURED_AMQP: expected amqp://user:password@host:port/vhost"
MQ_CREDS=${BASH_REMATCH[2]:-guest:guest} MQ_HOST=${BASH_REMATCH[3]} MQ_PORT=${BASH_REMATCH[5]:-5672}
MQ_USER=${MQ_CREDS%%:*} MQ_PASS=""
[ "$MQ_USER" = "$MQ_CREDS" ] || MQ_PASS=${MQ_CREDS#*:}
MQ_HOST=${MQ_HOST#[}
MQ_HOST=${MQ_HOST%]}
MQ_FROM=local

MGMT_URL=${AMQP_MANAGEMENT_URL:-http://$MQ_HOST:15672}
mgmt_re='^https?://([^/:]+)(:([0-9]+))?'
[[ $MGMT_URL =~ $mgmt_re ]] || die "AMQP_MANAGEMENT_URL=$MGMT_URL: expected http://host:port"
MGMT_PORT=${BASH_REMATCH[3]:-80}

# --- Docker ----------------------------------------------------------------------------------

docker_answers() { have docker && with_timeout 20 docker info >/dev/null 2>&1; }

# compose_found sets COMPOSE to the compose command at hand.
compose_found() {
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  elif have docker-compose; then
    COMPOSE=(docker-compose)
  else
    return 1
  fi
}

# compose_runs answers whether docker compose runs the given service of docker-compose.yml.
compose_runs() {
  local id
  [ ${#COMPOSE[@]} -gt 0 ] || { docker_answers && compose_found; } || return 1
  id=$("${COMPOSE[@]}" ps -q "$1" 2>/dev/null) && [ -n "$id" ]
}

compose_healthy() {
  local id
  id=$("${COMPOSE[@]}" ps -q "$1" 2>/dev/null) && [ -n "$id" ] &&
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)" = healthy ]
}

# compose_up starts the given services of docker-compose.yml, published on the configured
# loopback ports, waits until they are healthy, and points the suite at compose's credentials.
compose_up() {
  local service
  say "Docker answers -> $(quote "${COMPOSE[@]}" up -d "$@") (docker-compose.yml; the images are downloaded the first time)"
  # The full suite publishes neither server; scripts/compose-deps.yml publishes both on 127.0.0.1.
  with_timeout "$INSTALL_TIMEOUT" env COMPOSE_FILE="docker-compose.yml:scripts/compose-deps.yml" \
    PAYSUITE_MARIADB_PORT="$DB_PORT" PAYSUITE_RABBITMQ_PORT="$MQ_PORT" \
    PAYSUITE_RABBITMQ_MANAGEMENT_PORT="$MGMT_PORT" "${COMPOSE[@]}" up -d "$@" ||
    die "$(quote "${COMPOSE[@]}" up -d "$@") failed or took longer than ${INSTALL_TIMEOUT}s"
  for service in "$@"; do
    wait_until "$service to be healthy in Docker" "$WAIT_SECONDS" compose_healthy "$service" ||
      die "$service did not become healthy in Docker within ${WAIT_SECONDS}s: $(quote "${COMPOSE[@]}" logs "$service")"
    say "$service: healthy in Docker"
    case $service in
      mariadb)
        DB_FROM=compose DB_USER=root DB_PASS=$COMPOSE_MARIADB_PASSWORD
        CONFIGURED_DSN="root:$COMPOSE_MARIADB_PASSWORD@tcp($DB_ADDR)$DB_REST"
        ;;
      rabbitmq) MQ_FROM=compose ;;
    esac
  done
}

# --- steps 4 and 5: packages, or the commands for the user -----------------------------------

# packages_for prints the package names of the given needs (mariadb, rabbitmq, client) for PKG.
packages_for() {
  local need out=""
  for need in "$@"; do
    case $PKG/$need in
      apt/mariadb) out="$out mariadb-server mariadb-client" ;;
      apt/client) out="$out mariadb-client" ;;
      apt/rabbitmq | dnf/rabbitmq | zypper/rabbitmq | apk/rabbitmq) out="$out rabbitmq-server" ;;
      dnf/mariadb) out="$out mariadb-server mariadb" ;;
      dnf/client | zypper/client) out="$out mariadb" ;;
      zypper/mariadb) out="$out mariadb mariadb-client" ;;
      apk/mariadb) out="$out mariadb mariadb-client" ;;
      apk/client) out="$out mariadb-client" ;;
      pacman/mariadb | pacman/client | brew/mariadb | brew/client) out="$out mariadb" ;;
      */mariadb | */client) out="$out MariaDB" ;;
      pacman/rabbitmq | brew/rabbitmq | */rabbitmq) out="$out rabbitmq" ;;
    esac
  done
  printf '%s\n' "${out# }"
}

# manual_packages prints the command that installs the given needs on this system.
manual_packages() {
  local p
  p=$(packages_for "$@")
  case $PKG in
    apt) echo "$(root_prefix)apt-get install -y $p" ;;
    dnf) echo "$(root_prefix)dnf install -y $p" ;;
    zypper) echo "$(root_prefix)zypper install -y $p" ;;
    pacman) echo "$(root_prefix)pacman -S --needed $p" ;;
    apk) echo "$(root_prefix)apk add $p" ;;
    brew) echo "brew install $p" ;;
    *) echo "install $p (MariaDB 10.6 or later, RabbitMQ 3.10 or later) with this system's packages" ;;
  esac
}

# manual_install adds to MANUAL what installs and starts the given needs here.
manual_install() {
  local services="" need
  if [ "$OS" = darwin ] && [ -z "$PKG" ]; then
    MANUAL+=('/bin/bash -c "$(curl -fsSL https://raw.githubusercontent.com/Homebrew/install/HEAD/install.sh)"   # Homebrew')
    PKG=brew
  fi
  MANUAL+=("$(manual_packages "$@")")
  for need in "$@"; do
    case $PKG/$need in
      brew/*) MANUAL+=("brew services start $need") ;;
      pacman/mariadb) MANUAL+=("sudo mariadb-install-db --user=mysql --basedir=/usr --datadir=/var/lib/mysql") services="$services mariadb" ;;
      apk/mariadb) MANUAL+=("sudo /etc/init.d/mariadb setup") services="$services mariadb" ;;
      */mariadb) services="$services mariadb" ;;
      pacman/rabbitmq) services="$services rabbitmq" ;;
      */rabbitmq) services="$services rabbitmq-server" ;;
    esac
  done
  case $PKG in
    dnf | zypper | pacman) MANUAL+=("$(root_prefix)systemctl enable --now$services") ;;
    apk) for need in $services; do MANUAL+=("$(root_prefix)rc-service $need start"); done ;;
  esac
  MANUAL+=("or, with Docker running: docker compose up -d $*")
}

# install_packages installs the missing servers with apt (Debian/Ubuntu) or Homebrew (macOS).
# Returns 1 when that is not possible or not wanted (MANUAL then says what to run).
install_packages() {
  local manager
  case $OS/$PKG/$PRIV in
    linux/apt/root | linux/apt/sudo) manager=apt ;;
    darwin/brew/*) manager=brew ;;
    linux/apt/none)
      say "Debian/Ubuntu, but neither root nor passwordless sudo -> cannot install $(packages_for "$@")"
      return 1
      ;;
    *)
      say "no Docker, and no way to install $* here by myself (${DISTRO:-$OS}${PKG:+, $PKG})"
      return 1
      ;;
  esac
  if ! may_install "$(packages_for "$@") with $manager"; then
    say "not installing $(packages_for "$@") (PAYSUITE_INSTALL=${PAYSUITE_INSTALL:-ask})"
    return 1
  fi
  if [ "$manager" = apt ]; then
    apt_install $(packages_for "$@")
  else
    brew_install $(packages_for "$@")
  fi
}

# provide gets the missing servers (mariadb, rabbitmq) by Docker or by packages. Those
# installed from packages are then started like step 2.
provide() {
  local need
  if [ "${PAYSUITE_INSTALL:-ask}" = no ]; then
    say "PAYSUITE_INSTALL=no -> installing nothing and not using Docker"
  elif docker_answers && compose_found; then
    compose_up "$@"
    return
  elif install_packages "$@"; then
    for need in "$@"; do
      "${need}_installed" >/dev/null || die "$need was installed, but its server is not on PATH"
      if "${need}_answers"; then say "$need: started by its package"; else "${need}_start"; fi
    done
    return
  fi
  manual_install "$@"
}

# --- the steps -------------------------------------------------------------------------------

# decide NEED LABEL HOST PORT SETTING says what is at a server's address, and files the server
# under stopped (installed: start it) or missing (provide it).
decide() {
  local need=$1 label=$2 host=$3 port=$4 where
  if "${need}_answers"; then
    say "$label $host:$port: answering -> using it"
  elif ! is_local "$host"; then
    die "$label $host:$port does not answer, and it is not on this machine: start it there, or point $5 at one that runs"
  elif where=$("${need}_installed"); then
    say "$label $host:$port: not answering; installed ($where) -> starting it"
    stopped+=("$need")
  else
    say "$label $host:$port: not answering, not installed"
    missing+=("$need")
  fi
}

detect_system
detect_privilege
missing=()
stopped=()
decide mariadb MariaDB "$DB_HOST" "$DB_PORT" MYSQL_DSN
decide rabbitmq RabbitMQ "$MQ_HOST" "$MQ_PORT" AMQP_URL
for need in ${stopped[@]+"${stopped[@]}"}; do
  "${need}_start"
done
[ ${#missing[@]} -eq 0 ] || provide "${missing[@]}"
if [ ${#MANUAL[@]} -gt 0 ]; then
  die "cannot get MariaDB and RabbitMQ running here by myself; run:" "${MANUAL[@]}" \
    "then make run (or make test) again: it starts what is installed"
fi

mariadb_admin
mariadb_settings
rabbitmq_management

# --- the result ------------------------------------------------------------------------------

AMQP_ADMIN_URL=$CONFIGURED_AMQP
mkdir -p "$(dirname "$ENV_FILE")"
if [ "$ENV_FILE" = "$ROOT/.paysuite/deps.env" ] && [ ! -e "$ROOT/.paysuite/.gitignore" ]; then
  printf '# made by make run / make test: keys, passwords, local state\n*\n' >"$ROOT/.paysuite/.gitignore"
fi
(
  umask 077
  {
    echo "# Written by scripts/ensure-deps.sh: where the suite finds MariaDB and RabbitMQ, and the"
    echo "# admin identities that may create databases, users and vhosts. '. $ENV_FILE' to use it."
    for name in PAYSUITE_ADMIN_MYSQL_DSN:DB_ADMIN_DSN MYSQL_DSN:DB_ADMIN_DSN TEST_MYSQL_DSN:DB_ADMIN_DSN \
      PAYSUITE_ADMIN_AMQP_URL:AMQP_ADMIN_URL AMQP_URL:AMQP_ADMIN_URL TEST_AMQP_URL:AMQP_ADMIN_URL \
      AMQP_MANAGEMENT_URL:MGMT_URL; do
      value=${name#*:}
      echo "export ${name%%:*}=$(quote "${!value}")"
    done
  } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
)
say "ready: MariaDB as $DB_ADMIN_USER at $DB_ADDR, RabbitMQ as $MQ_USER at $MQ_HOST:$MQ_PORT (environment: ${ENV_FILE#"$ROOT"/})"

if [ $# -gt 0 ]; then
  export PAYSUITE_ADMIN_MYSQL_DSN=$DB_ADMIN_DSN MYSQL_DSN=$DB_ADMIN_DSN TEST_MYSQL_DSN=$DB_ADMIN_DSN
  export PAYSUITE_ADMIN_AMQP_URL=$AMQP_ADMIN_URL AMQP_URL=$AMQP_ADMIN_URL TEST_AMQP_URL=$AMQP_ADMIN_URL
  export AMQP_MANAGEMENT_URL=$MGMT_URL
  exec "$@"
fi
