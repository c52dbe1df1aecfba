package grpcserver

import (
	"context"
	"errors"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/sqlerr"
)

// ErrorCode maps a domain or app error to the gRPC code a client gets for it.
type ErrorCode struct {
	Err  error
	Code codes.Code
}

// ToStatus is the one place a service's errors become gRPC statuses. The first entry of table
// that err matches (errors.Is) gives the code, with err's message; a cancelled call stays
// Canceled. An outage — the database or the broker cannot be reached or went away
// (sqlerr.Unreachable, amqp091.ErrClosed), dial timeouts included — is Unavailable with a
// generic message (grpc-gateway answers 503: retry later), checked before a deadline so that
// "i/o timeout dialing the database" is not reported as the caller's deadline. Other deadlines
// and statuses from downstream services keep their codes. Anything else is a bug, not the
// caller's mistake: clients get Internal with a generic message. Either way the cause stays in
// the error the logging interceptor records.
func ToStatus(table []ErrorCode, err error) error {
	if err == nil {
		return nil
	}
	for _, e := range table {
		if errors.Is(err, e.Err) {
			return status.Error(e.Code, err.Error())
		}
	}
	if errors.Is(err, context.Canceled) {
		return status.FromContextError(err).Err()
	}
	if _, isStatus := status.FromError(err); !isStatus && Unreachable(err) {
		return unavailableError{cause: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return internalError{cause: err}
}

// Unreachable reports whether err means a server the service depends on (the database, the
// broker) cannot be reached now: an outage the caller may retry, not a bug.
func Unreachable(err error) bool {
	return sqlerr.Unreachable(err) || errors.Is(err, amqp.ErrClosed)
}

// unavailableError answers clients Unavailable and tells the log what happened (the cause
// names internal addresses, so it stays out of the answer).
type unavailableError struct{ cause error }

func (e unavailableError) Error() string { return "unavailable: " + e.cause.Error() }
func (e unavailableError) Unwrap() error { return e.cause }
func (e unavailableError) GRPCStatus() *status.Status {
	return status.New(codes.Unavailable, "a service this call needs is unreachable, retry later")
}

// internalError answers clients "internal error" and tells the log what happened.
type internalError struct{ cause error }

func (e internalError) Error() string { return "internal error: " + e.cause.Error() }
func (e internalError) Unwrap() error { return e.cause }
func (e internalError) GRPCStatus() *status.Status {
	return status.New(codes.Internal, "internal error")
}
