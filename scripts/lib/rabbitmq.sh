# Sourced by scripts/ensure-deps.sh: RabbitMQ — is it installed, how it is started, and its
# management API (tests create a vhost per run through it). Uses the MQ_* and MGMT_* variables
# that ensure-deps.sh reads from AMQP_URL and AMQP_MANAGEMENT_URL.

rabbitmq_answers() { tcp_open "$MQ_HOST" "$MQ_PORT"; }

# rabbitmq_installed prints where the server is when it is installed.
rabbitmq_installed() {
  if [ "$OS" = darwin ]; then
    have brew && brew list --versions rabbitmq >/dev/null 2>&1 && echo "Homebrew's rabbitmq"
    return
  fi
  command -v rabbitmq-server
}

# rabbitmq_env sets RABBITMQ_ENV, `env` with every RABBITMQ_* variable of ours: sudo would drop
# them, and they are how a private node (name, ports, directories) is described.
rabbitmq_env() {
  local name
  RABBITMQ_ENV=(env)
  for name in $(compgen -e); do
    case $name in RABBITMQ_*) RABBITMQ_ENV+=("$name=${!name}") ;; esac
  done
}

# rabbitmq_own_node answers whether RABBITMQ_* variables describe a node other than the
# system's (systemd's unit would start the system's).
rabbitmq_own_node() { [ -n "${RABBITMQ_NODENAME:-}${RABBITMQ_CONFIG_FILE:-}" ]; }

# rabbitmq_start starts the installed broker: Homebrew's service on macOS, systemd's unit where
# systemd runs the machine, otherwise `rabbitmq-server -detached` as root (Debian's wrapper then
# runs it as the rabbitmq user). Without the privileges, the command is added to MANUAL instead.
rabbitmq_start() {
  local log
  rabbitmq_env
  if [ "$OS" = darwin ]; then
    say "RabbitMQ: starting it with brew services"
    brew services start rabbitmq || die "brew services start rabbitmq failed"
  elif use_systemd && ! rabbitmq_own_node; then
    if [ "$PRIV" = none ]; then
      MANUAL+=("sudo systemctl start rabbitmq-server")
      return
    fi
    say "RabbitMQ: starting it with systemctl (systemd runs this machine)"
    privileged systemctl start rabbitmq-server || die "systemctl start rabbitmq-server failed: see journalctl -u rabbitmq-server"
  else
    if [ "$PRIV" = none ]; then
      MANUAL+=("sudo $(quote "${RABBITMQ_ENV[@]}" rabbitmq-server -detached)")
      return
    fi
    say "RabbitMQ: starting it with rabbitmq-server -detached${RABBITMQ_NODENAME:+ (node $RABBITMQ_NODENAME)}"
    log=$(mktemp "${TMPDIR:-/tmp}/paysuite-rabbitmq.XXXXXX")
    if ! privileged "${RABBITMQ_ENV[@]}" rabbitmq-server -detached >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      die "rabbitmq-server -detached failed (its output above)"
    fi
    rm -f "$log"
  fi
  wait_until "RabbitMQ on $MQ_HOST:$MQ_PORT (its first boot takes a while)" "$WAIT_SECONDS" tcp_open "$MQ_HOST" "$MQ_PORT" ||
    die "RabbitMQ did not answer on $MQ_HOST:$MQ_PORT within ${WAIT_SECONDS}s (PAYSUITE_WAIT_SECONDS)" \
      "its logs: ${RABBITMQ_LOG_BASE:-/var/log/rabbitmq}"
  say "RabbitMQ $MQ_HOST:$MQ_PORT: up"
}

management_status() { probe http "$MGMT_URL/api/whoami" "$MQ_USER" "$MQ_PASS"; }
management_answers() { [ "$(management_status)" = 200 ]; }

# rabbitmq_management makes sure the management API answers for the configured user: tests
# create and delete a vhost per run through it, and a later step creates users through it.
# Enabling the plugin is tried when the broker is local; not managing to is an error.
rabbitmq_management() {
  local status log
  status=$(management_status)
  case $status in
    200)
      say "RabbitMQ: management API answers at $MGMT_URL for $MQ_USER"
      return
      ;;
    401 | 403)
      die "RabbitMQ's management API at $MGMT_URL refuses $MQ_USER (HTTP $status)" \
        "point AMQP_URL at a user tagged administrator; on the broker's machine, for example:" \
        "rabbitmqctl add_user paysuite '<password>' && rabbitmqctl set_user_tags paysuite administrator && rabbitmqctl set_permissions -p / paysuite '.*' '.*' '.*'"
      ;;
  esac
  if [ "$MQ_FROM" != compose ]; then
    is_local "$MQ_HOST" && have rabbitmq-plugins ||
      die "RabbitMQ's management API does not answer at $MGMT_URL" \
        "enable it on the broker: rabbitmq-plugins enable rabbitmq_management (or set AMQP_MANAGEMENT_URL)"
    rabbitmq_env
    [ "$PRIV" != none ] ||
      die "RabbitMQ's management API does not answer at $MGMT_URL; enabling it needs root:" \
        "sudo $(quote "${RABBITMQ_ENV[@]}" rabbitmq-plugins enable rabbitmq_management)"
    say "RabbitMQ: management API not answering at $MGMT_URL -> enabling the rabbitmq_management plugin"
    log=$(mktemp "${TMPDIR:-/tmp}/paysuite-plugins.XXXXXX")
    if ! with_timeout "$WAIT_SECONDS" privileged "${RABBITMQ_ENV[@]}" rabbitmq-plugins enable rabbitmq_management >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      die "rabbitmq-plugins enable rabbitmq_management failed (its output above)"
    fi
    rm -f "$log"
  fi
  wait_until "RabbitMQ's management API at $MGMT_URL" "$WAIT_SECONDS" management_answers ||
    die "RabbitMQ's management API did not answer at $MGMT_URL for $MQ_USER within ${WAIT_SECONDS}s (HTTP $(management_status))"
  say "RabbitMQ: management API answers at $MGMT_URL for $MQ_USER"
}
