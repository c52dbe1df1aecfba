package metrics

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// The RED series: requests by outcome and their latency, for gRPC (server and client) and HTTP.
const (
	GRPCServerHandled = "grpc_server_handled_total"
	GRPCServerSeconds = "grpc_server_handling_seconds"
	GRPCClientHandled = "grpc_client_handled_total"
	GRPCClientSeconds = "grpc_client_handling_seconds"
	HTTPRequests      = "http_server_requests_total"
	HTTPSeconds       = "http_server_request_duration_seconds"
)

func init() {
	declare(GRPCServerHandled, GRPCServerSeconds, GRPCClientHandled, GRPCClientSeconds, HTTPRequests, HTTPSeconds)
}

// latencyBuckets span a cache hit to a provider call that times out.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// GRPC is the RED series of one side (server or client) of a process's gRPC calls.
type GRPC struct {
	handled *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

func newGRPC(reg prometheus.Registerer, handled, seconds, side string) *GRPC {
	g := &GRPC{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: handled,
			Help: "gRPC calls completed as " + side + ", by service, method and status code."},
			[]string{"grpc_service", "grpc_method", "grpc_code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: seconds,
			Help: "gRPC call latency as " + side + ", by service and method.", Buckets: latencyBuckets},
			[]string{"grpc_service", "grpc_method"}),
	}
	reg.MustRegister(g.handled, g.seconds)
	return g
}

// NewGRPCServer registers the server-side gRPC RED series on reg.
func NewGRPCServer(reg prometheus.Registerer) *GRPC {
	return newGRPC(reg, GRPCServerHandled, GRPCServerSeconds, "server")
}

// NewGRPCClient registers the client-side gRPC RED series on reg.
func NewGRPCClient(reg prometheus.Registerer) *GRPC {
	return newGRPC(reg, GRPCClientHandled, GRPCClientSeconds, "client")
}

func (g *GRPC) observe(fullMethod string, start time.Time, err error) {
	svc, method := splitMethod(fullMethod)
	g.handled.WithLabelValues(svc, method, status.Code(err).String()).Inc()
	g.seconds.WithLabelValues(svc, method).Observe(time.Since(start).Seconds())
}

// splitMethod turns "/pkg.Service/Method" into ("pkg.Service", "Method").
func splitMethod(full string) (string, string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "unknown", full
}

// UnaryServer records each unary call the server handles. A nil g records nothing.
func (g *GRPC) UnaryServer() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := h(ctx, req)
		g.observe(info.FullMethod, start, err)
		return resp, err
	}
}

// StreamServer records each stream the server handles, when it ends.
func (g *GRPC) StreamServer() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		start := time.Now()
		err := h(srv, ss)
		g.observe(info.FullMethod, start, err)
		return err
	}
}

// UnaryClient records each unary call the client makes.
func (g *GRPC) UnaryClient() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		start := time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		g.observe(method, start, err)
		return err
	}
}

// HTTP is the RED series of a process's HTTP servers.
type HTTP struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

// NewHTTP registers the HTTP server RED series on reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	h := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: HTTPRequests,
			Help: "HTTP requests served, by server, route and status code."}, []string{"server", "route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: HTTPSeconds,
			Help: "HTTP request latency, by server and route.", Buckets: latencyBuckets}, []string{"server", "route"}),
	}
	reg.MustRegister(h.requests, h.seconds)
	return h
}

// Handler records every request next serves, labelled with server (e.g. "gateway", "notify")
// and the route: the ServeMux pattern that matched (r.Pattern, set by http.ServeMux), or the
// route function's answer, else "other" (never the raw path: ids would make the label
// unbounded).
func (h *HTTP) Handler(server string, next http.Handler, route func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		rt := r.Pattern
		if rt == "" && sw.code == http.StatusNotFound {
			rt = "other" // an unknown path is not a route
		}
		if rt == "" && route != nil {
			rt = route(r)
		}
		if rt == "" {
			rt = "other"
		}
		h.requests.WithLabelValues(server, rt, statusText(sw.code)).Inc()
		h.seconds.WithLabelValues(server, rt).Observe(time.Since(start).Seconds())
	})
}

func statusText(code int) string {
	const digits = "0123456789"
	if code < 100 || code > 999 {
		return "other"
	}
	return string([]byte{digits[code/100], digits[code/10%10], digits[code%10]})
}

// statusWriter remembers the status code; it passes Flush on (the gateway streams events).
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// PathRoute names a request's route after its path with every segment that looks like an id
// (a digit in four characters or more, or long) replaced by {id} (/v1/orders/{id}/payments),
// and at most four segments: a label from a small set, for servers whose router does not say
// which pattern matched (grpc-gateway).
func PathRoute(r *http.Request) string {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) > 4 {
		segs = append(segs[:4], "...")
	}
	for i, s := range segs {
		if len(s) > 32 || len(s) >= 4 && strings.ContainsAny(s, "0123456789") { // "v1" stays
			segs[i] = "{id}"
		}
	}
	return r.Method + " /" + strings.Join(segs, "/")
}
