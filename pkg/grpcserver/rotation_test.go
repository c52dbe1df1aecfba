package grpcserver_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

// serverSerial makes one health check on conn and returns the serial of the certificate the
// server presented on that connection.
func serverSerial(t *testing.T, conn *grpc.ClientConn) *big.Int {
	t.Helper()
	var p peer.Peer
	if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Peer(&p)); err != nil {
		t.Fatalf("health check: %v", err)
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		t.Fatalf("no TLS peer: %#v", p.AuthInfo)
	}
	return info.State.PeerCertificates[0].SerialNumber
}

// cert-manager replaces a server's certificate files while clients are connected: established
// connections and streams carry on, new connections get the new certificate, no call fails.
func TestCertificateRotationWithClientsConnected(t *testing.T) {
	stack := testkit.NewStack(t)
	files := stack.TLS(tlsx.Order)
	src, err := tlsx.Load(files, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpcserver.New(testkit.Logger(t), grpcserver.Options{TLS: src, Callers: grpcauth.Policy{}})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Go(t, func(ctx context.Context) error { return srv.ServeListener(ctx, lis) })
	addr := lis.Addr().String()

	var before []*grpc.ClientConn
	var old *big.Int
	for range 3 {
		conn := stack.Dial(tlsx.Order, addr)
		before = append(before, conn)
		old = serverSerial(t, conn)
	}
	watch, err := healthpb.NewHealthClient(before[0]).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch: %v %v", resp, err)
	}

	certPEM, keyPEM, err := stack.CA().Issue(tlsx.Order, time.Now().Add(-time.Minute), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files.Key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files.Cert, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	newSerial := func() *big.Int {
		c, err := x509.ParseCertificate(mustDER(t, certPEM))
		if err != nil {
			t.Fatal(err)
		}
		return c.SerialNumber
	}()

	for i := range 3 {
		fresh := stack.Dial(tlsx.Order, addr) // a new connection: a new handshake
		if got := serverSerial(t, fresh); got.Cmp(newSerial) != 0 {
			t.Fatalf("new connection %d got certificate %s, want the rotated %s", i, got, newSerial)
		}
	}
	for i, conn := range before {
		if got := serverSerial(t, conn); got.Cmp(old) != 0 {
			t.Fatalf("connection %d from before the rotation: certificate %s, want it unchanged", i, got)
		}
	}
	if err := watch.Context().Err(); err != nil {
		t.Fatalf("the stream opened before the rotation ended: %v", err)
	}
}

func mustDER(t *testing.T, certPEM []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM block")
	}
	return block.Bytes
}
