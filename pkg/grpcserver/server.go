// Package grpcserver is the gRPC bootstrap every paysuite service shares: mutual TLS and the
// per-RPC callers policy (pkg/tlsx, pkg/grpcauth), the end user believed from the gateway and
// admin only (pkg/principal), health, reflection, logging and panic recovery, connection limits,
// and a graceful drain when the context ends.
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/metrics"
	"github.com/paysuite/paysuite/pkg/principal/grpcprincipal"
	"github.com/paysuite/paysuite/pkg/tlsx"
	"github.com/paysuite/paysuite/pkg/tracing"
)

// DrainTimeout bounds how long in-flight RPCs may run after shutdown starts.
const DrainTimeout = 10 * time.Second

// Connection limits every server applies. MaxConcurrentStreams bounds what one connection may
// hold open (the gateway multiplexes every user's live order stream over one, so it is not
// small); the keepalive policy answers clients that ping more often than every 10 s with
// GOAWAY, and the server pings idle clients to drop dead connections.
const (
	MaxConcurrentStreams = 4096
	KeepaliveMinTime     = 10 * time.Second
	keepaliveTime        = 2 * time.Minute
	keepaliveTimeout     = 20 * time.Second
	// MaxConnectionAge sends a client GOAWAY after this long, so it resolves the service's name
	// again and spreads over the replicas started since: without it a long-lived client stays on
	// the replicas it first saw. Its in-flight RPCs get MaxConnectionAgeGrace (a long watch
	// stream is ended only then, and the client watches again).
	MaxConnectionAge      = 5 * time.Minute
	MaxConnectionAgeGrace = 15 * time.Minute
)

// ClientServiceConfig balances each client's calls round-robin over every address the target
// resolves to (a Kubernetes headless Service, several A records), instead of gRPC's default of
// the first address only.
const ClientServiceConfig = `{"loadBalancingConfig":[{"round_robin":{}}]}`

// Server wraps a grpc.Server with health and reflection registered.
type Server struct {
	grpc    *grpc.Server
	health  *health.Server
	log     *slog.Logger
	callers grpcauth.Policy
}

// Options are what every service decides about its server.
type Options struct {
	TLS        *tlsx.Source    // the server's certificate and the CA its callers' must chain to
	Callers    grpcauth.Policy // who may call each RPC (admin: everything)
	Reflection bool            // GRPC_REFLECTION: serve reflection (to authenticated callers)
	Metrics    *metrics.GRPC   // the server's RED series (nil: none)
}

// New builds a server that accepts only mutual TLS callers allowed by opts.Callers (the gateway
// naming its end user, grpcauth.Guard), and whose handlers are logged and recovered from panics.
func New(log *slog.Logger, opts Options, grpcOpts ...grpc.ServerOption) *Server {
	guard := grpcauth.NewGuard(opts.Callers, log)
	// After the guard has let the caller in, the end user's metadata (x-paysuite-user,
	// x-paysuite-roles) becomes the handler's principal only from the gateway or admin
	// (grpcauth.TrustsEndUser); from any other service it is ignored and the call is the
	// service's own, which the callers table limits.
	unary := []grpc.UnaryServerInterceptor{recoverUnary(log), guard.Unary(),
		grpcprincipal.UnaryServerInterceptor(grpcauth.TrustsEndUser), logUnary(log)}
	stream := []grpc.StreamServerInterceptor{recoverStream(log), guard.Stream(),
		grpcprincipal.StreamServerInterceptor(grpcauth.TrustsEndUser)}
	if opts.Metrics != nil {
		// Outermost: the series count refusals by the guard and recovered panics too.
		unary = append([]grpc.UnaryServerInterceptor{opts.Metrics.UnaryServer()}, unary...)
		stream = append([]grpc.StreamServerInterceptor{opts.Metrics.StreamServer()}, stream...)
	}
	grpcOpts = append([]grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(opts.TLS.ServerConfig())),
		// The server span continues the caller's trace (W3C traceparent in the metadata).
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithPropagators(tracing.Propagator))),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.MaxConcurrentStreams(MaxConcurrentStreams),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: KeepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout,
			MaxConnectionAge: MaxConnectionAge, MaxConnectionAgeGrace: MaxConnectionAgeGrace}),
	}, grpcOpts...)
	s := &Server{grpc: grpc.NewServer(grpcOpts...), health: health.NewServer(), log: log, callers: opts.Callers}
	healthpb.RegisterHealthServer(s.grpc, s.health)
	if opts.Reflection {
		reflection.Register(s.grpc)
	}
	return s
}

// GRPC is the server to register services on, before Serve.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Serve listens on addr and serves until ctx ends, then drains.
func (s *Server) Serve(ctx context.Context, addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("grpc listen %s: %w", addr, err)
	}
	return s.ServeListener(ctx, lis)
}

// ServeListener serves on lis until ctx ends: health turns NOT_SERVING, new RPCs are refused and
// in-flight ones get DrainTimeout to finish.
func (s *Server) ServeListener(ctx context.Context, lis net.Listener) error {
	if err := s.callers.Covers(s.grpc.GetServiceInfo()); err != nil {
		_ = lis.Close()
		return err
	}
	for name := range s.grpc.GetServiceInfo() {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.log.Info("grpc serving", "addr", lis.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- s.grpc.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.health.Shutdown()
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(DrainTimeout):
		s.log.Warn("grpc drain timed out; stopping")
		s.grpc.Stop()
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// Dial opens a client connection to the paysuite service named server (tlsx.Order, …) at addr,
// over mutual TLS with this process's certificate; the server must present server's identity.
// Calls are balanced round-robin over every address addr resolves to (a headless Service's
// pods), or over a fixed list "host:port,host:port" (replicas on one machine).
func Dial(addr string, src *tlsx.Source, server string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(src.ClientConfig(server))),
		grpc.WithDefaultServiceConfig(ClientServiceConfig),
		// Each call is a client span whose context travels in the metadata.
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithPropagators(tracing.Propagator)))}, opts...)
	if strings.Contains(addr, ",") {
		var list []resolver.Address
		for _, a := range strings.Split(addr, ",") {
			list = append(list, resolver.Address{Addr: strings.TrimSpace(a)})
		}
		r := manual.NewBuilderWithScheme("paysuite-list")
		r.InitialState(resolver.State{Addresses: list})
		opts = append(opts, grpc.WithResolvers(r))
		addr = "paysuite-list:///" + server
	}
	return grpc.NewClient(addr, opts...)
}

func logUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		code := status.Code(err)
		level := slog.LevelDebug
		switch code {
		case codes.OK, codes.NotFound, codes.InvalidArgument, codes.AlreadyExists, codes.FailedPrecondition:
		default:
			level = slog.LevelWarn
		}
		log.Log(ctx, level, "rpc", "method", info.FullMethod, "code", code.String(),
			"ms", time.Since(start).Milliseconds(), "err", errString(err))
		return resp, err
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in rpc", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return handler(ctx, req)
	}
}

func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in stream", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return handler(srv, ss)
	}
}
