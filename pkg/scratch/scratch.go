// Package scratch makes throw-away databases and RabbitMQ vhosts on the real servers, for tests
// (through pkg/testkit) and benchmarks, so a run never touches another run's data.
package scratch

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Name returns prefix followed by random hex, safe for database and vhost names.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Databases returns baseDSN pointed at database name. Services open `<name>_<service>` from it
// (pkg/db); drop removes every database whose name starts with name.
func Databases(baseDSN, name string) (dsn string, drop func() error, err error) {
	cfg, err := mysql.ParseDSN(baseDSN)
	if err != nil {
		return "", nil, err
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return "", nil, err
	}
	if err := admin.Ping(); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("MariaDB at %s is not reachable: %w", cfg.Addr, err)
	}
	drop = func() error {
		defer admin.Close()
		rows, err := admin.Query("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ?",
			strings.ReplaceAll(name, "_", `\_`)+"%")
		if err != nil {
			return fmt.Errorf("list databases %s*: %w", name, err)
		}
		var names []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err == nil {
				names = append(names, n)
			}
		}
		rows.Close()
		var errs []error
		for _, n := range names {
			if _, err := admin.Exec("DROP DATABASE IF EXISTS `" + n + "`"); err != nil {
				errs = append(errs, fmt.Errorf("drop %s: %w", n, err))
			}
		}
		return errors.Join(errs...)
	}
	cfg.DBName = name
	cfg.ParseTime = true
	return cfg.FormatDSN(), drop, nil
}

// WaitHealthy polls conn's gRPC health service until it answers SERVING, stopped yields (the
// service's Run returned), ctx ends, or a minute passes.
func WaitHealthy(ctx context.Context, conn *grpc.ClientConn, stopped <-chan error) error {
	health := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-stopped:
			return fmt.Errorf("service stopped before it was healthy: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		c, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := health.Check(c, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("service not healthy after a minute")
}
