package service_test

import (
	"testing"

	"google.golang.org/grpc/status"
)

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := status.Code(err).String(); got != code {
		t.Fatalf("err = %v (%s), want %s", err, got, code)
	}
}
