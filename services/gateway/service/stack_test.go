package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/gateway/service"
	orderservice "github.com/paysuite/paysuite/services/order/service"
)

// stack is every paysuite process the gateway fronts, started in-process against a fresh
// database and vhost, with the gateway on a real listener.
type stack struct {
	t       *testing.T
	baseURL string // the gateway
	client  *http.Client
}

func startStack(t *testing.T) *stack {
	t.Helper()
	log := testkit.Logger(t)
	dsn := testkit.MySQLDSN(t)
	amqpURL := testkit.AMQPURL(t)

	orderCfg := orderservice.Config{
		GRPCAddr:      testkit.FreeAddr(t),
		MySQLDSN:      dsn,
		PayTimeout:    10 * time.Minute,
		SweepInterval: time.Minute,
		SweepGrace:    time.Minute,
		SnowflakeNode: 11,
		AMQPURL:       amqpURL,
	}
	testkit.Go(t, func(ctx context.Context) error { return orderservice.Run(ctx, orderCfg, log.With("svc", "order")) })
	testkit.DialGRPC(t, orderCfg.GRPCAddr)

	gwCfg := service.Config{
		HTTPAddr:           testkit.FreeAddr(t),
		OrderTarget:        orderCfg.GRPCAddr,
		PaymentTarget:      testkit.FreeAddr(t),
		NotificationTarget: testkit.FreeAddr(t),
		CourseTarget:       testkit.FreeAddr(t),
		SandboxURL:         "http://" + testkit.FreeAddr(t),
		DevMode:            true,
		MaxBodyBytes:       1 << 20,
	}
	testkit.Go(t, func(ctx context.Context) error { return service.Run(ctx, gwCfg, log.With("svc", "gateway")) })
	s := &stack{t: t, baseURL: "http://" + gwCfg.HTTPAddr, client: &http.Client{Timeout: 30 * time.Second}}
	testkit.Eventually(t, 10*time.Second, func() bool {
		resp, err := s.client.Get(s.baseURL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "gateway never answered /healthz")
	return s
}

// response is what a client sees: status, headers and the decoded JSON body.
type response struct {
	Status int
	Header http.Header
	Raw    string
	JSON   map[string]any
}

// str returns a top-level string field (ids are strings: int64 in protojson).
func (r response) str(field string) string {
	v, _ := r.JSON[field].(string)
	return v
}

func (s *stack) do(method, path string, body any, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, s.baseURL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(raw, &out.JSON)
	}
	return out
}

// expect fails unless the response has the status and, for errors, the gRPC-style body.
func (s *stack) expect(r response, status int, what string) response {
	s.t.Helper()
	if r.Status != status {
		s.t.Fatalf("%s: HTTP %d, want %d; body %s", what, r.Status, status, r.Raw)
	}
	if status >= 400 {
		if _, ok := r.JSON["code"].(float64); !ok || r.str("message") == "" {
			s.t.Fatalf("%s: error body lacks code/message: %s", what, r.Raw)
		}
	}
	return r
}
