package grpcserver_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

// A client from Dial spreads its calls over every address its target resolves to (two
// replicas behind one name), not only the first, and over a comma-separated list of replicas.
func TestDialBalancesOverEveryReplica(t *testing.T) {
	stack := testkit.NewStack(t)
	serverTLS, err := tlsx.Load(stack.TLS(tlsx.Order), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, err := tlsx.Load(stack.TLS(tlsx.Admin), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var addrs []resolver.Address
	for range 2 {
		s := grpcserver.New(testkit.Logger(t), grpcserver.Options{TLS: serverTLS, Callers: grpcauth.Policy{}})
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = s.ServeListener(ctx, lis) }()
		addrs = append(addrs, resolver.Address{Addr: lis.Addr().String()})
	}
	r := manual.NewBuilderWithScheme("replicas")
	r.InitialState(resolver.State{Addresses: addrs})
	byName, err := grpcserver.Dial("replicas:///order", clientTLS, tlsx.Order, grpc.WithResolvers(r))
	if err != nil {
		t.Fatal(err)
	}
	defer byName.Close()
	byList, err := grpcserver.Dial(addrs[0].Addr+","+addrs[1].Addr, clientTLS, tlsx.Order)
	if err != nil {
		t.Fatal(err)
	}
	defer byList.Close()
	for what, conn := range map[string]*grpc.ClientConn{"a name with two addresses": byName, "a list of two": byList} {
		// round_robin uses a replica once its connection is ready: call until both answered
		// (pick_first, gRPC's default, never would).
		served := map[string]int{}
		client := healthpb.NewHealthClient(conn)
		testkit.Eventually(t, 20*time.Second, func() bool {
			var p peer.Peer
			if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p), grpc.WaitForReady(true)); err != nil {
				t.Fatal(err)
			}
			served[p.Addr.String()]++
			return len(served) == 2
		}, "%s: calls per replica = %v; want both replicas to serve", what, testkit.Lazy(func() any { return served }))
	}
}
