// Package grpcauth decides who may call which RPC. The caller is the paysuite name in its
// client certificate's SPIFFE ID (pkg/tlsx verified the certificate during the handshake); each
// gRPC server declares, next to itself, one Policy: for every RPC the callers it allows. admin
// may call everything; any other caller gets PermissionDenied, logged with its name and the
// method. Health and reflection answer every authenticated caller.
package grpcauth

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/tlsx"
)

// EndUserKey is the gRPC metadata key carrying the end user on whose behalf the gateway calls
// (pkg/principal reads it; see TrustsEndUser).
const EndUserKey = "x-paysuite-user"

// Caller returns the verified paysuite name of the peer that made the RPC in ctx.
func Caller(ctx context.Context) (string, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return "", false
	}
	return tlsx.NameOf(info.State.VerifiedChains[0][0])
}

// TrustsEndUser reports whether the end-user metadata of the RPC in ctx is to be believed: only
// the gateway (which verified the user's token) and admin speak for an end user. This is the
// trust hook of pkg/principal's server interceptor; from any other caller the metadata is
// passed on for audit but not believed.
func TrustsEndUser(ctx context.Context) bool {
	caller, ok := Caller(ctx)
	return ok && (caller == tlsx.Gateway || caller == tlsx.Admin)
}

// HasEndUser reports whether the RPC in ctx names an end user (metadata EndUserKey).
func HasEndUser(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get(EndUserKey) {
		if strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}

// Rule is who may call one RPC, besides admin.
type Rule struct {
	callers   []string
	anonymous bool
}

// By allows the named callers (tlsx.Order, tlsx.Gateway, …).
func By(callers ...string) Rule { return Rule{callers: callers} }

// WithoutEndUser marks an RPC the gateway may call without an end user (the public catalog);
// every other RPC refuses a gateway call that names none (Guard.Check).
func (r Rule) WithoutEndUser() Rule { r.anonymous = true; return r }

// Policy maps full method names ("/paysuite.order.v1.OrderService/MarkOrderPaid", the generated
// *_FullMethodName constants) to their Rule. A method missing from it is admin-only.
type Policy map[string]Rule

// isInfra reports whether method belongs to a service every authenticated caller may use:
// health and reflection.
func isInfra(method string) bool {
	service, _, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	switch service {
	case "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection":
		return true
	}
	return false
}

// Allows reports whether caller may call method under p: admin may call everything, and every
// caller health and reflection.
func (p Policy) Allows(method, caller string) bool {
	if caller == tlsx.Admin || isInfra(method) {
		return true
	}
	rule, ok := p[method]
	return ok && slices.Contains(rule.callers, caller)
}

// Covers returns an error naming every RPC of services that p has no Rule for, and every Rule
// for an RPC the server does not have: a server refuses to start with a policy that has drifted
// from its API.
func (p Policy) Covers(services map[string]grpc.ServiceInfo) error {
	var missing, unknown []string
	known := map[string]bool{}
	for name, info := range services {
		for _, m := range info.Methods {
			full := "/" + name + "/" + m.Name
			known[full] = true
			if _, ok := p[full]; !ok && !isInfra(full) {
				missing = append(missing, full)
			}
		}
	}
	for full := range p {
		if !known[full] {
			unknown = append(unknown, full)
		}
	}
	if len(missing)+len(unknown) == 0 {
		return nil
	}
	sort.Strings(missing)
	sort.Strings(unknown)
	return fmt.Errorf("grpcauth: the callers policy has no rule for %v and rules for unknown RPCs %v", missing, unknown)
}

// Guard enforces a Policy on every RPC, and that the gateway names the end user: the gateway
// only ever calls for a user whose token it verified, so a gateway call without one (metadata
// EndUserKey) is refused with Unauthenticated, except for RPCs whose Rule says WithoutEndUser
// and for health and reflection.
type Guard struct {
	policy Policy
	log    *slog.Logger
}

// NewGuard returns a guard for policy that logs refusals to log.
func NewGuard(policy Policy, log *slog.Logger) *Guard {
	return &Guard{policy: policy, log: log.With("component", "grpcauth")}
}

// Check returns nil when the caller in ctx may call method, else the status error it gets.
func (g *Guard) Check(ctx context.Context, method string) error {
	caller, ok := Caller(ctx)
	if !ok {
		g.log.Warn("rpc refused: caller without a paysuite identity", "method", method)
		return status.Error(codes.Unauthenticated, "a client certificate with a paysuite SPIFFE ID is required")
	}
	if !g.policy.Allows(method, caller) {
		g.log.Warn("rpc refused: caller not allowed", "caller", caller, "method", method)
		return status.Errorf(codes.PermissionDenied, "%s may not call %s", caller, method)
	}
	if caller == tlsx.Gateway && !isInfra(method) && !g.policy[method].anonymous && !HasEndUser(ctx) {
		g.log.Warn("rpc refused: gateway call without an end user", "method", method)
		return status.Errorf(codes.Unauthenticated, "%s needs the end user (%s) when the gateway calls", method, EndUserKey)
	}
	return nil
}

// Unary is the guard as a unary server interceptor.
func (g *Guard) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := g.Check(ctx, info.FullMethod); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream is the guard as a stream server interceptor.
func (g *Guard) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := g.Check(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}
