// Package httpserver serves plain HTTP (provider notifies, the sandbox, the gateway) with a
// graceful shutdown when the context ends.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// DrainTimeout bounds how long in-flight requests may run after shutdown starts.
const DrainTimeout = 10 * time.Second

// DefaultBodyReadTimeout bounds how long a client may take to send a request body.
const DefaultBodyReadTimeout = 30 * time.Second

// Option tunes a server.
type Option func(*options)

type options struct{ bodyReadTimeout time.Duration }

// WithBodyReadTimeout replaces DefaultBodyReadTimeout (tests use a short one).
func WithBodyReadTimeout(d time.Duration) Option { return func(o *options) { o.bodyReadTimeout = d } }

// Serve listens on addr and serves handler until ctx ends.
func Serve(ctx context.Context, addr string, handler http.Handler, log *slog.Logger, opts ...Option) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", addr, err)
	}
	return ServeListener(ctx, lis, handler, log, opts...)
}

// ServeListener serves handler on lis until ctx ends, then lets in-flight requests finish.
// Headers must arrive within 10 s and a body within the body read timeout: a client trickling
// bytes cannot hold a connection and a handler forever.
func ServeListener(ctx context.Context, lis net.Listener, handler http.Handler, log *slog.Logger, opts ...Option) error {
	o := options{bodyReadTimeout: DefaultBodyReadTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	srv := &http.Server{
		Handler:           bodyDeadline(o.bodyReadTimeout, handler),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("http serving", "addr", lis.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DrainTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("http drain incomplete", "err", err)
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// bodyDeadline gives each request that has a body bodyTimeout to deliver it, and lifts the
// deadline once it is read: http.Server's ReadTimeout cannot be used, because it would also end
// the long responses (event streams) of requests without a body. A request whose body is late
// fails its read; the handler answers as for any unreadable body.
func bodyDeadline(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || timeout <= 0 {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			next.ServeHTTP(w, r) // a writer without deadlines (tests' recorders)
			return
		}
		r.Body = &liftOnEOF{ReadCloser: r.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		next.ServeHTTP(w, r)
	})
}

// liftOnEOF calls lift once its body has been read to the end.
type liftOnEOF struct {
	io.ReadCloser
	lift func()
	done bool
}

func (b *liftOnEOF) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.lift()
	}
	return n, err
}
