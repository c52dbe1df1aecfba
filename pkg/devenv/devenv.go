// Package devenv prepares a development machine (make run) or docker-compose for the suite:
// the development CA with a certificate per name, and a broker and a database user per service
// with only its own rights (pkg/access). It reports every service's own connection settings as
// shell exports, which keep the generated passwords for the next run.
package devenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/access"
	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

// Settings are what the set-up reads from the environment.
type Settings struct {
	TLSDir   string // PAYSUITE_TLS_DIR (default .paysuite/tls)
	AdminDSN string // PAYSUITE_ADMIN_MYSQL_DSN: may create users and grant
	AdminAMQ string // PAYSUITE_ADMIN_AMQP_URL: may create users and set permissions
	MySQLDSN string // MYSQL_DSN: the server and database name the services use
	AMQPURL  string // AMQP_URL: the broker and vhost the services use
	// Given holds <SERVICE>_MYSQL_DSN and <SERVICE>_AMQP_URL already set (docker-compose
	// declares them): their users and passwords are made as given.
	Given map[string]string
	// UserPrefix names the users that are not given: <prefix>_<service> in MariaDB,
	// <prefix>-<service> in RabbitMQ (default "paysuite").
	UserPrefix string
}

// SettingsFromEnv reads Settings from lookup (os.LookupEnv).
func SettingsFromEnv(lookup func(string) (string, bool)) Settings {
	get := func(name, def string) string {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	s := Settings{
		TLSDir:     get("PAYSUITE_TLS_DIR", filepath.Join(".paysuite", "tls")),
		AdminDSN:   get("PAYSUITE_ADMIN_MYSQL_DSN", ""),
		AdminAMQ:   get("PAYSUITE_ADMIN_AMQP_URL", ""),
		MySQLDSN:   get("MYSQL_DSN", db.DefaultDSN),
		AMQPURL:    get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
		Given:      map[string]string{},
		UserPrefix: "paysuite",
	}
	for _, svc := range access.Services() {
		for _, suffix := range []string{"_MYSQL_DSN", "_AMQP_URL"} {
			name := strings.ToUpper(svc) + suffix
			if v := get(name, ""); v != "" {
				s.Given[name] = v
			}
		}
	}
	return s
}

// EnsureTLS makes (once) the development CA and a certificate for every name in s.TLSDir.
func EnsureTLS(s Settings, out io.Writer) error {
	made, err := tlsx.EnsureDevCA(s.TLSDir, tlsx.Names(), time.Now())
	if err != nil {
		return err
	}
	if len(made) > 0 {
		fmt.Fprintf(out, "devenv: development CA in %s: made %s\n", s.TLSDir, strings.Join(made, " "))
	}
	return nil
}

// EnsureUsers makes every service's broker and database user with its permissions, declares the
// payment results exchange (consumers may bind to it but not declare it), and returns every
// service's <SERVICE>_MYSQL_DSN and <SERVICE>_AMQP_URL. Passwords come from s.Given, else from
// previous (the exports of an earlier run), else are new.
func EnsureUsers(ctx context.Context, s Settings, previous map[string]string) (map[string]string, error) {
	if s.AdminDSN == "" || s.AdminAMQ == "" {
		return nil, fmt.Errorf("devenv: PAYSUITE_ADMIN_MYSQL_DSN and PAYSUITE_ADMIN_AMQP_URL are required to make the users")
	}
	exports := map[string]string{}
	if err := ensureDatabaseUsers(ctx, s, previous, exports); err != nil {
		return nil, err
	}
	if err := ensureBrokerUsers(ctx, s, previous, exports); err != nil {
		return nil, err
	}
	return exports, nil
}

// credentials returns the password of user: the given URL's, else the one an earlier run made for
// the same user, else a new one.
func credentials(given, previous string, user string, parse func(string) (string, string, error)) (string, error) {
	for _, raw := range []string{given, previous} {
		if raw == "" {
			continue
		}
		u, pw, err := parse(raw)
		if err != nil {
			return "", err
		}
		if given != "" || u == user {
			return pw, nil
		}
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func ensureDatabaseUsers(ctx context.Context, s Settings, previous, exports map[string]string) error {
	adminCfg, err := mysql.ParseDSN(s.AdminDSN)
	if err != nil {
		return fmt.Errorf("PAYSUITE_ADMIN_MYSQL_DSN: %w", err)
	}
	adminCfg.DBName = ""
	admin, err := sql.Open("mysql", adminCfg.FormatDSN())
	if err != nil {
		return err
	}
	defer admin.Close()
	parse := func(raw string) (string, string, error) {
		c, err := mysql.ParseDSN(raw)
		if err != nil {
			return "", "", err
		}
		return c.User, c.Passwd, nil
	}
	for _, svc := range access.Services() {
		name := strings.ToUpper(svc) + "_MYSQL_DSN"
		shared := s.MySQLDSN
		if s.Given[name] != "" {
			shared = s.Given[name]
		}
		cfg, err := mysql.ParseDSN(shared)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if s.Given[name] == "" {
			cfg.User = access.DatabaseUser(s.UserPrefix, svc)
		}
		if cfg.Passwd, err = credentials(s.Given[name], previous[name], cfg.User, parse); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		own, err := db.ServiceDSN(cfg.FormatDSN(), svc)
		if err != nil {
			return err
		}
		if err := access.EnsureDatabaseUser(ctx, admin, cfg.User, cfg.Passwd, own.DBName); err != nil {
			return err
		}
		exports[name] = cfg.FormatDSN()
	}
	return nil
}

func ensureBrokerUsers(ctx context.Context, s Settings, previous, exports map[string]string) error {
	admin, err := access.NewBrokerAdmin(s.AdminAMQ)
	if err != nil {
		return err
	}
	parse := func(raw string) (string, string, error) {
		u, err := url.Parse(raw)
		if err != nil {
			return "", "", err
		}
		pw, _ := u.User.Password()
		return u.User.Username(), pw, nil
	}
	vhost := ""
	for _, svc := range access.Services() {
		name := strings.ToUpper(svc) + "_AMQP_URL"
		shared := s.AMQPURL
		if s.Given[name] != "" {
			shared = s.Given[name]
		}
		uri, err := amqp.ParseURI(shared)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		u, _ := url.Parse(shared)
		user := uri.Username
		if s.Given[name] == "" {
			user = access.BrokerUser(s.UserPrefix, svc)
		}
		password, err := credentials(s.Given[name], previous[name], user, parse)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		perms, err := access.BrokerPermissionsOf(svc)
		if err != nil {
			return err
		}
		if err := admin.EnsureUser(ctx, user, password); err != nil {
			return err
		}
		if err := admin.SetPermissions(ctx, uri.Vhost, user, perms); err != nil {
			return err
		}
		u.User = url.UserPassword(user, password)
		exports[name] = u.String()
		vhost = uri.Vhost
	}
	return declareResultsExchange(s.AdminAMQ, vhost)
}

// declareResultsExchange declares the payment results fanout and the order's payment refusals
// fanout in vhost as the admin, so the consumers can bind to them before their publisher first
// starts.
func declareResultsExchange(adminURL, vhost string) error {
	uri, err := amqp.ParseURI(adminURL)
	if err != nil {
		return err
	}
	uri.Vhost = vhost
	conn, err := amqp.Dial(uri.String())
	if err != nil {
		return fmt.Errorf("devenv: broker as the admin: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := amqpx.DeclarePaymentResults(ch); err != nil {
		return err
	}
	return amqpx.DeclarePaymentRefusals(ch)
}

// ReadExports reads the NAME=value lines (optionally `export NAME='value'`) of an exports file;
// a missing file is empty.
func ReadExports(path string) (map[string]string, error) {
	out := map[string]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		name, value, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		out[name] = strings.Trim(value, "'")
	}
	return out, sc.Err()
}

// WriteExports writes exports as `export NAME='value'` lines, readable by the owner only.
func WriteExports(path string, exports map[string]string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	names := make([]string, 0, len(exports))
	for n := range exports {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("# Written by devenv (make run): each service's own database and broker user. Keep it private.\n")
	for _, n := range names {
		if strings.Contains(exports[n], "'") {
			return fmt.Errorf("devenv: %s contains a quote", n)
		}
		fmt.Fprintf(&b, "export %s='%s'\n", n, exports[n])
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
