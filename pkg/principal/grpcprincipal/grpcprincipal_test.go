package grpcprincipal

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/principal"
)

// serve starts a health server with the principal interceptors (trust as their hook) and a last
// interceptor that records the principal each handler would see.
func serve(t *testing.T, trust Trust) (healthpb.HealthClient, *[]*principal.Principal) {
	t.Helper()
	var seen []*principal.Principal
	record := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if p, ok := principal.FromContext(ctx); ok {
			seen = append(seen, &p)
		} else {
			seen = append(seen, nil)
		}
		return h(ctx, req)
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(UnaryServerInterceptor(trust), record),
		grpc.ChainStreamInterceptor(StreamServerInterceptor(trust)))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(UnaryClientInterceptor()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn), &seen
}

// believeAll trusts every caller, to test the interceptors apart from any caller identity.
func believeAll(context.Context) bool { return true }

func TestThePrincipalTravelsFromATrustedCaller(t *testing.T) {
	client, seen := serve(t, believeAll)
	ctx := principal.NewContext(context.Background(), principal.Principal{UserID: "u1", Roles: []string{"merchant", "x"}})
	if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	got := *seen
	if len(got) != 2 || got[0] == nil || got[0].UserID != "u1" || !got[0].IsMerchant() || len(got[0].Roles) != 2 {
		t.Fatalf("first call: principal %+v", got[0])
	}
	if got[1] != nil {
		t.Fatalf("a call without metadata carried principal %+v; want a system call", got[1])
	}
}

func TestMetadataOfAnUntrustedCallerIsIgnored(t *testing.T) {
	for name, trust := range map[string]Trust{"untrusted caller": func(context.Context) bool { return false }, "no trust hook": nil} {
		client, seen := serve(t, trust)
		ctx := OutgoingContext(context.Background(), principal.Principal{UserID: "u1", Roles: []string{"merchant"}})
		if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		if p := (*seen)[0]; p != nil {
			t.Fatalf("%s: metadata believed: %+v", name, p)
		}
	}
}

func TestMalformedUserMetadataIsRefused(t *testing.T) {
	client, seen := serve(t, believeAll)
	for name, md := range map[string]metadata.MD{
		"two users":        metadata.Pairs(principal.MetadataUser, "a", principal.MetadataUser, "b"),
		"roles, no user":   metadata.Pairs(principal.MetadataRoles, "merchant"),
		"empty user":       metadata.Pairs(principal.MetadataUser, ""),
		"two roles values": metadata.Pairs(principal.MetadataUser, "a", principal.MetadataRoles, "x", principal.MetadataRoles, "merchant"),
	} {
		_, err := client.Check(metadata.NewOutgoingContext(context.Background(), md), &healthpb.HealthCheckRequest{})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: %v, want Unauthenticated", name, err)
		}
	}
	if len(*seen) != 0 {
		t.Fatalf("a handler ran for malformed metadata: %d calls", len(*seen))
	}
}

func TestOutgoingContextReplacesAForgedUser(t *testing.T) {
	ctx := metadata.AppendToOutgoingContext(context.Background(), principal.MetadataUser, "forged", principal.MetadataRoles, "merchant")
	ctx = OutgoingContext(ctx, principal.Principal{UserID: "real"})
	md, _ := metadata.FromOutgoingContext(ctx)
	if u := md.Get(principal.MetadataUser); len(u) != 1 || u[0] != "real" {
		t.Fatalf("user metadata %v", u)
	}
	if r := md.Get(principal.MetadataRoles); len(r) != 0 {
		t.Fatalf("roles of the forged user kept: %v", r)
	}
}
