package ensuredeps

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The ways of the issue, in order: answering, installed but stopped, Docker, packages, the
// commands for the user.

const defaultDSN = "root@tcp(127.0.0.1:3306)/paysuite?parseTime=true"

// startsOrInstalls are the calls that change a machine: none may happen while both answer.
var startsOrInstalls = []string{"apt-get", "brew", "docker compose up", "mariadbd --", "setsid", "mariadb-install-db",
	"rabbitmq-server", "systemctl", "rabbitmq-plugins"}

func TestAnsweringServersAreUsedAsTheyAre(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.shared()
	m.commands("docker", "apt-get", "sudo")
	m.set("docker-engine", "")
	r := m.run().ok().
		says("MariaDB 127.0.0.1:3306: answering -> using it",
			"RabbitMQ 127.0.0.1:5672: answering -> using it",
			"MariaDB: root over TCP works -> the suite uses it",
			"RabbitMQ: management API answers at http://127.0.0.1:15672 for guest").
		neverRan(startsOrInstalls...)
	env := r.handedOver()
	for _, k := range []string{"MYSQL_DSN", "TEST_MYSQL_DSN", "PAYSUITE_ADMIN_MYSQL_DSN"} {
		if env[k] != defaultDSN {
			t.Errorf("%s = %q, want %q", k, env[k], defaultDSN)
		}
	}
	for _, k := range []string{"AMQP_URL", "TEST_AMQP_URL", "PAYSUITE_ADMIN_AMQP_URL"} {
		if env[k] != "amqp://guest:guest@127.0.0.1:5672/" {
			t.Errorf("%s = %q", k, env[k])
		}
	}
	if env["AMQP_MANAGEMENT_URL"] != "http://127.0.0.1:15672" {
		t.Errorf("AMQP_MANAGEMENT_URL = %q", env["AMQP_MANAGEMENT_URL"])
	}
}

func TestGivenACommandItRunsItWithTheEnvironment(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.shared()
	r := m.run("bash", "-c", `echo "dsn=$MYSQL_DSN test=$TEST_MYSQL_DSN amqp=$TEST_AMQP_URL"`).ok()
	r.says("dsn=" + defaultDSN + " test=" + defaultDSN + " amqp=amqp://guest:guest@127.0.0.1:5672/")
}

func TestStoppedServersAreStartedLikeTheServiceScripts(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.stockDebian()
	m.commands("docker", "apt-get")
	m.set("docker-engine", "")
	r := m.run().ok()
	datadir := filepath.Join(m.state, "datadir")
	r.says("MariaDB 127.0.0.1:3306: not answering; installed ("+m.bin+"/mariadbd) -> starting it",
		"RabbitMQ 127.0.0.1:5672: not answering; installed ("+m.bin+"/rabbitmq-server) -> starting it",
		"MariaDB: data directory "+datadir+" is empty -> initialising it (mariadb-install-db --user=mysql)",
		"MariaDB 127.0.0.1:3306: up", "RabbitMQ 127.0.0.1:5672: up",
		"made admin user 'paysuite'").
		ran("chown mysql: "+filepath.Join(m.state, "run"),
			"chown mysql: "+datadir,
			"mariadb-install-db --user=mysql --datadir="+datadir,
			"setsid -f mariadbd --user=mysql --port=3306 --log-error="+datadir+"/mariadbd.err",
			"rabbitmq-server -detached",
			"rabbitmq-plugins enable rabbitmq_management").
		neverRan("docker compose up", "apt-get", "systemctl")

	m.set("open", "")
	m.run().ok().neverRan("mariadb-install-db").ran("setsid -f mariadbd")
}

func TestAPrivateServerIsStartedWithItsOwnConfigAndPort(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.stockDebian()
	m.open("5672", "15672")
	m.env["MYSQL_DSN"] = "root@tcp(127.0.0.1:13399)/paysuite?parseTime=true"
	m.env["PAYSUITE_MARIADB_CNF"] = "/private/my.cnf"
	m.env["PAYSUITE_SYSTEMD"] = "yes"
	m.set("tcp-users", "root:")
	m.run().ok().
		says("MariaDB 127.0.0.1:13399: up").
		ran("mariadbd --defaults-file=/private/my.cnf --print-defaults",
			"mariadb-install-db --defaults-file=/private/my.cnf --user=mysql",
			"setsid -f mariadbd --defaults-file=/private/my.cnf --user=mysql --port=13399").
		neverRan("systemctl")
}

func TestUnderSystemdTheUnitsAreStarted(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.stockDebian()
	m.commands("systemctl")
	m.env["PAYSUITE_SYSTEMD"] = "yes"
	m.set("tcp-users", "root:")
	m.run().ok().
		says("MariaDB: starting it with systemctl", "RabbitMQ: starting it with systemctl").
		ran("systemctl start mariadb", "systemctl start rabbitmq-server").
		neverRan("setsid", "rabbitmq-server")
}

func TestABrokerThatNeverComesUpTimesOut(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.stockDebian()
	m.open("3306")
	m.set("tcp-users", "root:")
	m.set("rabbit-never-up", "")
	m.env["PAYSUITE_WAIT_SECONDS"] = "2"
	m.run().fails().says("RabbitMQ did not answer on 127.0.0.1:5672 within 2s (PAYSUITE_WAIT_SECONDS)")
}

func TestStoppedWithoutRootPrintsTheStartCommands(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.stockDebian()
	m.user(withoutSudo)
	datadir := filepath.Join(m.state, "datadir")
	m.run().fails().
		says("cannot get MariaDB and RabbitMQ running here by myself; run:",
			"sudo mkdir -p "+filepath.Join(m.state, "run")+" && sudo chown mysql: "+filepath.Join(m.state, "run"),
			"sudo mariadb-install-db --user=mysql --datadir="+datadir+"   # only when "+datadir+" is empty",
			"sudo setsid -f mariadbd --user=mysql --port=3306",
			"sudo env rabbitmq-server -detached").
		neverRan("setsid", "rabbitmq-server", "mariadb-install-db")
}

// dockerOnly: a Docker engine and nothing else of MariaDB or RabbitMQ (not even a client);
// apt-get and root are there too, to show Docker comes first.
func dockerOnly(t *testing.T) *machine {
	m := newMachine(t)
	m.commands("docker", "apt-get")
	m.set("docker-engine", "")
	return m
}

func TestDockerOnlyComposeBringsThemUpWithItsCredentials(t *testing.T) {
	t.Parallel()
	m := dockerOnly(t)
	r := m.run().ok().
		says("MariaDB 127.0.0.1:3306: not answering, not installed",
			"Docker answers -> docker compose up -d mariadb rabbitmq",
			"mariadb: healthy in Docker", "rabbitmq: healthy in Docker",
			"MariaDB: root over TCP works -> the suite uses it",
			"MariaDB: max_connections 151 -> 1000").
		ran("docker info", "docker compose up -d mariadb rabbitmq", "ports 3306 5672 15672",
			"compose files docker-compose.yml:scripts/compose-deps.yml",
			"docker compose exec -T -e MYSQL_PWD=paysuite mariadb mariadb -u root -N -B -e SET GLOBAL max_connections = 1000").
		neverRan("apt-get")
	password := composeRootPassword(t)
	want := "root:" + password + "@tcp(127.0.0.1:3306)/paysuite?parseTime=true"
	if got := r.handedOver()["MYSQL_DSN"]; got != want {
		t.Errorf("MYSQL_DSN = %q, want compose's root %q", got, want)
	}

	again := m.run().ok().says("MariaDB: docker compose's root works -> the suite uses it").neverRan("docker compose up")
	if got := again.handedOver()["MYSQL_DSN"]; got != want {
		t.Errorf("next run's MYSQL_DSN = %q, want %q", got, want)
	}
}

func TestComposePublishesOnTheConfiguredPorts(t *testing.T) {
	t.Parallel()
	m := dockerOnly(t)
	m.env["MYSQL_DSN"] = "root@tcp(127.0.0.1:13306)/paysuite?parseTime=true"
	m.env["AMQP_URL"] = "amqp://guest:guest@127.0.0.1:5673/"
	m.env["AMQP_MANAGEMENT_URL"] = "http://127.0.0.1:15673"
	r := m.run().ok().ran("docker compose up -d mariadb rabbitmq", "ports 13306 5673 15673")
	if got := r.handedOver()["MYSQL_DSN"]; !strings.Contains(got, "@tcp(127.0.0.1:13306)/") {
		t.Errorf("MYSQL_DSN = %q, want port 13306", got)
	}
}

// composeRootPassword reads MARIADB_ROOT_PASSWORD from docker-compose.yml.
func composeRootPassword(t *testing.T) string {
	t.Helper()
	compose, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	match := regexp.MustCompile(`MARIADB_ROOT_PASSWORD:\s*"?([^"\s]+)`).FindSubmatch(compose)
	if match == nil {
		t.Fatal("docker-compose.yml sets no MARIADB_ROOT_PASSWORD")
	}
	return string(match[1])
}

func TestAptWithSudoInstallsThenStarts(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.commands("apt-get")
	m.user(withSudo)
	m.set("socket-users", "root")
	apt := "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 "
	m.run().ok().
		says("MariaDB 127.0.0.1:3306: not answering, not installed",
			"MariaDB 127.0.0.1:3306: up", "RabbitMQ 127.0.0.1:5672: up", "made admin user 'paysuite'").
		saysBefore("installing with apt-get (sudo): mariadb-server mariadb-client rabbitmq-server (PAYSUITE_INSTALL=no prevents this)",
			"apt-get").
		ran(apt+"update", apt+"install -y mariadb-server mariadb-client rabbitmq-server",
			"sudo -n setsid -f mariadbd --user=mysql", "sudo -n env rabbitmq-server -detached",
			"sudo -n mariadb --protocol=SOCKET")
}

func TestAptAsRootWhenThePackagesStartTheServers(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.commands("apt-get")
	m.set("socket-users", "root")
	m.set("apt-starts", "")
	m.run().ok().
		says("installing with apt-get (root)", "mariadb: started by its package", "rabbitmq: started by its package").
		ran("apt-get -q -o DPkg::Lock::Timeout=300 install -y mariadb-server mariadb-client rabbitmq-server").
		neverRan("sudo", "setsid", "rabbitmq-server")
}

func TestOnlyTheMissingOneIsInstalled(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.commands("apt-get", "mariadb", "mysql")
	m.open("3306")
	m.set("tcp-users", "root:")
	m.run().ok().ran("apt-get -q -o DPkg::Lock::Timeout=300 install -y rabbitmq-server")
}

func TestOnATerminalItAsksBeforeInstalling(t *testing.T) {
	t.Parallel()
	for answer, installs := range map[string]bool{"n\n": false, "y\n": true} {
		t.Run(strings.TrimSpace(answer), func(t *testing.T) {
			t.Parallel()
			m := newMachine(t)
			m.commands("apt-get")
			m.set("socket-users", "root")
			m.env["SHELL"] = filepath.Join(m.bin, "bash")
			m.terminal = &answer
			r := m.run().says("ensure-deps: install mariadb-server mariadb-client rabbitmq-server with apt? [y/N]")
			if installs {
				r.ok().ran("apt-get -q -o DPkg::Lock::Timeout=300 install -y mariadb-server mariadb-client rabbitmq-server")
			} else {
				r.fails().says("not installing mariadb-server mariadb-client rabbitmq-server (PAYSUITE_INSTALL=ask)",
					"apt-get install -y mariadb-server mariadb-client rabbitmq-server").neverRan("apt-get")
			}
		})
	}
}

func TestInstallYesDoesNotAsk(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.commands("apt-get")
	m.set("socket-users", "root")
	m.env["SHELL"] = filepath.Join(m.bin, "bash")
	m.env["PAYSUITE_INSTALL"] = "yes"
	nothing := ""
	m.terminal = &nothing
	m.run().ok().neverSays("[y/N]").ran("apt-get -q -o DPkg::Lock::Timeout=300 install -y")
}

func TestInstallNoInstallsNothing(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.commands("apt-get", "docker")
	m.set("docker-engine", "")
	m.env["PAYSUITE_INSTALL"] = "no"
	m.run().fails().
		says("PAYSUITE_INSTALL=no -> installing nothing and not using Docker",
			"apt-get install -y mariadb-server mariadb-client rabbitmq-server",
			"or, with Docker running: docker compose up -d mariadb rabbitmq").
		neverRan("apt-get", "docker")
}

func TestAptWithoutSudoPrintsTheCommands(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.commands("apt-get")
	m.user(withoutSudo)
	m.run().fails().
		says("Debian/Ubuntu, but neither root nor passwordless sudo -> cannot install mariadb-server mariadb-client rabbitmq-server",
			"sudo apt-get install -y mariadb-server mariadb-client rabbitmq-server",
			"or, with Docker running: docker compose up -d mariadb rabbitmq",
			"then make run (or make test) again").
		neverRan("apt-get", "sudo -n env")
}

func TestMacOSWithHomebrew(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.commands("brew", "sudo")
	m.set("uname", "Darwin")
	m.set("uid", "501")
	m.set("user", "dev")
	m.set("sudo-ok", "")
	m.set("socket-users", "root\ndev")
	m.run().ok().
		saysBefore("installing with Homebrew: brew install mariadb rabbitmq", "brew install").
		ran("brew list --versions mariadb", "brew install mariadb rabbitmq",
			"brew services start mariadb", "brew services start rabbitmq",
			"mariadb --protocol=SOCKET -u dev").
		says("made admin user 'paysuite' for TCP through the unix socket (as self)").
		neverRan("sudo", "apt-get", "setsid")

	m.set("open", "")
	m.run().ok().
		says("MariaDB 127.0.0.1:3306: not answering; installed (Homebrew's mariadb) -> starting it").
		neverRan("brew install")
}

func TestNothingToInstallWithPrintsTheCommands(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		uname, uid string
		commands   []string
		want       []string
	}{
		"unknown Linux": {"Linux", "0", nil, []string{
			"no Docker, and no way to install mariadb rabbitmq here by myself (debian)",
			"install MariaDB rabbitmq (MariaDB 10.6 or later, RabbitMQ 3.10 or later) with this system's packages"}},
		"Fedora": {"Linux", "1000", []string{"dnf"}, []string{
			"sudo dnf install -y mariadb-server mariadb rabbitmq-server",
			"sudo systemctl enable --now mariadb rabbitmq-server"}},
		"macOS without Homebrew": {"Darwin", "501", nil, []string{
			"https://raw.githubusercontent.com/Homebrew/install/HEAD/install.sh",
			"brew install mariadb rabbitmq", "brew services start mariadb", "brew services start rabbitmq"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := newMachine(t)
			m.set("uname", c.uname)
			m.set("uid", c.uid)
			m.commands(c.commands...)
			m.run().fails().
				says(append(c.want, "or, with Docker running: docker compose up -d mariadb rabbitmq")...).
				neverRan(startsOrInstalls...)
		})
	}
}

func TestARemoteServerThatDoesNotAnswerIsNotStartedHere(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.stockDebian()
	m.env["MYSQL_DSN"] = "app:secret@tcp(db.internal:3306)/paysuite?parseTime=true"
	m.run().fails().
		says("MariaDB db.internal:3306 does not answer, and it is not on this machine").
		neverRan(startsOrInstalls...)
}
