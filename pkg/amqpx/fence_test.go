package amqpx_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/leader"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// A relay deposed between two of its renewals (another instance took its lease row) may still
// publish a batch, but its record of that pass is refused by the fence: the rows stay due for the
// new leader, and the old one never marks anything beside it.
func TestRelayDeposedMidPassRecordsNothing(t *testing.T) {
	ctx := context.Background()
	url := testkit.AMQPURL(t)
	gdb := openDB(t)
	sqlDB, err := gdb.DB()
	if err != nil {
		t.Fatal(err)
	}
	obs := observe(t, url, amqpx.PaymentResultsExchange)
	lease := leader.NewLease(sqlDB, "amqpx_relay", leader.WithTTL(time.Hour)) // renewed only every 20 minutes
	relay := amqpx.NewRelay(gdb, dial(t, url, amqpx.DeclarePaymentResults), testkit.Logger(t),
		amqpx.WithPollInterval(50*time.Millisecond), amqpx.WithLeaderLock(lease))
	testkit.Go(t, relay.Run)
	testkit.Eventually(t, waitLong, func() bool { return lease.Token() != 0 }, "the relay never led")

	// Another instance takes the lease over (as after this one stalled past its expiry).
	if err := gdb.Exec("UPDATE leader_leases SET holder = 'successor', token = token + 1 WHERE role = 'amqpx_relay'").Error; err != nil {
		t.Fatal(err)
	}
	err = db.WithTx(ctx, gdb, func(ctx context.Context, _ *gorm.DB) error {
		return amqpx.AddToOutbox(ctx, gdb, amqpx.Message{ID: "after-deposed", Exchange: amqpx.PaymentResultsExchange, Body: []byte("x")})
	})
	if err != nil {
		t.Fatal(err)
	}
	relay.Wake()
	// It publishes, its record is refused, so the row is due again and goes out a second time:
	// the second publish proves the first record was tried.
	testkit.Eventually(t, waitLong, func() bool { n, _ := obs.byID(); return n["after-deposed"] >= 2 },
		"the deposed relay's row was not left due after its pass (was its record accepted?)")
	if n := countRows(t, gdb, "SELECT COUNT(*) FROM outbox_messages WHERE message_id = 'after-deposed' AND published_at IS NOT NULL"); n != 0 {
		t.Fatal("the deposed relay marked its row published beside the new leader")
	}
}
