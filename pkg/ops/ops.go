// Package ops is the plain-HTTP operations port every paysuite process serves beside its API:
// /healthz (200 while the process runs), /readyz (200 only while every dependency check
// passes: the database and the broker) and /metrics (Prometheus text from the process's own
// registry, with the Go runtime and process collectors).
package ops

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paysuite/paysuite/pkg/httpserver"
	"github.com/paysuite/paysuite/pkg/metrics"
)

// Check reports whether one dependency is reachable now.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// checkTimeout bounds each readiness check, so a hung dependency answers 503, not a timeout.
const checkTimeout = 2 * time.Second

// NewRegistry returns a metrics registry with the Go runtime and process collectors and the
// shared feature series (pkg/metrics); a service registers its own metrics on it.
func NewRegistry() *metrics.Registry { return metrics.NewRegistry() }

// Handler serves /healthz, /readyz (running checks) and /metrics (reg).
func Handler(reg prometheus.Gatherer, checks ...Check) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		code, failed := http.StatusOK, map[string]string{}
		for _, c := range checks {
			ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
			if err := c.Check(ctx); err != nil {
				code, failed[c.Name] = http.StatusServiceUnavailable, err.Error()
			}
			cancel()
		}
		if code != http.StatusOK {
			writeJSON(w, code, map[string]any{"status": "unavailable", "failed": failed})
			return
		}
		writeJSON(w, code, map[string]string{"status": "ready"})
	})
	opts := promhttp.HandlerOpts{}
	if r, ok := reg.(prometheus.Registerer); ok {
		opts.Registry = r // the handler's own error count
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, opts))
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve serves Handler(reg, checks...) on addr until ctx ends; an empty addr serves nothing
// (in-process tests that do not look at it).
func Serve(ctx context.Context, addr string, reg prometheus.Gatherer, log *slog.Logger, checks ...Check) error {
	if addr == "" {
		<-ctx.Done()
		return nil
	}
	return httpserver.Serve(ctx, addr, Handler(reg, checks...), log.With("component", "ops"))
}
