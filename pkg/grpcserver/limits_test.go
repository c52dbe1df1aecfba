package grpcserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestConnectionLimits speaks raw HTTP/2 to a server from New: it advertises
// MaxConcurrentStreams, and a client flooding it with pings is sent away (GOAWAY
// ENHANCE_YOUR_CALM) rather than served forever.
func TestConnectionLimits(t *testing.T) {
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.ServeListener(ctx, lis) }()

	conn, err := net.Dial("tcp", lis.Addr().String())
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
			if !sawSettings || maxStreams != MaxConcurrentStreams {
				t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS %d, want %d", maxStreams, MaxConcurrentStreams)
			}
			return
		}
		if i < 100 { // a ping every frame: far more often than KeepaliveMinTime allows
			_ = fr.WritePing(false, [8]byte{byte(i)})
		}
	}
}
