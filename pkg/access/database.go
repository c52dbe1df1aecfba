package access

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// EnsureDatabaseUser makes user (any host, password) hold every privilege on database and
// nothing else: it may create that database, migrate it and use it, and cannot see any other.
// admin must be allowed to create users and grant.
func EnsureDatabaseUser(ctx context.Context, admin *sql.DB, user, password, database string) error {
	if err := checkCredentials(user, password); err != nil {
		return err
	}
	if !safeName.MatchString(database) || strings.ContainsAny(database, ".-") {
		return fmt.Errorf("access: database name %q: want letters, digits and _", database)
	}
	account := "'" + user + "'@'%'"
	// In GRANT, _ in a database name is a wildcard: escaped, the grant names exactly one database.
	grantee := "`" + strings.ReplaceAll(database, "_", `\_`) + "`.*"
	for _, stmt := range []string{
		"CREATE USER IF NOT EXISTS " + account + " IDENTIFIED BY '" + password + "'",
		"ALTER USER " + account + " IDENTIFIED BY '" + password + "'",
		"REVOKE ALL PRIVILEGES, GRANT OPTION FROM " + account,
		"GRANT ALL PRIVILEGES ON " + grantee + " TO " + account,
	} {
		if _, err := admin.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("access: database user %s: %w", user, err)
		}
	}
	return nil
}

// DropDatabaseUser removes user, if it exists.
func DropDatabaseUser(ctx context.Context, admin *sql.DB, user string) error {
	if !safeName.MatchString(user) {
		return fmt.Errorf("access: user name %q", user)
	}
	_, err := admin.ExecContext(ctx, "DROP USER IF EXISTS '"+user+"'@'%'")
	return err
}
