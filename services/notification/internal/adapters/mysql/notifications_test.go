package mysql_test

import (
	"context"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/notification/internal/adapters/mysql"
	"github.com/paysuite/paysuite/services/notification/internal/adapters/mysql/migrations"
	"github.com/paysuite/paysuite/services/notification/internal/domain/notice"
)

// A second notification of one event is "already stored"; a notification whose generated id
// clashes with another event's (two processes on one snowflake node) is an error, not silently
// dropped as if it were that event.
func TestAddDedupesOnTheEventIDOnly(t *testing.T) {
	ctx := context.Background()
	gdb, err := db.Open(ctx, testkit.MySQLDSN(t), "notification", migrations.FS, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := gdb.DB(); err == nil {
			s.Close()
		}
	})
	r := mysql.NewNotifications(gdb)
	now := time.Now().UTC().Truncate(time.Second)
	n := func(id int64, event string) *notice.Notification {
		return &notice.Notification{ID: id, EventID: event, UserID: "u1", OrderID: 1, PaymentID: 2,
			Kind: notice.KindSucceeded, Message: "paid", OccurredAt: now, CreatedAt: now}
	}
	if added, err := r.Add(ctx, n(1, "e1")); err != nil || !added {
		t.Fatalf("first: added %v, %v", added, err)
	}
	if added, err := r.Add(ctx, n(2, "e1")); err != nil || added {
		t.Fatalf("same event again: added %v, %v; want false, nil", added, err)
	}
	if added, err := r.Add(ctx, n(1, "e2")); err == nil || added {
		t.Fatalf("another event on a clashing id: added %v, err %v; want an error", added, err)
	}
}
