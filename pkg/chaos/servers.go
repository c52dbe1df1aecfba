// Package chaos runs the load harness against private MariaDB and RabbitMQ instances it starts
// itself (own data directories and loopback ports, ../shared/CLUSTERS.md recipes, so restarting
// them disturbs no one else) while a seeded schedule of faults hits the suite: processes killed
// with SIGKILL and started again, the database and the broker restarted, their connections cut
// through a TCP proxy, and the sandbox's notify, query and refund faults. Then the invariant
// checker must pass. `make chaos` (pkg/cmd/chaos) and the short pass in `make test` use it.
package chaos

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql" // MariaDB
)

// MariaDB is a private mariadbd on a loopback port.
type MariaDB struct {
	Dir, cnf, sock string
	Port           int
	cmd            *exec.Cmd
	exited         chan error
}

// StartMariaDB initialises a data directory under dir and starts the server on a free port.
// Root may connect over TCP from 127.0.0.1 without a password (DSN).
func StartMariaDB(ctx context.Context, dir string) (*MariaDB, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	m := &MariaDB{Dir: dir, cnf: filepath.Join(dir, "my.cnf"), sock: filepath.Join(dir, "mysqld.sock"), Port: port}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	cnf := fmt.Sprintf(`[mysqld]
datadir=%[1]s/data
socket=%[2]s
pid-file=%[1]s/mysqld.pid
port=%[3]d
bind-address=127.0.0.1
user=mysql
skip-name-resolve
log-error=%[1]s/error.log
max_connections=2000
innodb_buffer_pool_size=64M
innodb_log_file_size=32M
[client]
socket=%[2]s
`, dir, m.sock, port)
	if err := os.WriteFile(m.cnf, []byte(cnf), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, "chown", "-R", "mysql:mysql", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("chown %s: %v: %s", dir, err, out)
	}
	if out, err := exec.CommandContext(ctx, "mariadb-install-db", "--defaults-file="+m.cnf, "--user=mysql",
		"--skip-test-db", "--auth-root-authentication-method=normal").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %v: %s", err, out)
	}
	if err := m.Start(ctx); err != nil {
		return nil, err
	}
	// Root over TCP (skip-name-resolve: 'localhost' covers only the socket).
	grant := "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
	if out, err := exec.CommandContext(ctx, "mariadb", "--defaults-file="+m.cnf, "-uroot", "-e", grant).CombinedOutput(); err != nil {
		_ = m.Stop()
		return nil, fmt.Errorf("grant root over TCP: %v: %s", err, out)
	}
	return m, nil
}

// DSN is root on the server, on no database.
func (m *MariaDB) DSN() string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/?parseTime=true", m.Port)
}

// Start starts mariadbd (again) and waits until it takes queries.
func (m *MariaDB) Start(ctx context.Context) error {
	m.cmd = exec.Command("mariadbd", "--defaults-file="+m.cnf)
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		return err
	}
	m.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, ch chan error) { ch <- cmd.Wait() }(m.cmd, m.exited)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		db, err := sql.Open("mysql", m.DSN())
		if err == nil {
			err = db.PingContext(ctx)
			db.Close()
		}
		if err == nil {
			return nil
		}
		select {
		case err := <-m.exited:
			return fmt.Errorf("mariadbd exited: %v (see %s/error.log)", err, m.Dir)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mariadbd not answering after 2m (see %s/error.log)", m.Dir)
		}
	}
}

// Kill stops mariadbd with SIGKILL (a crash: InnoDB recovers at the next Start).
func (m *MariaDB) Kill() error {
	if m.cmd == nil {
		return nil
	}
	_ = m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
	return nil
}

// Stop shuts mariadbd down cleanly.
func (m *MariaDB) Stop() error {
	if m.cmd == nil {
		return nil
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(time.Minute):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd = nil
	return nil
}

// RabbitMQ is a private RabbitMQ node on loopback ports, with the management API.
type RabbitMQ struct {
	Dir, Node            string
	Port, MgmtPort, dist int
	env                  []string
	cmd                  *exec.Cmd
	exited               chan error
}

// StartRabbitMQ starts a node named after dir's base name with its own config file, data and
// log directories (CLUSTERS.md: the machine's rabbitmq.conf pins :5672, so a config file of its
// own is required).
func StartRabbitMQ(ctx context.Context, dir string) (*RabbitMQ, error) {
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	r := &RabbitMQ{Dir: dir, Node: "chaos" + strconv.Itoa(ports[0]) + "@localhost", Port: ports[0], MgmtPort: ports[1], dist: ports[2]}
	for _, sub := range []string{"mnesia", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	conf := fmt.Sprintf("listeners.tcp.local = 127.0.0.1:%d\nmanagement.tcp.port = %d\nmanagement.tcp.ip = 127.0.0.1\nloopback_users.guest = true\n",
		r.Port, r.MgmtPort)
	if err := os.WriteFile(filepath.Join(dir, "rabbitmq.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "enabled_plugins"), []byte("[rabbitmq_management].\n"), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, "chown", "-R", "rabbitmq:rabbitmq", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("chown %s: %v: %s", dir, err, out)
	}
	r.env = append(os.Environ(), "RABBITMQ_NODENAME="+r.Node, "RABBITMQ_NODE_PORT="+strconv.Itoa(r.Port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(r.dist), "RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"), "RABBITMQ_PID_FILE="+filepath.Join(dir, "rabbit.pid"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq"), "RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"))
	if err := r.Start(ctx); err != nil {
		_ = r.Stop()
		return nil, err
	}
	return r, nil
}

// AdminURL is guest on the node (guest may connect from loopback).
func (r *RabbitMQ) AdminURL() string { return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", r.Port) }

// ManagementURL is the node's management API.
func (r *RabbitMQ) ManagementURL() string { return fmt.Sprintf("http://127.0.0.1:%d", r.MgmtPort) }

// Start starts the node (again) and waits until it is up, management API included.
func (r *RabbitMQ) Start(ctx context.Context) error {
	// In the foreground, as our child, killed with us (Pdeathsig): a chaos run that is itself
	// killed leaves no node behind.
	logf, err := os.OpenFile(filepath.Join(r.Dir, "server.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	r.cmd = exec.Command("rabbitmq-server")
	r.cmd.Env, r.cmd.Stdout, r.cmd.Stderr = r.env, logf, logf
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("rabbitmq-server: %w", err)
	}
	r.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, ch chan error) { ch <- cmd.Wait(); logf.Close() }(r.cmd, r.exited)
	// Up when both the AMQP listener and the management API accept connections (the listener
	// opens last in the boot).
	deadline := time.Now().Add(3 * time.Minute)
	for _, port := range []int{r.Port, r.MgmtPort} {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-r.exited:
				r.exited <- err
				return fmt.Errorf("rabbitmq %s exited while starting: %v (logs %s/log)", r.Node, err, r.Dir)
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("rabbitmq %s not up after 3m (logs %s/log)", r.Node, r.Dir)
			}
		}
	}
	return nil
}

// Stop stops the node and waits until it is gone.
func (r *RabbitMQ) Stop() error {
	if r.cmd == nil {
		return nil
	}
	cmd := exec.Command("rabbitmqctl", "-n", r.Node, "stop")
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	select {
	case <-r.exited:
	case <-time.After(time.Minute):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	}
	r.cmd = nil
	if err != nil && !strings.Contains(string(out), "nodedown") && !strings.Contains(string(out), "unable to connect") {
		return errors.New("rabbitmqctl stop: " + strings.TrimSpace(string(out)))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// stopStale kills the servers a killed run left behind in its directory d (their pid files).
func stopStale(d string) {
	for _, f := range []string{filepath.Join(d, "mariadb", "mysqld.pid"), filepath.Join(d, "rabbitmq", "rabbit.pid")} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
