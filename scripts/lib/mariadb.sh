# Sourced by scripts/ensure-deps.sh: MariaDB — is it installed, how it is started, which
# identity administers it, and the settings the suite needs. Uses the DB_* variables that
# ensure-deps.sh reads from MYSQL_DSN.

MARIADB_MAX_CONNECTIONS=${PAYSUITE_MYSQL_MAX_CONNECTIONS:-1000}
# docker-compose.yml gives the MariaDB container this root password (MARIADB_ROOT_PASSWORD).
COMPOSE_MARIADB_PASSWORD=paysuite
# Stock MariaDB lets root in only through the unix socket; this user is made for TCP instead.
MARIADB_ADMIN=paysuite

mariadb_answers() { tcp_open "$DB_HOST" "$DB_PORT"; }

# mariadb_installed prints where the server is when it is installed.
mariadb_installed() {
  if [ "$OS" = darwin ]; then
    have brew && brew list --versions mariadb >/dev/null 2>&1 && echo "Homebrew's mariadb"
    return
  fi
  command -v mariadbd
}

# mariadb_read_config sets DB_DATADIR, DB_SOCKET, DB_OSUSER, DB_CONF_PORT and DB_LOGERR from
# the server's own configuration (what `mariadbd --print-defaults` reports, as Debian's service
# script reads it), honouring PAYSUITE_MARIADB_CNF.
mariadb_read_config() {
  local arg name value args
  DB_DATADIR=/var/lib/mysql DB_SOCKET=/run/mysqld/mysqld.sock DB_OSUSER=mysql DB_CONF_PORT=3306 DB_LOGERR=""
  args=$(mariadbd ${DB_CNF[@]+"${DB_CNF[@]}"} --print-defaults 2>/dev/null | tail -n 1) || true
  for arg in $args; do
    name=${arg%%=*}
    value=${arg#*=}
    case ${name//_/-} in
      --datadir) DB_DATADIR=$value ;;
      --socket) DB_SOCKET=$value ;;
      --user) DB_OSUSER=$value ;;
      --port) DB_CONF_PORT=$value ;;
      --log-error) DB_LOGERR=$value ;;
    esac
  done
}

# mariadb_start starts the installed server: Homebrew's service on macOS, systemd's unit where
# systemd runs the machine and the server's own configuration is wanted, otherwise the steps of
# Debian's service script done here. Without the privileges to do it, the commands are added to
# MANUAL instead.
mariadb_start() {
  if [ "$OS" = darwin ]; then
    say "MariaDB: starting it with brew services"
    brew services start mariadb || die "brew services start mariadb failed"
  else
    mariadb_read_config
    if use_systemd && [ ${#DB_CNF[@]} -eq 0 ] && [ "$DB_PORT" = "$DB_CONF_PORT" ]; then
      if [ "$PRIV" = none ]; then
        MANUAL+=("sudo systemctl start mariadb")
        return
      fi
      say "MariaDB: starting it with systemctl (systemd runs this machine)"
      privileged systemctl start mariadb || die "systemctl start mariadb failed: see journalctl -u mariadb"
    else
      mariadb_start_directly || return 0
    fi
  fi
  wait_until "MariaDB on $DB_HOST:$DB_PORT" "$WAIT_SECONDS" tcp_open "$DB_HOST" "$DB_PORT" ||
    die "MariaDB did not answer on $DB_HOST:$DB_PORT within ${WAIT_SECONDS}s (PAYSUITE_WAIT_SECONDS)" \
      "its log: ${DB_LOGERR:-journalctl -u mariadb}"
  say "MariaDB $DB_HOST:$DB_PORT: up"
}

# mariadb_start_directly does what Debian's service script does without systemd: the run
# directory for the socket and pid file owned by the server's user, the data directory
# initialised when empty, then the server in the background as that user. Returns 1 when it
# only listed the commands (no root).
mariadb_start_directly() {
  local rundir initialised=no log
  rundir=$(dirname "$DB_SOCKET")
  [ -n "$DB_LOGERR" ] || DB_LOGERR=$DB_DATADIR/mariadbd.err
  local initdb=(mariadb-install-db ${DB_CNF[@]+"${DB_CNF[@]}"} --user="$DB_OSUSER" --datadir="$DB_DATADIR")
  local server=(setsid -f mariadbd ${DB_CNF[@]+"${DB_CNF[@]}"} --user="$DB_OSUSER" --port="$DB_PORT" --log-error="$DB_LOGERR")
  if [ "$PRIV" = none ]; then
    MANUAL+=("sudo mkdir -p $(quote "$rundir") && sudo chown $DB_OSUSER: $(quote "$rundir")")
    test -d "$DB_DATADIR/mysql" 2>/dev/null ||
      MANUAL+=("sudo $(quote "${initdb[@]}")   # only when $DB_DATADIR is empty")
    MANUAL+=("sudo $(quote "${server[@]}")")
    return 1
  fi
  say "MariaDB: run directory $rundir for user $DB_OSUSER"
  privileged mkdir -p "$rundir" && privileged chown "$DB_OSUSER:" "$rundir" ||
    die "could not make $rundir for MariaDB's socket"
  privileged test -d "$DB_DATADIR/mysql" && initialised=yes
  if [ "$initialised" = no ]; then
    say "MariaDB: data directory $DB_DATADIR is empty -> initialising it (mariadb-install-db --user=$DB_OSUSER)"
    log=$(mktemp "${TMPDIR:-/tmp}/paysuite-installdb.XXXXXX")
    if ! { privileged mkdir -p "$DB_DATADIR" && privileged chown "$DB_OSUSER:" "$DB_DATADIR" &&
      with_timeout "$WAIT_SECONDS" privileged "${initdb[@]}" >"$log" 2>&1; }; then
      tail -n 20 "$log" >&2
      rm -f "$log"
      die "mariadb-install-db failed for $DB_DATADIR (its last lines above)"
    fi
    rm -f "$log"
  fi
  say "MariaDB: starting mariadbd as $DB_OSUSER on port $DB_PORT (log: $DB_LOGERR)"
  privileged "${server[@]}" </dev/null >/dev/null 2>&1 || die "could not start mariadbd: $(quote "${server[@]}")"
}

# sql_as USER PASSWORD SQL runs SQL over TCP as USER and prints the rows: with the local client
# (the password in its environment, not on a command line `ps` shows), or inside docker
# compose's container when the host has no client.
sql_as() {
  if [ -n "$DB_CLIENT" ]; then
    (
      export MYSQL_PWD=$2
      with_timeout 30 "$DB_CLIENT" --protocol=TCP -h "$DB_HOST" -P "$DB_PORT" -u "$1" -N -B -e "$3"
    )
  else
    with_timeout 30 "${COMPOSE[@]}" exec -T -e MYSQL_PWD="$2" mariadb mariadb -u "$1" -N -B -e "$3"
  fi
}

sql_admin() { sql_as "$DB_ADMIN_USER" "$DB_ADMIN_PASS" "$1"; }

# sql_socket WHO SQL runs SQL through the server's unix socket as root (WHO=root, with our
# privileges) or as the OS user's own account (WHO=self: Homebrew creates one). The SQL goes in
# on stdin: it carries a password.
sql_socket() {
  local sock=()
  [ "$OS" = darwin ] || sock=(-S "$DB_SOCKET")
  case $1 in
    root) with_timeout 30 privileged "$DB_CLIENT" --protocol=SOCKET ${sock[@]+"${sock[@]}"} -u root -N -B <<<"$2" ;;
    self) with_timeout 30 "$DB_CLIENT" --protocol=SOCKET ${sock[@]+"${sock[@]}"} -u "$(id -un)" -N -B <<<"$2" ;;
  esac
}

# mariadb_admin finds an identity that may create databases and users over TCP and sets
# DB_ADMIN_USER, DB_ADMIN_PASS and DB_ADMIN_DSN: the configured one; docker compose's root; the
# `paysuite` user made earlier; or a `paysuite` user made now through the unix socket.
mariadb_admin() {
  local err pwfile saved
  DB_CLIENT=""
  if have mariadb; then DB_CLIENT=mariadb; elif have mysql; then DB_CLIENT=mysql; fi
  if [ -z "$DB_CLIENT" ] && [ "$DB_FROM" != compose ] && ! compose_runs mariadb; then
    die "no MariaDB client (mariadb or mysql) here to check the server's users and settings" \
      "install it: $(manual_packages client)"
  fi
  if err=$(sql_as "$DB_USER" "$DB_PASS" "SELECT 1" 2>&1); then
    mariadb_use_admin "$DB_USER" "$DB_PASS" "$CONFIGURED_DSN"
    say "MariaDB: $DB_USER over TCP works -> the suite uses it"
    return
  fi
  say "MariaDB: $DB_USER over TCP refused ($(printf '%s' "$err" | tail -n 1))"
  if [ "$DB_FROM" != compose ] && compose_runs mariadb &&
    sql_as root "$COMPOSE_MARIADB_PASSWORD" "SELECT 1" >/dev/null 2>&1; then
    DB_FROM=compose
    mariadb_use_admin root "$COMPOSE_MARIADB_PASSWORD"
    say "MariaDB: docker compose's root works -> the suite uses it"
    return
  fi
  pwfile=$STATE_DIR/mariadb-admin-$DB_HOST-$DB_PORT
  if [ -s "$pwfile" ] && saved=$(cat "$pwfile") &&
    sql_as "$MARIADB_ADMIN" "$saved" "SELECT 1" >/dev/null 2>&1; then
    mariadb_use_admin "$MARIADB_ADMIN" "$saved"
    say "MariaDB: the '$MARIADB_ADMIN' admin user made earlier works -> the suite uses it ($pwfile)"
    return
  fi
  is_local "$DB_HOST" || die "MariaDB at $DB_ADDR refuses $DB_USER: put a user that may create databases in MYSQL_DSN"
  mariadb_create_admin "$pwfile"
}

# mariadb_use_admin USER PASSWORD [DSN] sets the admin identity (the DSN is built from the
# configured one when not given).
mariadb_use_admin() {
  DB_ADMIN_USER=$1 DB_ADMIN_PASS=$2
  DB_ADMIN_DSN=${3:-$1${2:+:$2}@tcp($DB_ADDR)$DB_REST}
}

# mariadb_create_admin makes (or resets) the `paysuite` user with every privilege and a random
# password, through the unix socket where root is let in, and keeps the password in $1.
mariadb_create_admin() {
  local pwfile=$1 pw sql host who made=""
  [ "$OS" = darwin ] || mariadb_read_config
  pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  sql=""
  for host in 127.0.0.1 localhost ::1; do
    sql="$sql CREATE USER IF NOT EXISTS '$MARIADB_ADMIN'@'$host' IDENTIFIED BY '$pw';"
    sql="$sql ALTER USER '$MARIADB_ADMIN'@'$host' IDENTIFIED BY '$pw';"
    sql="$sql GRANT ALL PRIVILEGES ON *.* TO '$MARIADB_ADMIN'@'$host' WITH GRANT OPTION;"
  done
  for who in root self; do
    [ "$who" = self ] || [ "$PRIV" != none ] || continue
    if sql_socket "$who" "$sql" >/dev/null 2>&1; then
      made=$who
      break
    fi
  done
  if [ -z "$made" ]; then
    die "MariaDB lets root in only through its unix socket, and this script cannot use the socket as root (not root, no passwordless sudo). Make the admin user once:" \
      "sudo ${DB_CLIENT:-mariadb} -e \"CREATE USER '$MARIADB_ADMIN'@'127.0.0.1' IDENTIFIED BY '<password>'; GRANT ALL PRIVILEGES ON *.* TO '$MARIADB_ADMIN'@'127.0.0.1' WITH GRANT OPTION\"" \
      "then: MYSQL_DSN='$MARIADB_ADMIN:<password>@tcp($DB_ADDR)$DB_REST' make run"
  fi
  mkdir -p "$STATE_DIR"
  (umask 077 && printf '%s\n' "$pw" >"$pwfile")
  sql_as "$MARIADB_ADMIN" "$pw" "SELECT 1" >/dev/null 2>&1 ||
    die "MariaDB: made '$MARIADB_ADMIN' through the socket, but it cannot log in over TCP at $DB_ADDR"
  mariadb_use_admin "$MARIADB_ADMIN" "$pw"
  say "MariaDB: made admin user '$MARIADB_ADMIN' for TCP through the unix socket (as $who) -> the suite uses it (password in $pwfile)"
}

# mariadb_settings raises max_connections: integration tests run several packages at once, each
# starting real services with their own pools, and the default of 151 is too few. Not managing
# to is an error.
mariadb_settings() {
  local now err
  now=$(sql_admin "SELECT @@max_connections" 2>&1) ||
    die "MariaDB: could not read max_connections: $now"
  if [ "$now" -ge "$MARIADB_MAX_CONNECTIONS" ]; then
    say "MariaDB: max_connections $now (at least $MARIADB_MAX_CONNECTIONS)"
    return
  fi
  err=$(sql_admin "SET GLOBAL max_connections = $MARIADB_MAX_CONNECTIONS" 2>&1) ||
    die "MariaDB: could not raise max_connections from $now to $MARIADB_MAX_CONNECTIONS: $err"
  say "MariaDB: max_connections $now -> $MARIADB_MAX_CONNECTIONS"
}
