// Package migrations embeds the order service's goose SQL migrations.
package migrations

import "embed"

// FS holds 00001_init.sql and the later versions, at its root as pkg/db.Open expects.
//
//go:embed *.sql
var FS embed.FS
