// Package httpapi is the gateway's HTTP port: the grpc-gateway mux over the four gRPC
// services, the Server-Sent Events view of WatchOrder, the dev-mode issuer and sandbox proxy,
// and the middleware every request passes (request id, access log, CORS, rate limits, body
// limit, bearer token, Idempotency-Key).
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/paysuite/paysuite/pkg/jwtauth"
	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/pkg/principal/grpcprincipal"

	coursev1 "github.com/paysuite/paysuite/proto/gen/paysuite/course/v1"
	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

// Backends are the client connections to the services behind the gateway.
type Backends struct {
	Order, Payment, Notification, Course grpc.ClientConnInterface
}

// Options configure the HTTP surface.
type Options struct {
	CORSOrigins  []string      // allowed browser origins; "*" for any; empty = same-origin only
	MaxBodyBytes int64         // larger request bodies get 413
	Verifier     TokenVerifier // checks the bearer token of every /v1 route but GET /v1/skus
	// DevIssuer, set only in dev mode, mounts POST /dev/token, GET /dev/jwks.json and the
	// sandbox pay shortcut POST /dev/sandbox/pay.
	DevIssuer    *jwtauth.Issuer
	SandboxURL   string    // where /dev/sandbox/pay forwards to
	AddressLimit RateLimit // per client address, before the token is checked
	UserLimit    RateLimit // per authenticated user
	RateMaxKeys  int       // addresses and users tracked at once by each limit
	OpenAPI      []byte    // served at GET /openapi.json
	Page         http.Handler
}

// Marshaler is the JSON every route speaks: protojson with lowerCamelCase names, enum names,
// int64 as strings, and unpopulated fields present (a client sees "paidAt": null rather than
// guessing whether the field exists). Unknown request fields are refused, so a misspelt
// "requestID" fails loudly instead of silently losing the idempotency key.
func Marshaler() runtime.Marshaler {
	return &runtime.HTTPBodyMarshaler{Marshaler: &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}}
}

// New builds the gateway handler. ctx bounds long-lived event streams: when it ends (the
// process is shutting down) they are closed so the HTTP server can drain.
func New(ctx context.Context, b Backends, opts Options, log *slog.Logger) (http.Handler, error) {
	marshaler := Marshaler()
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, marshaler),
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithErrorHandler(errorHandler(log)),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		runtime.WithMetadata(func(ctx context.Context, r *http.Request) metadata.MD {
			md := metadata.Pairs("x-request-id", RequestID(ctx))
			// The buyer's address as this gateway saw it (WeChat H5 needs it); a request body
			// cannot claim another, nor can a header (forwardedHeader passes none on).
			if ip := clientIP(r.RemoteAddr); ip != "" {
				md.Set(principal.MetadataClientIP, ip)
			}
			if p, ok := principal.FromContext(r.Context()); ok {
				md.Set(principal.MetadataUser, p.UserID)
				if len(p.Roles) > 0 {
					md.Set(principal.MetadataRoles, p.RolesText())
				}
			}
			return md
		}),
		runtime.WithIncomingHeaderMatcher(forwardedHeader),
	)
	if opts.Verifier == nil {
		return nil, fmt.Errorf("httpapi: a token verifier is required")
	}
	notifications := notificationv1.NewNotificationServiceClient(b.Notification)
	for name, register := range map[string]func() error{
		"order": func() error {
			return orderv1.RegisterOrderServiceHandlerClient(ctx, gw, orderv1.NewOrderServiceClient(b.Order))
		},
		"payment": func() error {
			return paymentv1.RegisterPaymentServiceHandlerClient(ctx, gw, paymentv1.NewPaymentServiceClient(b.Payment))
		},
		"notification": func() error { return notificationv1.RegisterNotificationServiceHandlerClient(ctx, gw, notifications) },
		"course": func() error {
			return coursev1.RegisterCourseServiceHandlerClient(ctx, gw, coursev1.NewCourseServiceClient(b.Course))
		},
	} {
		if err := register(); err != nil {
			return nil, fmt.Errorf("register %s routes: %w", name, err)
		}
	}

	sse := watchOrderSSE{client: notifications, marshaler: marshaler, log: log}
	mux := http.NewServeMux()
	mux.Handle("/", gw) // every /v1 route, and JSON 404s for unknown paths
	mux.Handle("GET /v1/orders/{orderId}/events", untilDone(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wantsEventStream(r) {
			sse.ServeHTTP(w, r)
			return
		}
		gw.ServeHTTP(w, r) // newline-delimited JSON: {"result": OrderStatusUpdate} per line
	})))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(opts.OpenAPI)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	if opts.Page != nil {
		mux.Handle("GET /{$}", opts.Page)
		mux.Handle("GET /result", opts.Page)
		mux.Handle("GET /assets/", opts.Page)
		mux.Handle("GET /ui/config.json", opts.Page)
	}
	if opts.DevIssuer != nil {
		mux.Handle("POST /dev/sandbox/pay", newSandboxPay(opts.SandboxURL, log))
		mux.Handle("POST /dev/token", devTokens(opts.DevIssuer))
		mux.Handle("GET /dev/jwks.json", devJWKS(opts.DevIssuer))
	}

	var h http.Handler = mux
	h = idempotencyKey(h)
	h = limitByUser(newLimiters(opts.UserLimit, opts.RateMaxKeys), h)
	h = authenticate(opts.Verifier, log, h)
	h = limitBody(opts.MaxBodyBytes, h)
	h = limitByAddress(newLimiters(opts.AddressLimit, opts.RateMaxKeys), h)
	h = cors(opts.CORSOrigins, h)
	h = accessLog(log, h)
	h = requestID(h)
	return h, nil
}

// untilDone ends a long-lived request when ctx ends, not only when the client leaves.
func untilDone(ctx context.Context, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(ctx, cancel)
		defer stop()
		next.ServeHTTP(w, r.WithContext(rctx))
	})
}

// forwardedHeader keeps grpc-gateway from turning client headers into gRPC metadata (its
// default forwards "Grpc-Metadata-*" and a few standard headers, Authorization among them):
// the end user reaches the services only as the principal the gateway verified, and the
// token itself stays at the edge.
func forwardedHeader(string) (string, bool) { return "", false }

// outgoing is the metadata of a call the gateway makes itself (the SSE stream): the request id
// and the verified principal.
func outgoing(ctx context.Context) context.Context {
	ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", RequestID(ctx))
	return grpcprincipal.AppendToOutgoing(ctx)
}

// errorHandler is grpc-gateway's default mapping (InvalidArgument 400, NotFound 404,
// AlreadyExists 409, FailedPrecondition 400, Unauthenticated 401, Unavailable 503 …) with one
// change: Unavailable — a service, or the database or broker behind it, cannot be reached — is
// reported without its cause, which names internal addresses (the detail goes to the log),
// and with Retry-After: 1, since retrying is exactly what the client should do.
func errorHandler(log *slog.Logger) runtime.ErrorHandlerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		if status.Code(err) == codes.Unavailable {
			log.WarnContext(ctx, "upstream unavailable", "request_id", RequestID(r.Context()), "path", r.URL.Path, "err", err)
			err = status.Error(codes.Unavailable, "service temporarily unavailable, retry later")
			w.Header().Set("Retry-After", retryAfterSeconds)
		}
		runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
	}
}

// retryAfterSeconds is the Retry-After of a 503: outages this suite rides out (a connection
// re-dialled, a node failing over) take seconds.
const retryAfterSeconds = "1"

// routingErrorHandler answers a known path with the wrong method 405 (grpc-gateway's default
// reports it as Unimplemented, 501, which reads like a server bug).
func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if httpStatus == http.StatusMethodNotAllowed {
		runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{
			HTTPStatus: httpStatus,
			Err:        status.Error(codes.Unimplemented, http.StatusText(httpStatus)),
		})
		return
	}
	runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
}
