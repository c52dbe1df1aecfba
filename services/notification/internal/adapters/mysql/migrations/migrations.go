// Package migrations embeds the notification service's goose SQL migrations.
package migrations

import "embed"

// FS holds the *.sql files at its root, as pkg/db.Open expects.
//
//go:embed *.sql
var FS embed.FS
