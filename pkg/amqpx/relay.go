package amqpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/leader"
)

// Relay publishes outbox rows (see the package doc for its guarantees and the leader lock).
type Relay struct {
	gdb  *gorm.DB
	conn *Conn
	log  *slog.Logger
	opts relayOptions
	wake chan struct{}

	// Owned by Run's goroutine.
	leading   bool
	ch        *amqp.Channel // confirm-mode publishing channel
	exchanges map[string]bool
}

type relayOptions struct {
	metrics        *Metrics
	poll           time.Duration
	batch          int
	confirmTimeout time.Duration
	retention      time.Duration
	janitorEvery   time.Duration
	rowBackoffMax  time.Duration
	lock           leader.Lock
}

// RelayOption tunes a Relay; the defaults suit production.
type RelayOption func(*relayOptions)

// WithPollInterval sets how often the relay looks for rows without a Wake (default 500ms).
func WithPollInterval(d time.Duration) RelayOption { return func(o *relayOptions) { o.poll = d } }

// WithBatchSize sets how many rows one pass publishes before waiting for confirms (default 100).
func WithBatchSize(n int) RelayOption { return func(o *relayOptions) { o.batch = n } }

// WithConfirmTimeout bounds the wait for the broker's confirm of a batch (default 10s).
func WithConfirmTimeout(d time.Duration) RelayOption {
	return func(o *relayOptions) { o.confirmTimeout = d }
}

// WithRetention sets how long published rows are kept before the janitor deletes them
// (default 7 days; 0 keeps them forever).
func WithRetention(d time.Duration) RelayOption { return func(o *relayOptions) { o.retention = d } }

// WithLeaderLock sets the lock that makes one relay per database the publisher (default: the
// lease row "amqpx_relay" of gdb's database, see leader.Lease; its table must be migrated).
func WithLeaderLock(l leader.Lock) RelayOption { return func(o *relayOptions) { o.lock = l } }

// WithRelayMetrics counts published rows on m.
func WithRelayMetrics(m *Metrics) RelayOption { return func(o *relayOptions) { o.metrics = m } }

// NewRelay returns a relay for gdb's outbox publishing over conn. Start it with Run.
func NewRelay(gdb *gorm.DB, conn *Conn, log *slog.Logger, opts ...RelayOption) *Relay {
	o := relayOptions{
		poll:           500 * time.Millisecond,
		batch:          100,
		confirmTimeout: 10 * time.Second,
		retention:      7 * 24 * time.Hour,
		janitorEvery:   time.Hour,
		rowBackoffMax:  time.Minute,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return &Relay{gdb: gdb, conn: conn, log: log.With("component", "outbox-relay"), opts: o, wake: make(chan struct{}, 1)}
}

// Wake asks for a pass now instead of at the next poll. It never blocks; call it after the
// transaction that added messages has committed.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default: // a pass is already requested
	}
}

// Run publishes until ctx is done, then returns nil. It returns an error at once only when the
// outbox table is missing (MigrateOutbox was not called). Failures are logged and retried.
func (r *Relay) Run(ctx context.Context) error {
	if err := r.gdb.WithContext(ctx).Exec("SELECT 1 FROM outbox_messages LIMIT 1").Error; err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("outbox relay: %w (did the service call amqpx.MigrateOutbox?)", err)
	}
	if r.opts.lock == nil {
		sqlDB, err := r.gdb.DB()
		if err != nil {
			return fmt.Errorf("outbox relay: %w", err)
		}
		r.opts.lock = leader.NewLease(sqlDB, "amqpx_relay")
	}
	defer r.release()
	nextJanitor := time.Now()
	failures := 0
	for {
		wait := r.opts.poll
		leader, err := r.lead(ctx)
		switch {
		case err != nil:
			r.log.Warn("outbox relay: leader lock", "err", err)
		case !leader:
			wait = 4 * r.opts.poll // another instance publishes; check now and then whether it left
		default:
			more, err := r.pass(ctx)
			if err != nil && ctx.Err() == nil {
				failures++
				wait = Backoff(failures, r.opts.poll, 30*time.Second)
				r.log.Warn("outbox relay pass failed", "err", err, "retry_in", wait.String())
				break
			}
			failures = 0
			if more {
				wait = 0 // a full batch: there is probably more behind it
			}
			if time.Now().After(nextJanitor) {
				r.janitor(ctx)
				nextJanitor = time.Now().Add(r.opts.janitorEvery)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-r.wake:
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// lead takes or re-checks the leader lock; only the holder publishes.
func (r *Relay) lead(ctx context.Context) (bool, error) {
	leading, err := r.opts.lock.Hold(ctx)
	switch {
	case leading && !r.leading:
		r.log.Info("outbox relay is the publisher for this database")
	case !leading && r.leading:
		r.closeChannel() // lost the lock: the new leader publishes
	}
	r.leading = leading
	return leading, err
}

func (r *Relay) release() {
	r.opts.lock.Release()
	r.leading = false
	r.closeChannel()
}

func (r *Relay) closeChannel() {
	if r.ch != nil {
		_ = r.ch.Close()
		r.ch = nil
	}
}

// pass publishes one batch of due rows and reports whether the batch was full.
func (r *Relay) pass(ctx context.Context) (bool, error) {
	rows, err := r.due(ctx)
	if err != nil || len(rows) == 0 {
		return false, err
	}
	ch, err := r.channel(ctx)
	if err != nil {
		return false, err
	}
	// Publishing and confirming must not be cut short by shutdown: a publish whose ack we
	// stopped waiting for would only be sent again later.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.confirmTimeout)
	defer cancel()
	failed := map[int64]string{}
	inflight := r.publish(ctx, pctx, ch, rows, failed)
	published := r.confirm(pctx, ch, inflight, failed)
	if len(failed) > 0 && ch.IsClosed() {
		r.ch = nil
	}
	if err := r.record(ctx, rows, published, failed); err != nil {
		return false, err
	}
	return len(rows) == r.opts.batch && len(failed) == 0, nil
}

// due loads the next batch of unpublished rows whose backoff has passed, in id order.
func (r *Relay) due(ctx context.Context) ([]outboxRow, error) {
	var rows []outboxRow
	err := r.gdb.WithContext(ctx).
		Where("published_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= ?)", time.Now().UTC()).
		Order("id").Limit(r.opts.batch).Find(&rows).Error
	return rows, err
}

// sent is a row published and waiting for the broker's confirm.
type sent struct {
	row outboxRow
	dc  *amqp.DeferredConfirmation
}

// publish sends rows on ch without waiting for confirms; a row that could not be sent gets its
// reason in failed.
func (r *Relay) publish(ctx, pctx context.Context, ch *amqp.Channel, rows []outboxRow, failed map[int64]string) []sent {
	var inflight []sent
	for _, row := range rows {
		if reason := r.checkExchange(ctx, row.Exchange); reason != "" {
			failed[row.ID] = reason
			continue
		}
		msg, err := publishing(row, r.conn.User())
		if err != nil {
			failed[row.ID] = err.Error()
			continue
		}
		span := startPublishSpan(row, &msg)
		dc, err := ch.PublishWithDeferredConfirmWithContext(pctx, row.Exchange, row.RoutingKey, false, false, msg)
		endSpan(span, err)
		if err != nil {
			// The channel or connection is gone; the rest of the batch waits for the next pass.
			failed[row.ID] = "publish: " + err.Error()
			break
		}
		inflight = append(inflight, sent{row, dc})
	}
	return inflight
}

// confirm waits for the broker's answer to every sent row: the acked ids are returned, the rest
// get their reason in failed.
func (r *Relay) confirm(pctx context.Context, ch *amqp.Channel, inflight []sent, failed map[int64]string) []int64 {
	var published []int64
	for _, s := range inflight {
		acked, err := s.dc.WaitContext(pctx)
		switch {
		case err != nil:
			failed[s.row.ID] = "no confirm within " + r.opts.confirmTimeout.String()
		case !acked && ch.IsClosed():
			failed[s.row.ID] = "channel closed before confirm"
		case !acked:
			failed[s.row.ID] = "broker nacked"
		default:
			published = append(published, s.row.ID)
		}
	}
	return published
}

// record marks the acked rows published and gives every failed row its attempt, error and
// next try. It has its own deadline (the confirm wait may have used all of the publishing
// one) and ignores shutdown, so what the broker acked is recorded as published.
func (r *Relay) record(ctx context.Context, rows []outboxRow, published []int64, failed map[int64]string) error {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := time.Now().UTC()
	var firstFailed *outboxRow
	// Fenced: a relay deposed meanwhile has its record refused and stops at its next Hold; the
	// rows it sent stay unpublished and the new leader sends them again (consumers drop the
	// duplicates by message id).
	err := db.WithTx(r.opts.lock.Fenced(bctx), r.gdb, func(ctx context.Context, tx *gorm.DB) error {
		firstFailed = nil // a retried transaction starts over
		if len(published) > 0 {
			err := tx.Model(&outboxRow{}).Where("id IN ?", published).
				Updates(map[string]any{"published_at": now, "attempts": gorm.Expr("attempts + 1")}).Error
			if err != nil {
				// They will be published again: duplicates, which consumers drop by message id.
				return fmt.Errorf("mark %d rows published: %w", len(published), err)
			}
		}
		for _, row := range rows {
			reason, ok := failed[row.ID]
			if !ok {
				continue
			}
			if firstFailed == nil {
				firstFailed = &row
			}
			next := now.Add(Backoff(row.Attempts+1, r.opts.poll, r.opts.rowBackoffMax))
			err := tx.Model(&outboxRow{}).Where("id = ?", row.ID).
				Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_error": reason, "next_attempt_at": next}).Error
			if err != nil {
				return fmt.Errorf("record failed publish of %s: %w", row.MessageID, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.opts.metrics.publishedRows(len(published))
	if firstFailed != nil {
		// One line per pass, not per row: an outage would otherwise log every pending row.
		r.log.Warn("outbox publish failed; will retry", "rows", len(failed), "first_message_id", firstFailed.MessageID,
			"attempts", firstFailed.Attempts+1, "err", failed[firstFailed.ID])
	}
	return nil
}

// channel returns the confirm-mode channel, opening one (and waiting for the broker) if needed.
func (r *Relay) channel(ctx context.Context) (*amqp.Channel, error) {
	if r.ch != nil && !r.ch.IsClosed() {
		return r.ch, nil
	}
	ch, err := r.conn.Channel(ctx)
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("confirm mode: %w", err)
	}
	r.ch = ch
	r.exchanges = map[string]bool{"": true}
	return ch, nil
}

// checkExchange returns why name cannot take messages, or "". Publishing to a missing exchange
// would close the shared channel and fail the whole batch, so each exchange is checked once per
// channel, on a throwaway channel.
func (r *Relay) checkExchange(ctx context.Context, name string) string {
	if r.exchanges[name] {
		return ""
	}
	probe, err := r.conn.Channel(ctx)
	if err != nil {
		return err.Error()
	}
	defer probe.Close()
	if err := probe.ExchangeDeclarePassive(name, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return "exchange " + name + ": " + err.Error()
	}
	r.exchanges[name] = true
	return ""
}

// publishing is row as a message sent as user, which the broker validates (see Conn.User).
func publishing(row outboxRow, user string) (amqp.Publishing, error) {
	headers, err := decodeHeaders(row.Headers)
	if err != nil {
		return amqp.Publishing{}, fmt.Errorf("stored headers: %w", err)
	}
	return amqp.Publishing{
		Headers:      headers,
		ContentType:  row.ContentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    row.MessageID,
		Timestamp:    row.CreatedAt,
		Type:         row.Type,
		UserId:       user,
		Body:         row.Body,
	}, nil
}

// janitor deletes published rows past retention, in small chunks to keep locks short.
func (r *Relay) janitor(ctx context.Context) {
	if r.opts.retention <= 0 {
		return
	}
	cutoff := time.Now().UTC().Add(-r.opts.retention)
	var total int64
	for ctx.Err() == nil {
		res := r.gdb.WithContext(ctx).Exec(
			"DELETE FROM outbox_messages WHERE published_at < ? ORDER BY published_at LIMIT 1000", cutoff)
		if res.Error != nil {
			if !errors.Is(res.Error, context.Canceled) {
				r.log.Warn("outbox janitor", "err", res.Error)
			}
			return
		}
		total += res.RowsAffected
		if res.RowsAffected < 1000 {
			break
		}
	}
	if total > 0 {
		r.log.Info("outbox janitor deleted published rows", "rows", total, "older_than", cutoff)
	}
}
