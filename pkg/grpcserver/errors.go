package grpcserver

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorCode maps a domain or app error to the gRPC code a client gets for it.
type ErrorCode struct {
	Err  error
	Code codes.Code
}

// ToStatus is the one place a service's errors become gRPC statuses. The first entry of table
// that err matches (errors.Is) gives the code, with err's message; context cancellations and
// statuses from downstream services keep their codes. Anything else is a bug or an outage, not
// the caller's mistake: clients get Internal with a generic message, while the cause stays in
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
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return internalError{cause: err}
}

// internalError answers clients "internal error" and tells the log what happened.
type internalError struct{ cause error }

func (e internalError) Error() string { return "internal error: " + e.cause.Error() }
func (e internalError) Unwrap() error { return e.cause }
func (e internalError) GRPCStatus() *status.Status {
	return status.New(codes.Internal, "internal error")
}
