package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestToStatus(t *testing.T) {
	errNotFound := errors.New("order not found")
	table := []ErrorCode{{errNotFound, codes.NotFound}}
	cases := []struct {
		err  error
		code codes.Code
		msg  string
	}{
		{fmt.Errorf("get 7: %w", errNotFound), codes.NotFound, "get 7: order not found"},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), codes.DeadlineExceeded, ""},
		{status.Error(codes.Unavailable, "order service down"), codes.Unavailable, "order service down"},
		{errors.New("Error 1040: Too many connections"), codes.Internal, "internal error"},
	}
	for _, c := range cases {
		got := status.Convert(ToStatus(table, c.err))
		if got.Code() != c.code || (c.msg != "" && got.Message() != c.msg) {
			t.Errorf("ToStatus(%v) = %v %q, want %v %q", c.err, got.Code(), got.Message(), c.code, c.msg)
		}
	}
	if ToStatus(table, nil) != nil {
		t.Error("nil must stay nil")
	}
	// The client sees a generic message; the log (err.Error()) keeps the cause.
	err := ToStatus(table, errors.New("deadlock on payments"))
	if !strings.Contains(err.Error(), "deadlock on payments") {
		t.Errorf("cause lost for the log: %v", err)
	}
}
