// Package grpcprincipal carries a principal.Principal over gRPC: the server side turns the
// x-paysuite-user / x-paysuite-roles metadata of a trusted caller into the context's principal,
// the client side passes the context's principal on to the next service.
package grpcprincipal

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/principal"
)

// Trust decides whether the metadata of the caller behind ctx is believed. Metadata from an
// untrusted caller is ignored (not refused: services pass it on for audit), so the call runs as
// a system call, which the per-RPC caller lists limit. Every paysuite server believes only the
// gateway and admin (grpcauth.TrustsEndUser, installed by pkg/grpcserver).
type Trust func(ctx context.Context) bool

// UnaryServerInterceptor puts the principal of a trusted caller's metadata into the handler's
// context. A nil trust believes nobody.
func UnaryServerInterceptor(trust Trust) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := fromIncoming(ctx, trust)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams.
func StreamServerInterceptor(trust Trust) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := fromIncoming(ss.Context(), trust)
		if err != nil {
			return err
		}
		return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
}

// fromIncoming reads the principal from a trusted caller's metadata. A user id sent more than
// once, or roles without a user, is a forged or broken request: Unauthenticated, never a
// silent fall back to a system call.
func fromIncoming(ctx context.Context, trust Trust) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	users, roles := md.Get(principal.MetadataUser), md.Get(principal.MetadataRoles)
	if len(users) == 0 && len(roles) == 0 {
		return ctx, nil
	}
	if trust == nil || !trust(ctx) {
		return ctx, nil
	}
	if len(users) != 1 || users[0] == "" || len(roles) > 1 {
		return nil, status.Error(codes.Unauthenticated, "malformed "+principal.MetadataUser+" / "+principal.MetadataRoles+" metadata")
	}
	p := principal.Principal{UserID: users[0]}
	if len(roles) == 1 {
		p.Roles = principal.ParseRoles(roles[0])
	}
	return principal.NewContext(ctx, p), nil
}

// AppendToOutgoing passes the principal ctx carries on to the service a call goes to, replacing
// any user metadata already there; without one ctx is returned as it is.
func AppendToOutgoing(ctx context.Context) context.Context {
	p, ok := principal.FromContext(ctx)
	if !ok {
		return ctx
	}
	return OutgoingContext(ctx, p)
}

// OutgoingContext returns ctx whose outgoing metadata names p as the end user.
func OutgoingContext(ctx context.Context, p principal.Principal) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set(principal.MetadataUser, p.UserID)
	if len(p.Roles) > 0 {
		md.Set(principal.MetadataRoles, p.RolesText())
	} else {
		md.Delete(principal.MetadataRoles)
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// UnaryClientInterceptor passes the context's principal on with every unary call; a service
// that calls another on the user's behalf dials with it.
func UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(AppendToOutgoing(ctx), method, req, reply, cc, opts...)
	}
}

type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }
