package ensuredeps

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// ci runs .ci/run on the machine; its `make test` is a stub.
func (m *machine) ci() run {
	m.t.Helper()
	m.env["ARTIFACTS_DIR"] = filepath.Join(m.dir, "artifacts")
	return m.exec("../../.ci/run")
}

func TestCIOnAFreshDebianInstallsWhatTheTestsNeed(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.commands("go", "make", "apt-get")
	m.ci().ok().
		saysBefore("installing with apt-get (root): gcc libc6-dev chromium mariadb-server mariadb-client rabbitmq-server", "apt-get").
		ran("apt-get -q -o DPkg::Lock::Timeout=300 update",
			"apt-get -q -o DPkg::Lock::Timeout=300 install -y gcc libc6-dev chromium mariadb-server mariadb-client rabbitmq-server",
			"make test")
}

func TestCIOnAPreparedMachineInstallsNothing(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.commands("go", "make", "apt-get", "gcc", "chromium", "mariadbd", "rabbitmq-server")
	m.ci().ok().says("ci: go version go1.26.8 linux/amd64; C compiler gcc; browser chromium").
		ran("make test").neverRan("apt-get")
}

func TestCISaysExactlyWhatIsMissing(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.commands("go", "make", "apt-get")
	m.set("goversion", "go1.25.3")
	m.user(withoutSudo)
	m.write(m.env["PAYSUITE_OS_RELEASE"], "ID=ubuntu\n", 0o644)
	work, err := os.ReadFile("../../go.work")
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(work)[1]
	m.ci().fails().
		says("ci: this machine lacks what the build and the tests need:",
			"Go: 1.25.3 is older than go "+string(want)+" of go.work; install it (https://go.dev/dl/) or let Go fetch it: GOTOOLCHAIN=go"+string(want),
			"browser for the page tests: Ubuntu ships Chromium as a snap: sudo snap install chromium",
			"packages (no root, no passwordless sudo to install them): sudo apt-get install -y gcc libc6-dev mariadb-server mariadb-client rabbitmq-server").
		neverRan("make", "apt-get")
}

func TestCIWithClusterTestInstallsTheClusterPackagesAndRunsIt(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.commands("go", "make", "apt-get", "gcc", "chromium", "mariadbd", "rabbitmq-server")
	m.env["CLUSTER_TEST"] = "1"
	m.env["GALERA_PROVIDER"] = filepath.Join(m.dir, "no-galera-here.so")
	m.ci().ok().
		ran("apt-get -q -o DPkg::Lock::Timeout=300 update",
			"apt-get -q -o DPkg::Lock::Timeout=300 install -y galera-4 haproxy rsync",
			"make test", "make cluster-test")
}
