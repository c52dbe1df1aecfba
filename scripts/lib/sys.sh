# Sourced by scripts/ensure-deps.sh and .ci/run: messages, the system and the privileges we
# have, time-outs, asking before installing, and package installs. Written for bash 3.2 too
# (macOS's /bin/bash): no associative arrays, no mapfile, empty arrays expanded with ${a[@]+...}.
# The caller sets SCRIPT_NAME (the prefix of every line).

say() { printf '%s: %s\n' "$SCRIPT_NAME" "$*"; }

# die prints its first argument as the error and every further one as an indented line, then
# exits 1.
die() {
  printf '%s: %s\n' "$SCRIPT_NAME" "$1" >&2
  shift
  local line
  for line in "$@"; do printf '    %s\n' "$line" >&2; done
  exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

# quote prints its arguments as one shell command line a user can paste.
quote() {
  local out="" arg
  for arg in "$@"; do
    case $arg in
      *[!A-Za-z0-9_./:=@%+,-]*|'') out="$out '${arg//\'/\'\\\'\'}'" ;;
      *) out="$out $arg" ;;
    esac
  done
  printf '%s\n' "${out# }"
}

# detect_system sets OS (linux, darwin or other), PKG (apt, brew, dnf, zypper, pacman, apk or
# empty: what would install packages here) and DISTRO (the os-release ID, e.g. debian, ubuntu).
detect_system() {
  case $(uname -s) in
    Linux) OS=linux ;;
    Darwin) OS=darwin ;;
    *) OS=other ;;
  esac
  DISTRO=""
  local release=${PAYSUITE_OS_RELEASE:-/etc/os-release}
  if [ "$OS" = linux ] && [ -r "$release" ]; then
    DISTRO=$(sed -n 's/^ID="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$release")
  fi
  PKG=""
  local candidate
  if [ "$OS" = darwin ]; then
    if have brew; then PKG=brew; fi
  else
    for candidate in apt-get dnf zypper pacman apk; do
      if have "$candidate"; then PKG=${candidate%-get}; break; fi
    done
  fi
}

# detect_privilege sets PRIV (root, sudo, user or none) and SUDO, the prefix that runs a command
# with the privileges that manage the system's services: empty for root; `sudo -n`, which never
# prompts, when sudo needs no password. Homebrew refuses root, so on macOS that is the user.
detect_privilege() {
  SUDO=()
  if [ "$OS" = darwin ]; then
    PRIV=user
  elif [ "$(id -u)" = 0 ]; then
    PRIV=root
  elif have sudo && sudo -n true >/dev/null 2>&1; then
    PRIV=sudo
    SUDO=(sudo -n)
  else
    PRIV=none
  fi
}

# privileged runs a command with those privileges.
privileged() { ${SUDO[@]+"${SUDO[@]}"} "$@"; }

# root_prefix is what a user types in front of a command that needs root.
root_prefix() { [ "$PRIV" = root ] || [ "$OS" = darwin ] || printf 'sudo '; }

# with_timeout runs a command and stops it after the given seconds (status 124). Ctrl-C stops
# it too: a background command would otherwise ignore SIGINT and outlive this script. Its stdin
# stays ours (bash would give a background command /dev/null).
with_timeout() {
  local secs=$1 flag pid dog rc=0
  shift
  flag=$(mktemp "${TMPDIR:-/tmp}/paysuite-timeout.XXXXXX")
  rm -f "$flag"
  "$@" <&0 &
  pid=$!
  (
    sleep "$secs" &
    sleeper=$!
    trap 'kill $sleeper 2>/dev/null; exit 0' TERM
    wait $sleeper
    : >"$flag"
    kill -TERM "$pid" 2>/dev/null
  ) &
  dog=$!
  trap 'kill -TERM $pid $dog 2>/dev/null; exit 130' INT TERM
  wait "$pid" || rc=$?
  trap - INT TERM
  kill -TERM "$dog" 2>/dev/null || true
  wait "$dog" 2>/dev/null || true
  if [ -e "$flag" ]; then
    rm -f "$flag"
    return 124
  fi
  return "$rc"
}

# wait_until polls a check once a second until it succeeds, printing progress every 10 s;
# returns 1 after the given seconds.
wait_until() {
  local what=$1 limit=$2 start=$SECONDS next=10 elapsed
  shift 2
  until "$@"; do
    elapsed=$((SECONDS - start))
    [ "$elapsed" -lt "$limit" ] || return 1
    if [ "$elapsed" -ge "$next" ]; then
      say "  still waiting for $what: ${elapsed}s (gives up at ${limit}s)"
      next=$((next + 10))
    fi
    sleep 1
  done
}

# may_install answers whether installing what $1 names is allowed: PAYSUITE_INSTALL=yes or no
# decide; otherwise a terminal is asked, and without one (CI) the answer is yes.
may_install() {
  case ${PAYSUITE_INSTALL:-ask} in
    yes) return 0 ;;
    no) return 1 ;;
    ask) ;;
    *) die "PAYSUITE_INSTALL=$PAYSUITE_INSTALL: expected yes, no or ask" ;;
  esac
  [ -t 0 ] || return 0
  local answer
  read -r -p "$SCRIPT_NAME: install $1? [y/N] " answer || return 1
  case $answer in [Yy]*) return 0 ;; *) return 1 ;; esac
}

INSTALL_TIMEOUT=${PAYSUITE_INSTALL_TIMEOUT:-1800}

# apt_install installs Debian packages non-interactively, as root or through sudo.
apt_install() {
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
  say "installing with apt-get ($PRIV): $* (PAYSUITE_INSTALL=no prevents this)"
  with_timeout "$INSTALL_TIMEOUT" privileged "${apt[@]}" update ||
    die "apt-get update failed or took longer than ${INSTALL_TIMEOUT}s (PAYSUITE_INSTALL_TIMEOUT)"
  with_timeout "$INSTALL_TIMEOUT" privileged "${apt[@]}" install -y "$@" ||
    die "apt-get install $* failed or took longer than ${INSTALL_TIMEOUT}s (PAYSUITE_INSTALL_TIMEOUT)" \
      "an interrupted install is finished by: $(root_prefix)dpkg --configure -a"
}

# brew_install installs Homebrew formulae.
brew_install() {
  say "installing with Homebrew: brew install $* (PAYSUITE_INSTALL=no prevents this)"
  with_timeout "$INSTALL_TIMEOUT" brew install "$@" ||
    die "brew install $* failed or took longer than ${INSTALL_TIMEOUT}s (PAYSUITE_INSTALL_TIMEOUT)"
}
