package app

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// Event ids name the change, so they stay unique even when two processes mint the same
// snowflake (a shared node id), and the same change always has the same id.
func TestEventIDsNameTheChangeNotAMintedID(t *testing.T) {
	a := New(Config{ProviderTradeTimeout: 25 * time.Minute}, Deps{NewID: func() int64 { return 7 }},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	p1, p2 := attempt(payment.StatusSucceeded), attempt(payment.StatusSucceeded)
	p2.ID = 2
	r1, r2 := &payment.Refund{ID: 11}, &payment.Refund{ID: 12}
	ids := map[string]string{
		"p1 succeeded": a.event(EventSucceeded, p1, nil, "").ID,
		"p2 succeeded": a.event(EventSucceeded, p2, nil, "").ID,
		"p1 closed":    a.event(EventClosed, p1, nil, "").ID,
		"p1 refund 11": a.event(EventRefunded, p1, r1, "").ID,
		"p1 refund 12": a.event(EventRefunded, p1, r2, "").ID,
	}
	seen := map[string]string{}
	for what, id := range ids {
		if other, ok := seen[id]; ok {
			t.Fatalf("%s and %s share event id %q", what, other, id)
		}
		seen[id] = what
	}
	if again := a.event(EventSucceeded, p1, nil, "").ID; again != ids["p1 succeeded"] {
		t.Fatalf("the same change got ids %q and %q", ids["p1 succeeded"], again)
	}
}
