package db_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/testkit"
)

func TestOpenCreatesMigratesAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	dsn := testkit.MySQLDSN(t)
	migrations := os.DirFS("testdata/migrations")
	gdb, err := db.Open(ctx, dsn, "things", migrations, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	// A second start must find nothing to migrate and keep the data.
	if err := gdb.Exec("INSERT INTO things (id, name) VALUES (1, 'a')").Error; err != nil {
		t.Fatal(err)
	}
	again, err := db.Open(ctx, dsn, "things", migrations, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := again.Table("things").Count(&n).Error; err != nil || n != 1 {
		t.Fatalf("count = %d, %v; want 1", n, err)
	}
	err = again.Exec("INSERT INTO things (id, name) VALUES (2, 'a')").Error
	if !db.IsDuplicateKey(err) {
		t.Fatalf("duplicate name: err = %v, want duplicate key", err)
	}
}

func TestWithTxRollsBackEverything(t *testing.T) {
	ctx := context.Background()
	gdb, err := db.Open(ctx, testkit.MySQLDSN(t), "things", os.DirFS("testdata/migrations"), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	err = db.WithTx(ctx, gdb, func(ctx context.Context, tx *gorm.DB) error {
		if err := db.Conn(ctx, gdb).Exec("INSERT INTO things (id, name) VALUES (1, 'x')").Error; err != nil {
			return err
		}
		return db.Conn(ctx, gdb).Exec("INSERT INTO things (id, name) VALUES (2, 'x')").Error
	})
	if !db.IsDuplicateKey(err) {
		t.Fatalf("err = %v, want duplicate key", err)
	}
	var n int64
	if err := gdb.Table("things").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("rows after rollback = %d, want 0", n)
	}
}

func TestServiceDSNRefusesMissingDatabase(t *testing.T) {
	if _, err := db.ServiceDSN("root@tcp(127.0.0.1:3306)/", "order"); err == nil {
		t.Fatal("want an error for a DSN without a database")
	}
	cfg, err := db.ServiceDSN(db.DefaultDSN, "order")
	if err != nil || cfg.DBName != "paysuite_order" {
		t.Fatalf("DBName = %v, %v; want paysuite_order", cfg, err)
	}
}

func TestAfterCommitRunsOnlyAfterACommit(t *testing.T) {
	ctx := context.Background()
	gdb, err := db.Open(ctx, testkit.MySQLDSN(t), "things", os.DirFS("testdata/migrations"), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	var ran []string
	err = db.WithTx(ctx, gdb, func(ctx context.Context, tx *gorm.DB) error {
		db.AfterCommit(ctx, func() { ran = append(ran, "outer") })
		// A nested WithTx joins the outer transaction, so its hook waits for the outer commit.
		return db.WithTx(ctx, gdb, func(ctx context.Context, tx *gorm.DB) error {
			db.AfterCommit(ctx, func() { ran = append(ran, "inner") })
			if len(ran) != 0 {
				t.Error("hook ran before the commit")
			}
			return tx.Exec("INSERT INTO things (id, name) VALUES (1, 'a')").Error
		})
	})
	if err != nil || len(ran) != 2 {
		t.Fatalf("err = %v, hooks run = %v; want both after commit", err, ran)
	}

	ran = nil
	err = db.WithTx(ctx, gdb, func(ctx context.Context, tx *gorm.DB) error {
		db.AfterCommit(ctx, func() { ran = append(ran, "rolled back") })
		return tx.Exec("INSERT INTO things (id, name) VALUES (2, 'a')").Error // duplicate name
	})
	if !db.IsDuplicateKey(err) {
		t.Fatalf("err = %v, want the duplicate key that rolls the transaction back", err)
	}
	if len(ran) != 0 {
		t.Fatalf("hook ran after a rollback: %v", ran)
	}

	db.AfterCommit(ctx, func() { ran = append(ran, "no tx") })
	if len(ran) != 1 {
		t.Fatal("without a transaction the hook must run at once")
	}
}

func TestSQLLoggerKeepsExpectedOutcomesQuiet(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	ctx := context.Background()
	gdb, err := db.Open(ctx, testkit.MySQLDSN(t), "things", os.DirFS("testdata/migrations"), log)
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := gdb.Exec("INSERT INTO things (id, name) VALUES (?, ?)", 1, "secret-value").Error; err != nil {
		t.Fatal(err)
	}
	if err := gdb.Exec("INSERT INTO things (id, name) VALUES (?, ?)", 2, "secret-value").Error; !db.IsDuplicateKey(err) {
		t.Fatalf("err = %v, want a duplicate key", err) // expected by the caller, so not logged
	}
	if buf.Len() != 0 {
		t.Fatalf("fast and duplicate-key statements were logged: %s", buf.String())
	}
	if err := gdb.Exec("INSERT INTO no_such_table (id) VALUES (?)", 42).Error; err == nil {
		t.Fatal("insert into a missing table succeeded")
	}
	out := buf.String()
	if !strings.Contains(out, "no_such_table") || strings.Contains(out, "42)") {
		t.Fatalf("an unexpected error must be logged without its values, got: %s", out)
	}
}
