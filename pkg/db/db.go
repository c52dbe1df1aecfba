// Package db opens a service's own MySQL/MariaDB database with gorm and migrates it with
// versioned SQL files (goose), so the schema history is reviewable and reversible.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	gormmysql "gorm.io/driver/mysql"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/sqlerr"
)

// DefaultDSN is used when MYSQL_DSN is not set.
const DefaultDSN = "root@tcp(127.0.0.1:3306)/paysuite?parseTime=true"

var safeName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// Pool sizes the connection pool; zero values take the defaults.
type Pool struct {
	MaxOpen     int
	MaxIdle     int
	MaxLifetime time.Duration
}

// ServiceDSN returns dsn pointed at the service's own database `<database>_<service>`,
// with the driver settings every service relies on (UTC times, interpolated parameters).
func ServiceDSN(dsn, service string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("MYSQL_DSN: %w", err)
	}
	if cfg.DBName == "" {
		return nil, errors.New("MYSQL_DSN: no database name (want …/paysuite?parseTime=true)")
	}
	cfg.DBName = cfg.DBName + "_" + service
	if !safeName.MatchString(cfg.DBName) {
		return nil, fmt.Errorf("database name %q: want letters, digits and _", cfg.DBName)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// One round trip per statement instead of prepare+execute+close.
	cfg.InterpolateParams = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	return cfg, nil
}

// Open creates the service's database if needed, runs the migrations found at the root of
// migrations, and returns a gorm handle with a sized pool.
func Open(ctx context.Context, dsn, service string, migrations fs.FS, log *slog.Logger) (*gorm.DB, error) {
	return OpenWithPool(ctx, dsn, service, migrations, log, Pool{})
}

// OpenWithPool is Open with explicit pool sizes.
func OpenWithPool(ctx context.Context, dsn, service string, migrations fs.FS, log *slog.Logger, pool Pool) (*gorm.DB, error) {
	cfg, err := ServiceDSN(dsn, service)
	if err != nil {
		return nil, err
	}
	if err := createDatabase(ctx, cfg); err != nil {
		return nil, err
	}
	gdb, err := gorm.Open(gormmysql.New(gormmysql.Config{DSN: cfg.FormatDSN()}), &gorm.Config{
		Logger:                 newSQLLogger(log, 500*time.Millisecond),
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.DBName, err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, err
	}
	if pool.MaxOpen == 0 {
		pool.MaxOpen = 64
	}
	if pool.MaxIdle == 0 {
		pool.MaxIdle = 16
	}
	if pool.MaxLifetime == 0 {
		pool.MaxLifetime = 30 * time.Minute
	}
	sqlDB.SetMaxOpenConns(pool.MaxOpen)
	sqlDB.SetMaxIdleConns(pool.MaxIdle)
	sqlDB.SetConnMaxLifetime(pool.MaxLifetime)
	if err := Migrate(ctx, sqlDB, migrations, log); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("migrate %s: %w", cfg.DBName, err)
	}
	return gdb, nil
}

// Migrate applies every pending goose migration in migrations.
func Migrate(ctx context.Context, sqlDB *sql.DB, migrations fs.FS, log *slog.Logger) error {
	provider, err := goose.NewProvider(goose.DialectMySQL, sqlDB, migrations)
	if err != nil {
		return err
	}
	results, err := provider.Up(ctx)
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "ms", r.Duration.Milliseconds())
	}
	return err
}

func createDatabase(ctx context.Context, cfg *mysql.Config) error {
	admin := cfg.Clone()
	admin.DBName = ""
	conn, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		return err
	}
	defer conn.Close()
	// The name was checked against safeName, so quoting it with backticks is safe.
	_, err = conn.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+cfg.DBName+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
	if err != nil {
		return fmt.Errorf("create database %s (is MariaDB running at %s?): %w", cfg.DBName, cfg.Addr, err)
	}
	return nil
}

// IsDuplicateKey reports whether err is a unique-index violation (MySQL error 1062).
func IsDuplicateKey(err error) bool { return sqlerr.DuplicateKey(err) }

// MigrateNamed is Migrate with its own version table, for a shared package (such as the
// outbox) that keeps its tables beside a service's own migrations.
func MigrateNamed(ctx context.Context, sqlDB *sql.DB, migrations fs.FS, versionTable string, log *slog.Logger) error {
	store, err := database.NewStore(database.DialectMySQL, versionTable)
	if err != nil {
		return err
	}
	provider, err := goose.NewProvider("", sqlDB, migrations, goose.WithStore(store))
	if err != nil {
		return err
	}
	results, err := provider.Up(ctx)
	for _, r := range results {
		log.Info("migration applied", "table", versionTable, "version", r.Source.Version, "file", r.Source.Path)
	}
	return err
}

// IsDuplicateKeyOn reports whether err is a unique-index violation of the index named key
// (MariaDB: "… for key 'key'"; MySQL 8: "… for key 'table.key'"). Code that reads a duplicate
// as "already done" must name the natural key it means (a request id, an event id): a clash
// on a generated primary key is a bug to surface, never a duplicate request.
func IsDuplicateKeyOn(err error, key string) bool { return sqlerr.DuplicateKeyOn(err, key) }
