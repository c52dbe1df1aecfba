package ensuredeps

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stubScript stands in for every system command the script may call. It records the call in
// $STUB_LOG, then acts on the machine's state files in $STUB_STATE:
//
//	open               "host port" lines: what answers (read by the probe)
//	uid, user, uname   what id and uname say
//	sudo-ok            sudo -n works
//	docker-engine      a Docker engine answers
//	tcp-users          "user:password" lines MariaDB lets in over TCP
//	socket-users       users MariaDB lets in through its socket (root only for root callers)
//	max-connections    MariaDB's max_connections
//	refuse-set-global  SET GLOBAL is denied
//	http-status        what the management API answers when its port is open (default 200)
//	plugins-fail       rabbitmq-plugins fails
//	rabbit-never-up    rabbitmq-server starts but never listens
//	apt-starts         the packages' scripts start the servers when installed
//	brew-<formula>     Homebrew has the formula
//	goversion          what go env GOVERSION says (default go1.26.8)
//
// Installing stubs also print "[stub] <command>", so tests see what was said before.
const stubScript = `#!/usr/bin/env bash
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
`

// realTools are the ordinary commands the script and the stubs use; each machine links them.
var realTools = []string{"bash", "env", "cat", "sed", "grep", "head", "tail", "tr", "od", "mktemp",
	"rm", "mkdir", "mv", "ln", "dirname", "basename", "sleep", "touch", "chmod", "base64", "test"}

// machine is a made-up computer for one run of the script.
type machine struct {
	t     *testing.T
	dir   string
	bin   string
	state string
	env   map[string]string
	// terminal, when set, runs the script on a terminal where the user types this.
	terminal *string
}

// newMachine returns a Linux machine where the tests run as root, with the ordinary tools and
// nothing else: no docker, apt-get, sudo, MariaDB or RabbitMQ until a test adds them.
func newMachine(t *testing.T) *machine {
	t.Helper()
	dir := t.TempDir()
	m := &machine{t: t, dir: dir, bin: filepath.Join(dir, "bin"), state: filepath.Join(dir, "state")}
	for _, d := range []string{m.bin, m.state, filepath.Join(dir, "home"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m.write(filepath.Join(m.bin, "_stub"), stubScript, 0o755)
	for _, tool := range realTools {
		path, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("this test needs %s: %v", tool, err)
		}
		if err := os.Symlink(path, filepath.Join(m.bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	m.commands("_probe", "id", "uname", "true", "setsid", "chown")
	m.set("uid", "0")
	m.set("user", "root")
	m.set("uname", "Linux")
	m.env = map[string]string{
		"PATH":                     m.bin,
		"HOME":                     filepath.Join(dir, "home"),
		"TMPDIR":                   filepath.Join(dir, "tmp"),
		"STUB_STATE":               m.state,
		"STUB_LOG":                 filepath.Join(dir, "calls.log"),
		"STUB_BIN":                 m.bin,
		"PAYSUITE_PROBE":           filepath.Join(m.bin, "_probe"),
		"PAYSUITE_SBIN_PATH":       "",
		"PAYSUITE_SYSTEMD":         "no",
		"PAYSUITE_WAIT_SECONDS":    "5",
		"PAYSUITE_DEPS_ENV":        filepath.Join(dir, "deps.env"),
		"PAYSUITE_STATE_DIR":       filepath.Join(dir, "paysuite-state"),
		"PAYSUITE_OS_RELEASE":      filepath.Join(dir, "os-release"),
		"PAYSUITE_INSTALL_TIMEOUT": "60",
	}
	m.write(filepath.Join(dir, "os-release"), "ID=debian\n", 0o644)
	return m
}

func (m *machine) write(path, content string, mode os.FileMode) {
	m.t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		m.t.Fatal(err)
	}
}

// commands puts stubs of the named commands on the machine's PATH.
func (m *machine) commands(names ...string) {
	m.t.Helper()
	for _, n := range names {
		if err := os.Symlink("_stub", filepath.Join(m.bin, n)); err != nil {
			m.t.Fatal(err)
		}
	}
}

// set writes a state file (see stubScript).
func (m *machine) set(name, content string) {
	m.write(filepath.Join(m.state, name), content+"\n", 0o644)
}

// open makes ports answer on 127.0.0.1.
func (m *machine) open(ports ...string) {
	for _, p := range ports {
		m.appendState("open", "127.0.0.1 "+p)
	}
}

func (m *machine) appendState(name, line string) {
	m.t.Helper()
	f, err := os.OpenFile(filepath.Join(m.state, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		m.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		m.t.Fatal(err)
	}
}

// stockDebian: MariaDB and RabbitMQ installed from Debian's packages, root let into MariaDB only
// through the socket.
func (m *machine) stockDebian() {
	m.commands("mariadbd", "mariadb-install-db", "mariadb", "mysql", "rabbitmq-server", "rabbitmq-plugins")
	m.set("socket-users", "root")
}

// shared: both answer on their default ports, root over TCP without a password (this
// development machine's set-up), max_connections already raised.
func (m *machine) shared() {
	m.stockDebian()
	m.open("3306", "5672", "15672")
	m.set("tcp-users", "root:")
	m.set("max-connections", "1000")
}

// run is one run of the script.
type run struct {
	out   string
	code  int
	calls []string
	m     *machine
}

// run runs scripts/ensure-deps.sh on the machine.
func (m *machine) run(args ...string) run {
	m.t.Helper()
	return m.exec("../../scripts/ensure-deps.sh", args...)
}

// exec runs a script of the repository (path relative to this package) on the machine.
func (m *machine) exec(path string, args ...string) run {
	m.t.Helper()
	script, err := filepath.Abs(path)
	if err != nil {
		m.t.Fatal(err)
	}
	cmd := exec.Command(script, args...)
	if m.terminal != nil {
		// util-linux script(1) gives the script a terminal; what the user types goes to it.
		tool, err := exec.LookPath("script")
		if err != nil {
			m.t.Fatalf("this test needs script(1) from util-linux: %v", err)
		}
		cmd = exec.Command(tool, "-qec", strings.Join(append([]string{script}, args...), " "), "/dev/null")
		cmd.Stdin = strings.NewReader(*m.terminal)
	}
	for k, v := range m.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	r := run{out: string(out), m: m}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		m.t.Fatal(err)
	}
	log, _ := os.ReadFile(m.env["STUB_LOG"])
	for _, line := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		if line != "" && !strings.HasPrefix(line, "_probe ") {
			r.calls = append(r.calls, line)
		}
	}
	_ = os.Remove(m.env["STUB_LOG"])
	return r
}

func (r run) ok() run {
	r.m.t.Helper()
	if r.code != 0 {
		r.m.t.Fatalf("exit %d, want 0; output:\n%s", r.code, r.out)
	}
	return r
}

func (r run) fails() run {
	r.m.t.Helper()
	if r.code != 1 {
		r.m.t.Fatalf("exit %d, want 1; output:\n%s", r.code, r.out)
	}
	return r
}

// says checks the output has each line fragment.
func (r run) says(fragments ...string) run {
	r.m.t.Helper()
	for _, f := range fragments {
		if !strings.Contains(r.out, f) {
			r.m.t.Errorf("output lacks %q; output:\n%s", f, r.out)
		}
	}
	return r
}

func (r run) neverSays(fragments ...string) run {
	r.m.t.Helper()
	for _, f := range fragments {
		if strings.Contains(r.out, f) {
			r.m.t.Errorf("output has %q; output:\n%s", f, r.out)
		}
	}
	return r
}

// ran checks the calls include each, in this order (each a prefix of a recorded call).
func (r run) ran(calls ...string) run {
	r.m.t.Helper()
	i := 0
	for _, c := range r.calls {
		if i < len(calls) && strings.HasPrefix(c, calls[i]) {
			i++
		}
	}
	if i < len(calls) {
		r.m.t.Errorf("calls lack %q (in order after %q); calls:\n%s", calls[i], calls[:i], strings.Join(r.calls, "\n"))
	}
	return r
}

// neverRan checks no call starts with any of the given prefixes.
func (r run) neverRan(prefixes ...string) run {
	r.m.t.Helper()
	for _, c := range r.calls {
		for _, p := range prefixes {
			if strings.HasPrefix(c, p) {
				r.m.t.Errorf("ran %q; calls:\n%s", c, strings.Join(r.calls, "\n"))
			}
		}
	}
	return r
}

// handedOver returns the environment the script wrote for the suite.
func (r run) handedOver() map[string]string {
	r.m.t.Helper()
	script := ". " + r.m.env["PAYSUITE_DEPS_ENV"] + " && env"
	out, err := exec.Command("bash", "-c", script).Output()
	if err != nil {
		r.m.t.Fatalf("source %s: %v", r.m.env["PAYSUITE_DEPS_ENV"], err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}
