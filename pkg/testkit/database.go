package testkit

import (
	"context"
	"database/sql"
	"io/fs"
	"testing"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
)

// OpenDB opens the throw-away database `<test database>_<suffix>` on the real MariaDB, creating it
// and running migrations (goose files at its root), and closes it at cleanup.
func OpenDB(t testing.TB, suffix string, migrations fs.FS) (*gorm.DB, *sql.DB) {
	t.Helper()
	gdb, err := db.Open(context.Background(), MySQLDSN(t), suffix, migrations, Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	return gdb, sqlDB
}
