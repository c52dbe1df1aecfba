package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/spf13/cobra"

	"github.com/paysuite/paysuite/pkg/amqpx"
)

// parkedMessage is what `parked list` shows of one parked message.
type parkedMessage struct {
	MessageID     string    `json:"messageId"`
	Type          string    `json:"type"`
	OriginalQueue string    `json:"originalQueue"`
	Reason        string    `json:"reason"`
	Attempts      int64     `json:"attempts"`
	PublishedBy   string    `json:"publishedBy"`
	Timestamp     time.Time `json:"timestamp"`
	Bytes         int       `json:"bytes"`
}

func describe(queue string, d amqp.Delivery) parkedMessage {
	str := func(k string) string { s, _ := d.Headers[k].(string); return s }
	orig := str(amqpx.HeaderOriginalQueue)
	if orig == "" {
		orig = queue
	}
	var attempts int64
	switch v := d.Headers[amqpx.HeaderAttempts].(type) {
	case int64:
		attempts = v
	case int32:
		attempts = int64(v)
	}
	by := d.UserId
	if v := str(amqpx.HeaderVerifiedPublisher); v != "" {
		by = v + " (verified)"
	}
	return parkedMessage{MessageID: d.MessageId, Type: d.Type, OriginalQueue: orig, Reason: str(amqpx.HeaderParkReason),
		Attempts: attempts, PublishedBy: by, Timestamp: d.Timestamp, Bytes: len(d.Body)}
}

// consumerQueue names the consumer queue for an argument that may be its parking queue.
func consumerQueue(arg string) string { return strings.TrimSuffix(arg, amqpx.ParkingSuffix) }

func parkedCmd(o *Options) *cobra.Command {
	c := &cobra.Command{Use: "parked", Short: "Messages a consumer parked (<queue>.parking), over AMQP (--amqp-url)"}
	var limit int
	list := &cobra.Command{
		Use: "list QUEUE", Short: "Show the parked messages of a consumer queue, without taking them", Args: args(1, "a queue name"),
		RunE: func(cmd *cobra.Command, a []string) error {
			msgs, err := o.peekParked(cmd.Context(), consumerQueue(a[0]), limit)
			if err != nil {
				return err
			}
			return o.showParked(msgs)
		},
	}
	list.Flags().IntVar(&limit, "limit", 1000, "show at most this many")
	var ids []string
	replay := &cobra.Command{
		Use:   "replay QUEUE",
		Short: "Move parked messages back to their queue, once each (after showing them and asking)",
		Long: "Each parked message (or only those named by --id) is published again to the queue it was parked from,\n" +
			"with its message id, a fresh attempt count and its publisher's verification, then removed from the parking\n" +
			"queue. Consumers deduplicate by message id: a message already handled is not handled again. Use the broker\n" +
			"user of the service that consumes the queue (--amqp-url): a copy it did not park is refused by the consumer.",
		Args: args(1, "a queue name"),
		RunE: func(cmd *cobra.Command, a []string) error {
			queue := consumerQueue(a[0])
			msgs, err := o.peekParked(cmd.Context(), queue, limit)
			if err != nil {
				return err
			}
			want := map[string]bool{}
			for _, id := range ids {
				want[id] = true
			}
			var chosen []parkedMessage
			for _, m := range msgs {
				if len(want) == 0 || want[m.MessageID] {
					chosen = append(chosen, m)
				}
			}
			if len(chosen) == 0 {
				fmt.Fprintln(o.errOut, "nothing to replay")
				return nil
			}
			fmt.Fprintf(o.errOut, "will replay %d message(s) from %s:\n", len(chosen), amqpx.ParkingQueue(queue))
			if err := o.tableTo(chosen); err != nil {
				return err
			}
			if !o.confirm(fmt.Sprintf("replay %d message(s)?", len(chosen))) {
				return errors.New("not confirmed; nothing replayed")
			}
			n, err := o.replay(cmd.Context(), queue, want, limit)
			fmt.Fprintf(o.errOut, "replayed %d message(s)\n", n)
			return err
		},
	}
	replay.Flags().StringSliceVar(&ids, "id", nil, "replay only these message ids (repeatable)")
	replay.Flags().IntVar(&limit, "limit", 1000, "look at most at this many parked messages")
	c.AddCommand(list, replay)
	return c
}

func (o *Options) showParked(msgs []parkedMessage) error {
	if o.Output == "json" {
		if msgs == nil {
			msgs = []parkedMessage{}
		}
		return o.printJSON(msgs)
	}
	return o.tableTo(msgs)
}

func (o *Options) tableTo(msgs []parkedMessage) error {
	rows := make([][]string, 0, len(msgs))
	for _, m := range msgs {
		rows = append(rows, []string{m.MessageID, m.Type, strconv.FormatInt(m.Attempts, 10), m.PublishedBy,
			m.Timestamp.UTC().Format(time.RFC3339), m.Reason})
	}
	return o.table([]string{"MESSAGE_ID", "TYPE", "ATTEMPTS", "PUBLISHED_BY", "TIMESTAMP", "REASON"}, rows)
}

// channel opens a channel to the broker; close the connection when done.
func (o *Options) channel() (*amqp.Connection, *amqp.Channel, error) {
	conn, err := amqp.DialConfig(o.AMQPURL, amqp.Config{Dial: amqp.DefaultDial(10 * time.Second)})
	if err != nil {
		return nil, nil, fmt.Errorf("broker at %s: %w", redact(o.AMQPURL), err)
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, ch, nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable AMQP URL)"
	}
	return u.Redacted()
}

// peekParked reads up to limit parked messages of queue and hands them all back (closing the
// channel requeues what it took, in order).
func (o *Options) peekParked(_ context.Context, queue string, limit int) ([]parkedMessage, error) {
	conn, ch, err := o.channel()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	parking := amqpx.ParkingQueue(queue)
	if _, err := ch.QueueDeclarePassive(parking, true, false, false, false, nil); err != nil {
		return nil, fmt.Errorf("parking queue %s: %w", parking, err)
	}
	var out []parkedMessage
	for len(out) < limit {
		d, ok, err := ch.Get(parking, false)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", parking, err)
		}
		if !ok {
			break
		}
		out = append(out, describe(queue, d))
	}
	return out, nil // the deferred close gives every message back
}

// replay moves the parked messages of queue (those in want, or all) back to the queue they came
// from: a confirmed publish of the copy, then the ack of the parked one, so a message is never
// only in our hands. It reports progress and returns how many it moved.
func (o *Options) replay(ctx context.Context, queue string, want map[string]bool, limit int) (int, error) {
	conn, ch, err := o.channel()
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := ch.Confirm(false); err != nil {
		return 0, err
	}
	user := ""
	if u, err := url.Parse(o.AMQPURL); err == nil {
		user = u.User.Username()
	}
	parking := amqpx.ParkingQueue(queue)
	q, err := ch.QueueDeclarePassive(parking, true, false, false, false, nil)
	if err != nil {
		return 0, fmt.Errorf("parking queue %s: %w", parking, err)
	}
	// Only what is parked now: a replayed message the consumer parks again (a forgery, a bug not
	// yet fixed) lands behind them and must not be replayed again in this run.
	limit = min(limit, q.Messages)
	done := map[string]bool{}
	moved := 0
	for seen := 0; seen < limit; seen++ {
		d, ok, err := ch.Get(parking, false)
		if err != nil {
			return moved, fmt.Errorf("read %s: %w", parking, err)
		}
		if !ok || done[d.MessageId] {
			break
		}
		if len(want) > 0 && !want[d.MessageId] {
			continue // left unacked: handed back when the channel closes
		}
		done[d.MessageId] = true
		m := describe(queue, d)
		headers := amqp.Table{}
		for k, v := range d.Headers {
			headers[k] = v
		}
		delete(headers, amqpx.HeaderParkReason)
		delete(headers, amqpx.HeaderAttempts)
		delete(headers, amqpx.HeaderLastError)
		headers["x-replayed-at"] = time.Now().UTC().Format(time.RFC3339)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		dc, err := ch.PublishWithDeferredConfirmWithContext(pctx, "", m.OriginalQueue, true, false, amqp.Publishing{
			Headers: headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding, DeliveryMode: amqp.Persistent,
			MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type, UserId: user, AppId: d.AppId, Body: d.Body,
			CorrelationId: d.CorrelationId,
		})
		if err == nil {
			var acked bool
			acked, err = dc.WaitContext(pctx)
			if err == nil && !acked {
				err = errors.New("broker nacked the copy")
			}
		}
		cancel()
		if err != nil {
			return moved, fmt.Errorf("replay %s to %s: %w (it stays parked)", d.MessageId, m.OriginalQueue, err)
		}
		if err := d.Ack(false); err != nil {
			return moved, fmt.Errorf("remove %s from %s after replaying it: %w (the consumer drops the duplicate)",
				d.MessageId, parking, err)
		}
		moved++
		fmt.Fprintf(o.errOut, "replayed %d: %s -> %s\n", moved, d.MessageId, m.OriginalQueue)
	}
	return moved, nil
}
