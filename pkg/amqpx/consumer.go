package amqpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/codes"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/pause"
)

// ErrPoison marks a message that can never succeed (undecodable, invalid): wrap it
// (fmt.Errorf("%w: …", amqpx.ErrPoison)) and the message is parked at once instead of retried.
var ErrPoison = errors.New("poison message")

// Headers Consume sets on the copies it republishes.
const (
	HeaderAttempts      = "x-attempts"       // failed attempts so far
	HeaderParkReason    = "x-park-reason"    // why the message was parked
	HeaderOriginalQueue = "x-original-queue" // the queue a parked message came from
	HeaderLastError     = "x-last-error"     // the previous attempt's error, on retry copies
	// HeaderVerifiedPublisher is on the copies a consumer republishes (retry, park) of a message
	// whose user_id was its Publisher: the copy's own user_id is the consumer's broker user.
	HeaderVerifiedPublisher = "x-verified-publisher"
)

// Delivery is what a Handler sees of a message.
type Delivery struct {
	MessageID, Type string
	Body            []byte
	Headers         amqp.Table
	Redelivered     bool
	ContentType     string
	Timestamp       time.Time
	Attempts        int // failed attempts before this one
}

// Handler processes one delivery. ctx carries the DB transaction (pkg/db.Conn(ctx, gdb) joins
// it) in which the processed-id row is also written: both commit, or neither does.
type Handler func(ctx context.Context, d Delivery) error

// Binding binds a consumer queue to an exchange.
type Binding struct{ Exchange, RoutingKey string }

// ConsumerConfig describes one consumer. Zero values take the documented defaults.
type ConsumerConfig struct {
	Name        string // consumer id for dedupe, <= 100 chars; keep it stable across releases
	Queue       string
	Bindings    []Binding
	Prefetch    int // unacked deliveries the broker may push (default 16)
	MaxAttempts int // handler failures before parking (default 5)
	QueueArgs   amqp.Table
	// Publisher, when set, is the only broker user whose messages are handled: a delivery whose
	// user_id property (which RabbitMQ checks against the publishing connection) is anything
	// else is parked unhandled. The consumer's own retry copies carry its own user_id and
	// HeaderVerifiedPublisher, and pass too.
	Publisher string

	Concurrency     int           // handler goroutines (default 1: sequential, broker order)
	RetryBackoff    time.Duration // first retry delay, doubling up to 5s (default 200ms)
	HandlerTimeout  time.Duration // bound on one handler+commit (default 30s)
	DedupeRetention time.Duration // processed ids kept this long (default 30 days)

	Metrics *Metrics // the process's broker series (nil: none)
}

const publishTimeout = 10 * time.Second

// errAlreadyProcessed aborts the transaction of a message whose id is already recorded.
var errAlreadyProcessed = errors.New("already processed")

// Consume declares cfg's queue, `<queue>.parking` and bindings, then handles deliveries until
// ctx is done (returning nil once in-flight handlers finish). It survives reconnects. It
// returns an error only for a bad config or a topology the broker refuses.
func Consume(ctx context.Context, conn *Conn, gdb *gorm.DB, cfg ConsumerConfig, h Handler, log *slog.Logger) error {
	if cfg.Name == "" || len(cfg.Name) > 100 || cfg.Queue == "" || h == nil {
		return fmt.Errorf("amqpx.Consume: want a Name (<= 100 chars), a Queue and a Handler (got %q, %q)", cfg.Name, cfg.Queue)
	}
	cfg = withDefaults(cfg)
	if err := gdb.WithContext(ctx).Exec("SELECT 1 FROM processed_messages LIMIT 1").Error; err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("consumer %s: %w (did the service call amqpx.MigrateOutbox?)", cfg.Name, err)
	}
	c := &consumer{conn: conn, gdb: gdb, cfg: cfg, h: h, log: log.With("consumer", cfg.Name, "queue", cfg.Queue)}

	var wg sync.WaitGroup
	wg.Go(func() { c.janitor(ctx) })
	if cfg.Metrics != nil {
		cfg.Metrics.queue(cfg.Queue)
		wg.Go(func() { c.watchParking(ctx) })
	}
	defer wg.Wait()

	failures := 0
	for {
		started := time.Now()
		err := c.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var amqpErr *amqp.Error
		if errors.As(err, &amqpErr) && isConfigError(amqpErr) {
			return fmt.Errorf("consumer %s: %w", cfg.Name, err)
		}
		if time.Since(started) > time.Minute {
			failures = 0 // it ran fine for a while; this is a fresh outage
		}
		failures++
		wait := Backoff(failures, reconnectMin, reconnectMax)
		c.log.Warn("consumer interrupted; resubscribing", "err", err, "retry_in", wait.String())
		if !pause.For(ctx, wait) {
			return nil
		}
	}
}

func withDefaults(cfg ConsumerConfig) ConsumerConfig {
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 16
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.Concurrency > cfg.Prefetch {
		cfg.Concurrency = cfg.Prefetch // more workers than deliveries in flight would idle
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 200 * time.Millisecond
	}
	if cfg.HandlerTimeout <= 0 {
		cfg.HandlerTimeout = 30 * time.Second
	}
	if cfg.DedupeRetention <= 0 {
		cfg.DedupeRetention = 30 * 24 * time.Hour
	}
	return cfg
}

type consumer struct {
	conn *Conn
	gdb  *gorm.DB
	cfg  ConsumerConfig
	h    Handler
	log  *slog.Logger
}

// session subscribes once and handles deliveries until ctx is done or a channel closes.
func (c *consumer) session(ctx context.Context) error {
	ch, err := c.conn.Channel(ctx)
	if err != nil {
		return err
	}
	defer ch.Close() // unacked deliveries go back to the queue
	if err := declareConsumer(ch, c.conn.QueueType(), c.cfg); err != nil {
		return err
	}
	if err := ch.Qos(c.cfg.Prefetch, 0, false); err != nil {
		return err
	}
	// Retry and park copies go on their own confirm channel: a failed publish must not take the
	// consuming channel (and every unacked delivery on it) down with it.
	pub, err := c.conn.Channel(ctx)
	if err != nil {
		return err
	}
	defer pub.Close()
	if err := pub.Confirm(false); err != nil {
		return err
	}
	tag := "paysuite-" + c.cfg.Name + "-" + fmt.Sprint(time.Now().UnixNano())
	deliveries, err := ch.Consume(c.cfg.Queue, tag, false, false, false, false, nil)
	if err != nil {
		return err
	}
	chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
	pubClosed := pub.NotifyClose(make(chan *amqp.Error, 1))
	c.log.Info("consuming")

	var workers sync.WaitGroup
	for range c.cfg.Concurrency {
		workers.Go(func() {
			for d := range deliveries {
				if ctx.Err() != nil {
					_ = d.Nack(false, true) // shutting down: hand it back untouched
					continue
				}
				c.handle(ctx, pub, d)
			}
		})
	}

	var reason error
	select {
	case <-ctx.Done():
		// Stop new deliveries; the delivery channel closes once the buffered ones are drained.
		if err := ch.Cancel(tag, false); err != nil {
			_ = ch.Close()
		}
	case e := <-chClosed:
		reason = fmt.Errorf("channel closed: %w", amqpError(e))
	case e := <-pubClosed:
		reason = fmt.Errorf("publish channel closed: %w", amqpError(e))
		_ = ch.Close()
	}
	workers.Wait()
	return reason
}

func amqpError(e *amqp.Error) error {
	if e == nil {
		return ErrClosed
	}
	return e
}

// handle runs one delivery to its end: acked after commit, or replaced by a confirmed retry or
// parked copy and then acked, or nacked back to the queue when even that is impossible.
func (c *consumer) handle(ctx context.Context, pub *amqp.Channel, d amqp.Delivery) {
	// In-flight work finishes on shutdown: only the timeout cuts it short.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.HandlerTimeout)
	defer cancel()
	hctx, span := startConsumeSpan(hctx, c.cfg.Queue, d)
	defer span.End()
	attempts := headerInt(d.Headers, HeaderAttempts)
	c.cfg.Metrics.delivered(c.cfg.Queue, d.Redelivered || attempts > 0)
	log := c.log.With("message_id", d.MessageId, "type", d.Type)
	if d.MessageId == "" {
		c.park(hctx, pub, d, attempts, "missing message id", log)
		return
	}
	if c.cfg.Publisher != "" && !c.fromPublisher(d) {
		c.park(hctx, pub, d, attempts, fmt.Sprintf("published by %q, not by %s, the only publisher this queue accepts",
			d.UserId, c.cfg.Publisher), log.With("user_id", d.UserId))
		return
	}

	handlerOK := false
	err := db.WithTx(hctx, c.gdb, func(txctx context.Context, tx *gorm.DB) error {
		err := tx.Exec("INSERT INTO processed_messages (consumer, message_id, processed_at) VALUES (?, ?, ?)",
			c.cfg.Name, d.MessageId, time.Now().UTC()).Error
		if db.IsDuplicateKey(err) {
			return errAlreadyProcessed
		}
		if err != nil {
			return fmt.Errorf("record processed id: %w", err)
		}
		if err := c.call(txctx, d, attempts); err != nil {
			return err
		}
		handlerOK = true
		return nil
	})
	if err != nil && !errors.Is(err, errAlreadyProcessed) {
		span.SetStatus(codes.Error, err.Error())
	}
	switch {
	case err == nil:
		_ = d.Ack(false)
	case errors.Is(err, errAlreadyProcessed):
		log.DebugContext(hctx, "duplicate delivery skipped")
		_ = d.Ack(false)
	case errors.Is(err, ErrPoison):
		c.park(hctx, pub, d, attempts+1, err.Error(), log)
	case handlerOK || !c.handlerRan(err):
		// Our own bookkeeping (dedupe insert or commit) failed, not the handler: most likely the
		// database is down. Do not spend the message's attempts on it; wait and hand it back.
		log.WarnContext(hctx, "consumer could not commit; requeueing", "err", err)
		pause.For(ctx, Backoff(attempts+1, c.cfg.RetryBackoff, reconnectMax))
		_ = d.Nack(false, true)
	case attempts+1 >= c.cfg.MaxAttempts:
		c.park(hctx, pub, d, attempts+1, fmt.Sprintf("gave up after %d attempts: %v", attempts+1, err), log)
	default:
		log.WarnContext(hctx, "handler failed; will retry", "attempt", attempts+1, "err", err)
		pause.For(ctx, Backoff(attempts+1, c.cfg.RetryBackoff, reconnectMax))
		c.retry(hctx, pub, d, attempts+1, err.Error(), log)
	}
}

// fromPublisher reports whether d was published by cfg.Publisher: directly (its user_id), or
// through this consumer's own retry of such a message (its user_id is the consumer's own, which
// no other broker user can set, and it carries HeaderVerifiedPublisher).
func (c *consumer) fromPublisher(d amqp.Delivery) bool {
	if d.UserId == c.cfg.Publisher {
		return true
	}
	verified, _ := d.Headers[HeaderVerifiedPublisher].(string)
	return d.UserId != "" && d.UserId == c.conn.User() && verified == c.cfg.Publisher
}

// handlerError marks an error as the handler's own, so bookkeeping failures can be told apart.
type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }
func (e handlerError) Unwrap() error { return e.err }

func (c *consumer) handlerRan(err error) bool {
	var he handlerError
	return errors.As(err, &he)
}

// call runs the handler, turning a panic into an error so one bad message cannot kill the process.
func (c *consumer) call(ctx context.Context, d amqp.Delivery, attempts int) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = handlerError{fmt.Errorf("handler panic: %v", p)}
		}
	}()
	err = c.h(ctx, Delivery{
		MessageID: d.MessageId, Type: d.Type, Body: d.Body, Headers: d.Headers, Redelivered: d.Redelivered,
		ContentType: d.ContentType, Timestamp: d.Timestamp, Attempts: attempts,
	})
	if err != nil {
		return handlerError{err}
	}
	return nil
}

// janitor forgets processed ids past DedupeRetention, hourly, in small chunks.
func (c *consumer) janitor(ctx context.Context) {
	for {
		cutoff := time.Now().UTC().Add(-c.cfg.DedupeRetention)
		for ctx.Err() == nil {
			res := c.gdb.WithContext(ctx).Exec(
				"DELETE FROM processed_messages WHERE consumer = ? AND processed_at < ? LIMIT 1000", c.cfg.Name, cutoff)
			if res.Error != nil || res.RowsAffected < 1000 {
				break
			}
		}
		if !pause.For(ctx, time.Hour) {
			return
		}
	}
}
