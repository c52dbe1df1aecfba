// Package principal is who a request acts for: the end user the gateway verified (their id and
// roles), carried to every service so each decides ownership itself. It is a plain value with
// no transport in it, so use cases take it as an argument; grpcprincipal moves it over gRPC.
package principal

import (
	"context"
	"slices"
	"strings"
)

// Metadata keys the end user travels under between services (CONTRACT, "Identity and access").
const (
	MetadataUser  = "x-paysuite-user"
	MetadataRoles = "x-paysuite-roles" // comma-separated
	// MetadataClientIP is the end user's address as the gateway saw it (WeChat H5 needs the
	// payer's IP). Set by the gateway on every call; a browser cannot send it.
	MetadataClientIP = "x-paysuite-client-ip"
)

// RoleMerchant is merchant staff or the merchant's own backend: reads anyone's resources,
// refunds, and runs the admin routes. No role is a customer.
const RoleMerchant = "merchant"

// Principal is an authenticated end user.
type Principal struct {
	UserID string
	Roles  []string
}

// IsMerchant reports whether p holds the merchant role.
func (p Principal) IsMerchant() bool { return slices.Contains(p.Roles, RoleMerchant) }

// Owns reports whether the resource of ownerID is p's own.
func (p Principal) Owns(ownerID string) bool { return p.UserID != "" && p.UserID == ownerID }

// MayRead reports whether p may see a resource of ownerID: their own, or anyone's for a merchant.
func (p Principal) MayRead(ownerID string) bool { return p.Owns(ownerID) || p.IsMerchant() }

// RolesText is the roles as the metadata carries them.
func (p Principal) RolesText() string { return strings.Join(p.Roles, ",") }

// ParseRoles reads the metadata form of the roles; empty entries are dropped.
func ParseRoles(s string) []string {
	var roles []string
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			roles = append(roles, r)
		}
	}
	return roles
}

// Caller is who a use case acts for: an end user (Principal set), or nobody in particular —
// another service or an operator, whom the transport already vetted (mutual TLS and per-RPC
// caller lists). Use cases decide ownership from it and never look at the transport.
type Caller struct {
	User *Principal // nil: a service-to-service or admin call
}

// System is the caller of a service-to-service or admin call.
var System = Caller{}

// AsUser is the caller acting for p.
func AsUser(p Principal) Caller { return Caller{User: &p} }

// MayRead reports whether the caller may see a resource of ownerID (a system caller may).
func (c Caller) MayRead(ownerID string) bool { return c.User == nil || c.User.MayRead(ownerID) }

// MayActFor reports whether the caller may change or create something of ownerID: the user
// themselves (merchants included: reading anyone's does not mean acting for them), or a system
// caller.
func (c Caller) MayActFor(ownerID string) bool { return c.User == nil || c.User.Owns(ownerID) }

// IsMerchant reports whether the caller may do merchant things: a merchant user, or a system caller.
func (c Caller) IsMerchant() bool { return c.User == nil || c.User.IsMerchant() }

// UserID is the acting user's id, "" for a system caller.
func (c Caller) UserID() string {
	if c.User == nil {
		return ""
	}
	return c.User.UserID
}

type contextKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, contextKey{}, p)
}

// FromContext returns the principal ctx carries, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(contextKey{}).(Principal)
	return p, ok
}

// CallerFrom is the caller ctx stands for: the user it carries, else System.
func CallerFrom(ctx context.Context) Caller {
	if p, ok := FromContext(ctx); ok {
		return AsUser(p)
	}
	return System
}
