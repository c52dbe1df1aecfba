// Package logging builds the JSON slog logger every paysuite process uses.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// New returns a JSON logger to stdout tagged with the service name; LOG_LEVEL picks the level
// (debug, info, warn, error; default info).
func New(service string) *slog.Logger {
	return NewTo(os.Stdout, service, os.Getenv("LOG_LEVEL"))
}

// NewTo is New with an explicit writer and level, for tests. An unknown level logs at info:
// the process checks LOG_LEVEL with its configuration (run.Service) and stops on a bad one.
func NewTo(w io.Writer, service, level string) *slog.Logger {
	lvl, ok := ParseLevel(level)
	if !ok {
		lvl = slog.LevelInfo
	}
	return slog.New(WithTrace(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl}))).With("service", service)
}

// ParseLevel reads a LOG_LEVEL value: debug, info, warn or error, in any case; empty is info.
func ParseLevel(level string) (slog.Level, bool) {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "debug":
		return slog.LevelDebug, true
	case "", "info":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return slog.LevelInfo, false
}

// WithTrace wraps h so every record logged with a context inside a span (log.InfoContext(ctx,
// …), log.Log(ctx, …)) carries trace_id and span_id, the ids a trace viewer finds it by.
func WithTrace(h slog.Handler) slog.Handler { return traceHandler{h} }

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
