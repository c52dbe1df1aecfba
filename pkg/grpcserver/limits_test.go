package grpcserver_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

// TestConnectionLimits speaks raw HTTP/2, over the mutual TLS every server requires (as admin),
// to a server from New: it advertises MaxConcurrentStreams, and a client flooding it with pings
// is sent away (GOAWAY ENHANCE_YOUR_CALM) rather than served forever.
func TestConnectionLimits(t *testing.T) {
	stack := testkit.NewStack(t)
	serverTLS, err := tlsx.Load(stack.TLS(tlsx.Order), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, err := tlsx.Load(stack.TLS(tlsx.Admin), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	s := grpcserver.New(testkit.Logger(t), grpcserver.Options{TLS: serverTLS, Callers: grpcauth.Policy{}})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.ServeListener(ctx, lis) }()

	cfg := clientTLS.ClientConfig(tlsx.Order)
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", lis.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var maxStreams uint32
	var sawSettings bool
	for i := 0; ; i++ {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames (pings sent %d): %v", i, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				sawSettings = true
				maxStreams, _ = f.Value(http2.SettingMaxConcurrentStreams)
				_ = fr.WriteSettingsAck()
			}
		case *http2.GoAwayFrame:
			if f.ErrCode != http2.ErrCodeEnhanceYourCalm {
				t.Fatalf("GOAWAY %v, want ENHANCE_YOUR_CALM", f.ErrCode)
			}
			if !sawSettings || maxStreams != grpcserver.MaxConcurrentStreams {
				t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS %d, want %d", maxStreams, grpcserver.MaxConcurrentStreams)
			}
			return
		}
		if i < 100 { // a ping every frame: far more often than grpcserver.KeepaliveMinTime allows
			_ = fr.WritePing(false, [8]byte{byte(i)})
		}
	}
}
