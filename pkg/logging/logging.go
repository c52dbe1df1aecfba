// Package logging builds the JSON slog logger every paysuite process uses.
package logging

import (
	"io"
	"log/slog"
	"os"
	"strings"
)

// New returns a JSON logger to stdout tagged with the service name; LOG_LEVEL picks the level
// (debug, info, warn, error; default info).
func New(service string) *slog.Logger {
	return NewTo(os.Stdout, service, os.Getenv("LOG_LEVEL"))
}

// NewTo is New with an explicit writer and level, for tests.
func NewTo(w io.Writer, service, level string) *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl})).With("service", service)
}
