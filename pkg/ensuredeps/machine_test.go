package ensuredeps

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

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
	stub, err := os.ReadFile("testdata/stub.sh")
	if err != nil {
		t.Fatal(err)
	}
	m.write(filepath.Join(m.bin, "_stub"), string(stub), 0o755)
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

// set writes a state file (see testdata/stub.sh).
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

const (
	withSudo    = true
	withoutSudo = false
)

// user makes the script run as the user dev (uid 1000), with or without passwordless sudo.
func (m *machine) user(sudo bool) {
	m.commands("sudo")
	m.set("uid", "1000")
	m.set("user", "dev")
	if sudo {
		m.set("sudo-ok", "")
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

// saysBefore checks the output says first before a stub prints "[stub] <second>": nothing is
// installed without a line saying so first.
func (r run) saysBefore(first, second string) run {
	r.m.t.Helper()
	i, j := strings.Index(r.out, first), strings.Index(r.out, "[stub] "+second)
	if i < 0 || j < 0 || i > j {
		r.m.t.Errorf("want %q said before %q ran; output:\n%s", first, second, r.out)
	}
	return r
}

// wroteNoEnvironment checks a failed run left no environment for the suite.
func (r run) wroteNoEnvironment() run {
	r.m.t.Helper()
	if _, err := os.Stat(r.m.env["PAYSUITE_DEPS_ENV"]); err == nil {
		r.m.t.Error("an environment was written after a failure")
	}
	return r
}
