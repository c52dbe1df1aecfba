package grpcauth_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

const (
	markPaid = "/test.Shop/MarkPaid"
	catalog  = "/test.Shop/Catalog"
	buy      = "/test.Shop/Buy"
	secret   = "/test.Shop/Secret"
)

// shop is a test service whose handlers record who reached them and whether the end user's
// metadata was to be believed.
type shop struct {
	mu      sync.Mutex
	reached []string
	trusted map[string]bool
}

func (s *shop) desc() *grpc.ServiceDesc {
	method := func(name string) grpc.MethodDesc {
		return grpc.MethodDesc{MethodName: name, Handler: func(_ any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(emptypb.Empty)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, _ any) (any, error) {
				caller, _ := grpcauth.Caller(ctx)
				s.mu.Lock()
				s.reached = append(s.reached, caller+" "+name)
				s.trusted[caller] = grpcauth.TrustsEndUser(ctx)
				s.mu.Unlock()
				return &emptypb.Empty{}, nil
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{FullMethod: "/test.Shop/" + name}, h)
		}}
	}
	return &grpc.ServiceDesc{ServiceName: "test.Shop", HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{method("MarkPaid"), method("Catalog"), method("Buy"), method("Secret")}}
}

func policy() grpcauth.Policy {
	return grpcauth.Policy{
		markPaid: grpcauth.By(tlsx.Payment),
		catalog:  grpcauth.By(tlsx.Gateway, tlsx.Order).WithoutEndUser(),
		buy:      grpcauth.By(tlsx.Gateway),
		secret:   grpcauth.By(), // admin only
	}
}

func serve(t *testing.T, stack *testkit.Stack) (*shop, string) {
	t.Helper()
	src, err := tlsx.Load(stack.TLS(tlsx.Order), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	s := &shop{trusted: map[string]bool{}}
	srv := grpcserver.New(testkit.Logger(t), grpcserver.Options{TLS: src, Callers: policy(), Reflection: true})
	srv.GRPC().RegisterService(s.desc(), s)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Go(t, func(ctx context.Context) error { return srv.ServeListener(ctx, lis) })
	return s, lis.Addr().String()
}

func call(t *testing.T, stack *testkit.Stack, addr, caller, method string, md ...string) codes.Code {
	t.Helper()
	ctx := metadata.AppendToOutgoingContext(context.Background(), md...)
	err := stack.DialAs(caller, tlsx.Order, addr).Invoke(ctx, method, &emptypb.Empty{}, &emptypb.Empty{})
	return status.Code(err)
}

func TestEveryRPCAnswersOnlyItsCallers(t *testing.T) {
	stack := testkit.NewStack(t)
	s, addr := serve(t, stack)
	allowed := map[string][]string{
		markPaid: {tlsx.Payment, tlsx.Admin},
		catalog:  {tlsx.Gateway, tlsx.Order, tlsx.Admin},
		buy:      {tlsx.Gateway, tlsx.Admin},
		secret:   {tlsx.Admin},
	}
	for method, callers := range allowed {
		for _, caller := range tlsx.Names() {
			want := codes.PermissionDenied
			if contains(callers, caller) {
				want = codes.OK
			}
			// Every caller names an end user, as the gateway must (TestGatewayCallsNeedAnEndUser).
			if got := call(t, stack, addr, caller, method, grpcauth.EndUserKey, "u1"); got != want {
				t.Errorf("%s calling %s: %s, want %s", caller, method, got, want)
			}
		}
	}
	s.mu.Lock()
	for _, r := range s.reached {
		caller, method, _ := strings.Cut(r, " ")
		if !contains(allowed["/test.Shop/"+method], caller) {
			t.Errorf("a refused call reached the handler: %s", r)
		}
	}
	// The end user's metadata is believed from the gateway and admin only.
	for caller, trusted := range s.trusted {
		if want := caller == tlsx.Gateway || caller == tlsx.Admin; trusted != want {
			t.Errorf("TrustsEndUser for %s = %v, want %v", caller, trusted, want)
		}
	}
	s.mu.Unlock()

	// Health and reflection answer every authenticated caller.
	for _, caller := range tlsx.Names() {
		resp, err := healthpb.NewHealthClient(stack.DialAs(caller, tlsx.Order, addr)).Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health for %s: %v %v", caller, resp, err)
		}
	}
}

func TestGatewayCallsNeedAnEndUser(t *testing.T) {
	stack := testkit.NewStack(t)
	_, addr := serve(t, stack)
	if got := call(t, stack, addr, tlsx.Gateway, buy); got != codes.Unauthenticated {
		t.Errorf("gateway Buy without an end user: %s, want Unauthenticated", got)
	}
	if got := call(t, stack, addr, tlsx.Gateway, buy, grpcauth.EndUserKey, "u1"); got != codes.OK {
		t.Errorf("gateway Buy for u1: %s", got)
	}
	if got := call(t, stack, addr, tlsx.Gateway, catalog); got != codes.OK {
		t.Errorf("gateway Catalog (public) without an end user: %s", got)
	}
	if got := call(t, stack, addr, tlsx.Admin, buy); got != codes.OK {
		t.Errorf("admin Buy without an end user: %s", got)
	}
	if got := call(t, stack, addr, tlsx.Payment, markPaid); got != codes.OK {
		t.Errorf("payment MarkPaid (a service's own call) without an end user: %s", got)
	}
	if _, err := healthpb.NewHealthClient(stack.DialAs(tlsx.Gateway, tlsx.Order, addr)).Check(context.Background(),
		&healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("gateway health check without an end user: %v", err)
	}
}

func TestPolicyMustCoverTheServersRPCs(t *testing.T) {
	s := &shop{}
	srv := grpc.NewServer()
	srv.RegisterService(s.desc(), s)
	if err := policy().Covers(srv.GetServiceInfo()); err != nil {
		t.Fatalf("complete policy refused: %v", err)
	}
	incomplete := policy()
	delete(incomplete, secret)
	incomplete["/test.Shop/Gone"] = grpcauth.By(tlsx.Order)
	err := incomplete.Covers(srv.GetServiceInfo())
	if err == nil || !strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "/test.Shop/Gone") {
		t.Fatalf("Covers = %v, want both the missing and the unknown RPC named", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
