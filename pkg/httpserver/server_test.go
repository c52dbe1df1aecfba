package httpserver

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestASlowBodyIsCutOff: a client that announces a body and never sends it all gets its
// request failed by the body read deadline, and a request without a body may stream for longer
// than that deadline.
func TestASlowBodyIsCutOff(t *testing.T) {
	readErr := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		if err != nil {
			http.Error(w, "body too slow", http.StatusRequestTimeout)
		}
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			_, _ = io.WriteString(w, strings.Repeat("x", i+1)+"\n")
			http.NewResponseController(w).Flush()
			time.Sleep(300 * time.Millisecond) // past the body deadline: must not matter here
		}
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = ServeListener(ctx, lis, mux, slog.New(slog.NewTextHandler(io.Discard, nil)), WithBodyReadTimeout(200*time.Millisecond))
	}()

	conn, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("the handler read a body that never fully arrived")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a trickled body held the handler past its deadline")
	}

	resp, err := http.Get("http://" + lis.Addr().String() + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := 0
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		lines++
	}
	if lines != 3 {
		t.Fatalf("a bodiless streaming response was cut after %d of 3 lines", lines)
	}
}
