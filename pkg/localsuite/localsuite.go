// Package localsuite starts the suite's own binaries — the ones `make run` starts — on private
// loopback ports, with databases, a vhost and per-service MariaDB and RabbitMQ users of their own
// (pkg/devenv, as `make run` makes them), a throw-away development CA (mTLS between services) and
// the gateway's dev token issuer. The load and chaos harnesses (pkg/cmd/load, pkg/cmd/chaos) and
// the short chaos pass in `make test` drive it; each process can be killed (SIGKILL) and started
// again on the same ports. Close stops everything and removes what it made.
package localsuite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/paysuite/paysuite/pkg/access"
	"github.com/paysuite/paysuite/pkg/devenv"
	"github.com/paysuite/paysuite/pkg/scratch"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

// Services are the processes of the suite, in start order (as scripts/run.sh starts them).
var Services = []string{"sandbox", "order", "payment", "notification", "course", "gateway"}

// Options describe one suite.
type Options struct {
	BinDir    string // the built binaries (`make build` puts them in bin/)
	AdminDSN  string // MariaDB as a user that may create databases and users
	AdminAMQP string // RabbitMQ as a user that may create vhosts and users (management API)
	// ServiceMySQLAddr and ServiceAMQPAddr, when set, replace the host:port the services use
	// (not the admin): a pkg/tcpproxy in front of the servers, to cut the services off.
	ServiceMySQLAddr, ServiceAMQPAddr string
	Prefix                            string            // names of databases, vhost and users start with it (default "psload_")
	Env                               map[string]string // extra environment for every process (ORDER_PAY_TIMEOUT, …)
	LogDir                            string            // where each process's output goes (default: the suite's temp dir)
	Keep                              bool              // keep databases, vhost and files at Close (to look at them)
}

// Suite is one running suite.
type Suite struct {
	opts     Options
	Name     string // database prefix and vhost
	Dir      string // CA, sandbox keys, logs
	TLSDir   string
	exports  map[string]string // <SERVICE>_MYSQL_DSN / _AMQP_URL
	addrs    map[string]string // "<svc>.grpc", "<svc>.ops", "payment.http", "gateway.http", "sandbox.http"
	adminDSN string            // the admin, on database prefix Name
	vhostURL string            // the admin, on the suite's vhost
	cleanup  []func() error

	mu    sync.Mutex
	procs map[string]*exec.Cmd
	exits map[string]chan error
}

// Start makes the suite's identities, databases and vhost and starts every process, waiting
// until each answers on its ports.
func Start(ctx context.Context, o Options) (_ *Suite, err error) {
	if o.Prefix == "" {
		o.Prefix = "psload_"
	}
	if o.BinDir, err = filepath.Abs(o.BinDir); err != nil {
		return nil, err
	}
	for _, svc := range Services {
		if _, err := os.Stat(filepath.Join(o.BinDir, svc)); err != nil {
			return nil, fmt.Errorf("localsuite: binary %s: %w (make build)", svc, err)
		}
	}
	s := &Suite{opts: o, Name: scratch.Name(o.Prefix), addrs: map[string]string{}, procs: map[string]*exec.Cmd{},
		exits: map[string]chan error{}}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if s.Dir, err = os.MkdirTemp("", s.Name); err != nil {
		return nil, err
	}
	s.removeAtClose(func() error { return os.RemoveAll(s.Dir) })
	if s.opts.LogDir == "" {
		s.opts.LogDir = filepath.Join(s.Dir, "logs")
	}
	if err := os.MkdirAll(s.opts.LogDir, 0o755); err != nil {
		return nil, err
	}
	s.TLSDir = filepath.Join(s.Dir, "tls")
	if _, err := tlsx.EnsureDevCA(s.TLSDir, tlsx.Names(), time.Now()); err != nil {
		return nil, err
	}
	dsn, dropDB, err := scratch.Databases(o.AdminDSN, s.Name)
	if err != nil {
		return nil, err
	}
	s.adminDSN = dsn
	s.removeAtClose(dropDB)
	vhostURL, dropVhost, err := scratch.Vhost(o.AdminAMQP, s.Name)
	if err != nil {
		return nil, err
	}
	s.vhostURL = vhostURL
	s.removeAtClose(dropVhost)
	if err := s.makeUsers(ctx); err != nil {
		return nil, err
	}
	for _, name := range []string{"sandbox.http", "gateway.http", "payment.http"} {
		if s.addrs[name], err = freeAddr(); err != nil {
			return nil, err
		}
	}
	for _, svc := range Services[1:] {
		for _, kind := range []string{"grpc", "ops"} {
			if s.addrs[svc+"."+kind], err = freeAddr(); err != nil {
				return nil, err
			}
		}
	}
	for _, svc := range Services {
		if err := s.StartProcess(ctx, svc); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// makeUsers makes every service's own database and broker user, as `make run` does, named after
// the suite so Close can remove them.
func (s *Suite) makeUsers(ctx context.Context) error {
	serviceDSN, err := mysql.ParseDSN(s.adminDSN)
	if err != nil {
		return err
	}
	if s.opts.ServiceMySQLAddr != "" {
		serviceDSN.Addr = s.opts.ServiceMySQLAddr
	}
	serviceAMQP, err := url.Parse(s.vhostURL)
	if err != nil {
		return err
	}
	if s.opts.ServiceAMQPAddr != "" {
		serviceAMQP.Host = s.opts.ServiceAMQPAddr
	}
	settings := devenv.Settings{AdminDSN: s.opts.AdminDSN, AdminAMQ: s.opts.AdminAMQP, MySQLDSN: serviceDSN.FormatDSN(),
		AMQPURL: serviceAMQP.String(), Given: map[string]string{}, UserPrefix: s.Name}
	// Removed first at Close (cleanups run in reverse): users before their database and vhost.
	s.removeAtClose(s.dropUsers)
	s.exports, err = devenv.EnsureUsers(ctx, settings, nil)
	return err
}

// removeAtClose has Close run remove (in reverse order of registration) unless Options.Keep.
func (s *Suite) removeAtClose(remove func() error) {
	s.cleanup = append(s.cleanup, func() error {
		if s.opts.Keep {
			return nil
		}
		return remove()
	})
}

func (s *Suite) dropUsers() error {
	cfg, err := mysql.ParseDSN(s.opts.AdminDSN)
	if err != nil {
		return err
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer admin.Close()
	broker, err := access.NewBrokerAdmin(s.opts.AdminAMQP)
	if err != nil {
		return err
	}
	var errs []error
	for _, svc := range access.Services() {
		errs = append(errs, access.DropDatabaseUser(context.Background(), admin, access.DatabaseUser(s.Name, svc)),
			broker.DeleteUser(context.Background(), access.BrokerUser(s.Name, svc)))
	}
	return errors.Join(errs...)
}

// env is the environment of process svc: what scripts/run.sh gives it, on the suite's ports.
func (s *Suite) env(svc string) []string {
	a := s.addrs
	env := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"), "LOG_LEVEL": "warn",
		"TLS_CA_FILE":   filepath.Join(s.TLSDir, "ca.pem"),
		"TLS_CERT_FILE": filepath.Join(s.TLSDir, svc+".pem"), "TLS_KEY_FILE": filepath.Join(s.TLSDir, svc+"-key.pem"),
		"PAYMENT_BROKER_USER": access.BrokerUser(s.Name, "payment"),
		"ORDER_BROKER_USER":   access.BrokerUser(s.Name, "order"),
		"ORDER_TARGET":        a["order.grpc"], "PAYMENT_TARGET": a["payment.grpc"],
		"NOTIFICATION_TARGET": a["notification.grpc"], "COURSE_TARGET": a["course.grpc"],
	}
	for k, v := range s.exports {
		env[k] = v
	}
	for _, other := range Services[1:] {
		env[strings.ToUpper(other)+"_OPS_ADDR"] = a[other+".ops"]
		env[strings.ToUpper(other)+"_GRPC_ADDR"] = a[other+".grpc"]
	}
	sandboxURL := "http://" + a["sandbox.http"]
	switch svc {
	case "sandbox":
		env["SANDBOX_ADDR"], env["SANDBOX_PUBLIC_URL"] = a["sandbox.http"], sandboxURL
		env["SANDBOX_KEYS_DIR"] = filepath.Join(s.Dir, "sandbox")
	case "payment":
		env["PAYMENT_HTTP_ADDR"], env["PAYMENT_NOTIFY_BASE_URL"] = a["payment.http"], "http://"+a["payment.http"]
		env["PAYMENT_MERCHANT_FILE"] = filepath.Join(s.Dir, "sandbox", "merchant.json")
		env["ALIPAY_BASE_URL"], env["WECHAT_BASE_URL"] = sandboxURL, sandboxURL
	case "notification":
		env["WEBHOOK_SECRET_KEY"], env["WEBHOOK_ALLOW_PRIVATE"] = s.webhookKey(), "true"
	case "gateway":
		env["GATEWAY_HTTP_ADDR"], env["SANDBOX_URL"] = a["gateway.http"], sandboxURL
		env["GATEWAY_DEV_MODE"], env["GATEWAY_DEV_KEY_FILE"] = "true", filepath.Join(s.Dir, "dev-issuer-key.pem")
		// The load comes from one address and a few thousand users: the per-address and per-user
		// limits are the gateway's own guard, not what a load run measures.
		env["GATEWAY_RATE_PER_ADDRESS"], env["GATEWAY_BURST_PER_ADDRESS"] = "1000000", "1000000"
		env["GATEWAY_RATE_PER_USER"], env["GATEWAY_BURST_PER_USER"] = "1000", "1000"
	}
	for k, v := range s.opts.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

var webhookKeys sync.Map // suite name -> key

func (s *Suite) webhookKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	k, _ := webhookKeys.LoadOrStore(s.Name, base64.StdEncoding.EncodeToString(b))
	return k.(string)
}

// StartProcess starts svc (again) and waits until it answers: its ops /readyz, or the sandbox's
// /healthz and merchant file.
func (s *Suite) StartProcess(ctx context.Context, svc string) error {
	logf, err := os.OpenFile(filepath.Join(s.opts.LogDir, svc+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.opts.BinDir, svc))
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = s.env(svc), logf, logf, s.Dir
	// Its own process group, and killed with us if we die (Linux): a chaos run killed mid-way
	// leaves no service behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", svc, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	s.mu.Lock()
	s.procs[svc], s.exits[svc] = cmd, exited
	s.mu.Unlock()
	return s.waitReady(ctx, svc, exited)
}

func (s *Suite) waitReady(ctx context.Context, svc string, exited chan error) error {
	probe := "http://" + s.addrs[svc+".ops"] + "/readyz"
	if svc == "sandbox" {
		probe = "http://" + s.addrs["sandbox.http"] + "/healthz"
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := client.Get(probe)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if svc != "sandbox" {
					return nil
				}
				if _, err := os.Stat(filepath.Join(s.Dir, "sandbox", "merchant.json")); err == nil {
					return nil
				}
			}
		}
		select {
		case err := <-exited:
			exited <- err // Kill/Stop still see it
			logPath := filepath.Join(s.opts.LogDir, svc+".log")
			return fmt.Errorf("%s exited while starting: %v (log %s, ending:\n%s)", svc, err, logPath, logTail(logPath, 2048))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 2m (log %s)", svc, filepath.Join(s.opts.LogDir, svc+".log"))
		}
	}
}

// Kill sends SIGKILL to svc and waits until it is gone.
func (s *Suite) Kill(svc string) error { return s.stop(svc, syscall.SIGKILL) }

func (s *Suite) stop(svc string, sig syscall.Signal) error {
	s.mu.Lock()
	cmd, exited := s.procs[svc], s.exits[svc]
	delete(s.procs, svc)
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	return nil
}

// Pids are the running processes, for the CPU meter.
func (s *Suite) Pids() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for svc, cmd := range s.procs {
		out[svc] = cmd.Process.Pid
	}
	return out
}

// GatewayURL is the gateway's "http://host:port".
func (s *Suite) GatewayURL() string { return "http://" + s.addrs["gateway.http"] }

// SandboxURL is the sandbox's "http://host:port".
func (s *Suite) SandboxURL() string { return "http://" + s.addrs["sandbox.http"] }

// GRPCAddr is svc's gRPC address (mTLS; TLSDir has the admin's certificate).
func (s *Suite) GRPCAddr(svc string) string { return s.addrs[svc+".grpc"] }

// DSN is svc's database as the admin (the invariant checker reads every service's tables).
func (s *Suite) DSN(svc string) string {
	cfg, _ := mysql.ParseDSN(s.adminDSN)
	cfg.DBName = s.Name + "_" + svc
	cfg.ParseTime = true
	return cfg.FormatDSN()
}

// AdminDSN is MariaDB as the admin, on no database.
func (s *Suite) AdminDSN() string {
	cfg, _ := mysql.ParseDSN(s.adminDSN)
	cfg.DBName = ""
	return cfg.FormatDSN()
}

// AMQPURL is the suite's vhost as the broker admin.
func (s *Suite) AMQPURL() string { return s.vhostURL }

// Vhost is the suite's vhost.
func (s *Suite) Vhost() string { return s.Name }

// LogDir is where each process's output is.
func (s *Suite) LogDir() string { return s.opts.LogDir }

// Close stops every process (SIGTERM, as Ctrl-C on `make run`) and removes what Start made
// (unless Options.Keep).
func (s *Suite) Close() error {
	var wg sync.WaitGroup
	for _, svc := range Services {
		wg.Go(func() { _ = s.stop(svc, syscall.SIGTERM) })
	}
	wg.Wait()
	var errs []error
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		errs = append(errs, s.cleanup[i]())
	}
	return errors.Join(errs...)
}

func freeAddr() (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer lis.Close()
	return lis.Addr().String(), nil
}

// Build builds every service's binary from the repository at root into binDir, as `make build`
// does (tests that start the suite build it first).
func Build(ctx context.Context, root, binDir string) error {
	for _, svc := range Services {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(binDir, svc), "./services/"+svc+"/cmd/"+svc)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", svc, err, out)
		}
	}
	return nil
}

// logTail is the last n bytes of the log at path: why a service stopped, kept in the error
// because a test's directory is gone by the time anyone reads it.
func logTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
