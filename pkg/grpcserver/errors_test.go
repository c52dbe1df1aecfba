package grpcserver

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"

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
	// An outage is Unavailable (HTTP 503 at the gateway), without the addresses in its cause.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, dialTimeout := (&net.Dialer{}).DialContext(ctx, "tcp", "10.255.255.1:3306")
	for _, cause := range []error{
		fmt.Errorf("create order: %w", driver.ErrBadConn),
		fmt.Errorf("create order: %w", mysql.ErrInvalidConn),
		fmt.Errorf("create order: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}),
		fmt.Errorf("create order: %w", dialTimeout),
		fmt.Errorf("create order: %w", &mysql.MySQLError{Number: 1927, Message: "Connection was killed"}),
		fmt.Errorf("publish: %w", amqp.ErrClosed),
	} {
		err := ToStatus(table, cause)
		got := status.Convert(err)
		if got.Code() != codes.Unavailable || strings.Contains(got.Message(), "10.255") {
			t.Errorf("ToStatus(%v) = %v %q, want Unavailable without the cause", cause, got.Code(), got.Message())
		}
		if !strings.Contains(err.Error(), cause.Error()) {
			t.Errorf("cause lost for the log: %v", err)
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
