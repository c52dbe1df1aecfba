package ensuredeps

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// What comes after the servers answer, in every path: an admin identity over TCP and the
// settings the suite needs, each failure an error.

// passwordIn returns the password of the paysuite user the script handed over, checking the
// DSN keeps the configured address, database and parameters.
func passwordIn(t *testing.T, dsn string) string {
	t.Helper()
	match := regexp.MustCompile(`^paysuite:([0-9a-f]{32})@tcp\(127\.0\.0\.1:3306\)/paysuite\?parseTime=true$`).FindStringSubmatch(dsn)
	if match == nil {
		t.Fatalf("MYSQL_DSN = %q, want the paysuite user with a random password", dsn)
	}
	return match[1]
}

func TestStockRootOnlyOnTheSocketGetsAPaysuiteAdminForTCP(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.stockDebian()
	m.open("3306", "5672", "15672")
	r := m.run().ok().
		says("MariaDB: root over TCP refused (ERROR 1045",
			"MariaDB: made admin user 'paysuite' for TCP through the unix socket (as root)").
		ran("mariadb --protocol=SOCKET -S " + filepath.Join(m.state, "run/mysqld.sock") + " -u root")
	pw := passwordIn(t, r.handedOver()["MYSQL_DSN"])
	for _, c := range r.calls {
		if strings.Contains(c, pw) {
			t.Errorf("the password is on a command line (ps shows it to every user): %s", c)
		}
	}
	sql, _ := os.ReadFile(filepath.Join(m.state, "sql-log"))
	for _, host := range []string{"127.0.0.1", "localhost"} {
		grant := "GRANT ALL PRIVILEGES ON *.* TO 'paysuite'@'" + host + "' WITH GRANT OPTION"
		if !strings.Contains(string(sql), grant) || !strings.Contains(string(sql), "IDENTIFIED BY '"+pw+"'") {
			t.Errorf("the SQL run through the socket lacks %q with the handed-over password:\n%s", grant, sql)
		}
	}
	kept := filepath.Join(m.env["PAYSUITE_STATE_DIR"], "mariadb-admin-127.0.0.1-3306")
	info, err := os.Stat(kept)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("password file %s: %v, mode %v; want 0600", kept, err, info)
	}
	if env := r.handedOver(); env["PAYSUITE_ADMIN_MYSQL_DSN"] != env["MYSQL_DSN"] || env["TEST_MYSQL_DSN"] != env["MYSQL_DSN"] {
		t.Errorf("admin, suite and test DSNs differ: %v", env)
	}

	again := m.run().ok().
		says("MariaDB: the 'paysuite' admin user made earlier works").
		neverRan("mariadb --protocol=SOCKET")
	if got := passwordIn(t, again.handedOver()["MYSQL_DSN"]); got != pw {
		t.Errorf("second run's password %s, want the kept %s", got, pw)
	}
}

func TestPaysuiteAdminThroughSudoWhenNotRoot(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.stockDebian()
	m.user(withSudo)
	m.open("3306", "5672", "15672")
	m.run().ok().
		says("made admin user 'paysuite' for TCP through the unix socket (as root)").
		ran("sudo -n mariadb --protocol=SOCKET")
}

func TestWithoutRootTheAdminUserIsLeftToTheUser(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.stockDebian()
	m.user(withoutSudo)
	m.open("3306", "5672", "15672")
	m.run().fails().wroteNoEnvironment().
		says("MariaDB lets root in only through its unix socket",
			"sudo mariadb -e \"CREATE USER 'paysuite'@'127.0.0.1' IDENTIFIED BY '<password>'; GRANT ALL PRIVILEGES ON *.* TO 'paysuite'@'127.0.0.1' WITH GRANT OPTION\"",
			"MYSQL_DSN='paysuite:<password>@tcp(127.0.0.1:3306)/paysuite?parseTime=true' make run")
}

func TestMaxConnectionsIsRaised(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.shared()
	m.set("max-connections", "151")
	m.run().ok().says("MariaDB: max_connections 151 -> 1000")
	if got, _ := os.ReadFile(filepath.Join(m.state, "max-connections")); strings.TrimSpace(string(got)) != "1000" {
		t.Errorf("max_connections is %s, want 1000", got)
	}
}

func TestMaxConnectionsNotRaisedIsAnError(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.shared()
	m.set("max-connections", "151")
	m.set("refuse-set-global", "")
	m.run().fails().wroteNoEnvironment().says("MariaDB: could not raise max_connections from 151 to 1000: ERROR 1227")
}

func TestManagementPluginIsEnabledWhenItsAPIIsSilent(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.shared()
	m.set("open", "127.0.0.1 3306\n127.0.0.1 5672")
	m.run().ok().
		says("RabbitMQ: management API not answering at http://127.0.0.1:15672 -> enabling the rabbitmq_management plugin",
			"RabbitMQ: management API answers at http://127.0.0.1:15672 for guest").
		ran("rabbitmq-plugins enable rabbitmq_management")
}

func TestManagementPluginFailingIsAnError(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.shared()
	m.set("open", "127.0.0.1 3306\n127.0.0.1 5672")
	m.set("plugins-fail", "")
	m.run().fails().says("rabbitmq-plugins enable rabbitmq_management failed")
}

func TestManagementRefusingTheUserIsAnError(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.shared()
	m.set("http-status", "401")
	m.run().fails().says("RabbitMQ's management API at http://127.0.0.1:15672 refuses guest (HTTP 401)")
}
