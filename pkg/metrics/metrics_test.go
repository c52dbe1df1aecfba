package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/metrics"
)

func TestGRPCServerCountsEveryCallByCode(t *testing.T) {
	reg := metrics.NewRegistry()
	red := metrics.NewGRPCServer(reg)
	call := red.UnaryServer()
	info := &grpc.UnaryServerInfo{FullMethod: "/paysuite.order.v1.OrderService/GetOrder"}
	_, _ = call(context.Background(), nil, info, func(context.Context, any) (any, error) { return "ok", nil })
	_, _ = call(context.Background(), nil, info, func(context.Context, any) (any, error) {
		return nil, status.Error(codes.NotFound, "no such order")
	})
	want := `
# HELP grpc_server_handled_total gRPC calls completed as server, by service, method and status code.
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_code="NotFound",grpc_method="GetOrder",grpc_service="paysuite.order.v1.OrderService"} 1
grpc_server_handled_total{grpc_code="OK",grpc_method="GetOrder",grpc_service="paysuite.order.v1.OrderService"} 1
`
	if err := testutil.GatherAndCompare(reg, stringsReader(want), metrics.GRPCServerHandled); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, metrics.GRPCServerSeconds); n != 1 {
		t.Fatalf("latency series = %d, want 1 (one method)", n)
	}
}

func TestHTTPRouteLabelIsBounded(t *testing.T) {
	reg := metrics.NewRegistry()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /notify/alipay", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := metrics.NewHTTP(reg).Handler("notify", mux, metrics.PathRoute)
	for _, path := range []string{"/notify/alipay", "/no/such/path/1", "/no/such/path/2"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", path, nil))
	}
	want := `
# HELP http_server_requests_total HTTP requests served, by server, route and status code.
# TYPE http_server_requests_total counter
http_server_requests_total{code="204",route="POST /notify/alipay",server="notify"} 1
http_server_requests_total{code="404",route="other",server="notify"} 2
`
	if err := testutil.GatherAndCompare(reg, stringsReader(want), metrics.HTTPRequests); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/v1/orders/123456/payments", nil)
	if got := metrics.PathRoute(r); got != "GET /v1/orders/{id}/payments" {
		t.Fatalf("PathRoute = %q", got)
	}
}

type fakeLock struct {
	held bool
	err  error
}

func (f *fakeLock) Hold(context.Context) (bool, error)         { return f.held, f.err }
func (f *fakeLock) Release()                                   { f.held = false }
func (f *fakeLock) Fenced(ctx context.Context) context.Context { return ctx }

func TestLeaderSeriesFollowsTheLock(t *testing.T) {
	reg := metrics.NewRegistry()
	inner := &fakeLock{}
	lock := metrics.NewLeader(reg).Watch("amqpx_relay", inner)
	leader := func() float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == metrics.LeaderName {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}
	if leader() != 0 {
		t.Fatal("a lock not yet held reports leader")
	}
	inner.held = true
	_, _ = lock.Hold(context.Background())
	if leader() != 1 {
		t.Fatal("a held lock does not report leader")
	}
	inner.held, inner.err = false, errors.New("connection lost")
	_, _ = lock.Hold(context.Background())
	if leader() != 0 {
		t.Fatal("a lost lock still reports leader")
	}
}

func TestRegistryKnowsItsNamesAndCatalogHasEverySeries(t *testing.T) {
	reg := metrics.NewRegistry()
	metrics.NewGRPCServer(reg)
	names := reg.Names()
	for _, n := range []string{metrics.GRPCServerHandled, "paysuite_tx_retries_total", "go_goroutines"} {
		if !slices.Contains(names, n) {
			t.Errorf("registry names lack %s: %v", n, names)
		}
	}
	cat := metrics.Catalog()
	for _, n := range []string{metrics.GRPCServerHandled, metrics.HTTPRequests, metrics.LeaderName, metrics.Payments.Name,
		metrics.NotifiesName, "paysuite_anomalies_open"} {
		if !slices.Contains(cat, n) {
			t.Errorf("catalog lacks %s", n)
		}
	}
}
