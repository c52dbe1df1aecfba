package amqpx

import (
	"context"
	"errors"
	"log/slog"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Retry and park both republish a confirmed copy before acking the original: at no moment is
// the message only in our memory.

// retry puts a copy with the new attempt count at the queue's tail, then acks the original.
func (c *consumer) retry(ctx context.Context, pub *amqp.Channel, d amqp.Delivery, attempts int, lastErr string, log *slog.Logger) {
	headers := copyHeaders(d.Headers)
	headers[HeaderAttempts] = int64(attempts)
	headers[HeaderLastError] = truncate(lastErr, 1000)
	if err := publishConfirmed(ctx, pub, c.cfg.Queue, c.copyOf(d, headers)); err != nil {
		log.ErrorContext(ctx, "retry copy not confirmed; requeueing the original", "err", err)
		_ = d.Nack(false, true)
		return
	}
	c.cfg.Metrics.retried(c.cfg.Queue)
	_ = d.Ack(false)
}

// park moves the message to `<queue>.parking` for a human, then acks the original.
func (c *consumer) park(ctx context.Context, pub *amqp.Channel, d amqp.Delivery, attempts int, reason string, log *slog.Logger) {
	headers := copyHeaders(d.Headers)
	headers[HeaderAttempts] = int64(attempts)
	headers[HeaderParkReason] = truncate(reason, 1000)
	headers[HeaderOriginalQueue] = c.cfg.Queue
	if err := publishConfirmed(ctx, pub, ParkingQueue(c.cfg.Queue), c.copyOf(d, headers)); err != nil {
		log.ErrorContext(ctx, "parked copy not confirmed; requeueing the original", "err", err)
		_ = d.Nack(false, true)
		return
	}
	log.ErrorContext(ctx, "message parked", "queue", ParkingQueue(c.cfg.Queue), "reason", reason, "attempts", attempts)
	c.cfg.Metrics.parkedOne(c.cfg.Queue)
	_ = d.Ack(false)
}

// publishConfirmed publishes to queue via the default exchange and waits for the broker's ack.
func publishConfirmed(ctx context.Context, pub *amqp.Channel, queue string, msg amqp.Publishing) error {
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	dc, err := pub.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false, msg)
	if err != nil {
		return err
	}
	acked, err := dc.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !acked {
		return errors.New("broker nacked (or channel closed)")
	}
	return nil
}

// copyOf rebuilds d as a persistent publishing by this consumer. Expiration is dropped (a
// retried copy must not expire unseen); UserId becomes the consumer's own broker user (the broker
// checks it against the publishing connection), and HeaderVerifiedPublisher says whether the
// original came from cfg.Publisher.
func (c *consumer) copyOf(d amqp.Delivery, headers amqp.Table) amqp.Publishing {
	delete(headers, HeaderVerifiedPublisher)
	if c.cfg.Publisher != "" && c.fromPublisher(d) {
		headers[HeaderVerifiedPublisher] = c.cfg.Publisher
	}
	return amqp.Publishing{
		Headers: headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: amqp.Persistent, Priority: d.Priority, CorrelationId: d.CorrelationId,
		ReplyTo: d.ReplyTo, MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type,
		UserId: c.conn.User(), AppId: d.AppId, Body: d.Body,
	}
}

func copyHeaders(h amqp.Table) amqp.Table {
	out := make(amqp.Table, len(h)+3)
	for k, v := range h {
		out[k] = v
	}
	return out
}

func headerInt(h amqp.Table, key string) int {
	switch v := h[key].(type) {
	case int:
		return v
	case int8:
		return int(v)
	case int16:
		return int(v)
	case int32:
		return int(v)
	case int64:
		return int(v)
	case uint8:
		return int(v)
	case uint16:
		return int(v)
	case uint32:
		return int(v)
	case float64:
		return int(v)
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
