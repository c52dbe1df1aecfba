package amqpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/pause"
)

// ErrClosed is returned by Conn methods after Close.
var ErrClosed = errors.New("amqpx: connection closed")

const (
	reconnectMin = 200 * time.Millisecond
	reconnectMax = 5 * time.Second
	dialTimeout  = 5 * time.Second
	heartbeat    = 10 * time.Second
)

// Conn keeps one AMQP connection alive for the whole process: it reconnects with backoff
// and re-runs every topology func on each (re)connect.
type Conn struct {
	urls      []string // the cluster's nodes, tried in turn
	next      int      // the node connect tries first: the last one that worked
	user      string   // the broker user of the urls: what RabbitMQ validates user_id against
	queueType string   // QueueClassic or QueueQuorum: how every queue is declared
	log       *slog.Logger
	topology  []Topology

	mu    sync.Mutex
	conn  *amqp.Connection // nil while disconnected
	ready chan struct{}    // closed while conn is usable; replaced when it goes down

	stop   context.CancelFunc
	closed chan struct{} // closed when the reconnect loop has ended
}

// Dial connects to rawURL and keeps the connection alive until Close. rawURL may list several
// nodes of one cluster separated by commas (amqp://u:p@node1:5672/,amqp://u:p@node2:5672/): each
// (re)connect tries them in turn, starting with the one that last worked. A broker that is down is
// not an error: Dial logs it and keeps trying in the background (see the package doc). It
// returns an error only for a bad URL or a topology the broker refuses (or if ctx is already
// done). ctx does not end the connection: consumers and the relay still need it to ack and
// confirm while they drain after shutdown began, so close it after they have returned.
func Dial(ctx context.Context, rawURL string, log *slog.Logger, topology ...Topology) (*Conn, error) {
	return DialQueues(ctx, rawURL, QueueClassic, log, topology...)
}

// DialQueues is Dial declaring every queue (topology, consumers) of the given type:
// QueueClassic or QueueQuorum (AMQP_QUEUE_TYPE).
func DialQueues(ctx context.Context, rawURL, queueType string, log *slog.Logger, topology ...Topology) (*Conn, error) {
	urls := strings.Split(rawURL, ",")
	var user string
	for i, u := range urls {
		urls[i] = strings.TrimSpace(u)
		uri, err := amqp.ParseURI(urls[i])
		if err != nil {
			return nil, fmt.Errorf("AMQP_URL: %w", err)
		}
		if i > 0 && uri.Username != user {
			return nil, fmt.Errorf("AMQP_URL: every node must be reached as the same user (%q, then %q)", user, uri.Username)
		}
		user = uri.Username
	}
	if queueType != QueueClassic && queueType != QueueQuorum {
		return nil, fmt.Errorf("AMQP_QUEUE_TYPE=%q: want %s or %s", queueType, QueueClassic, QueueQuorum)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	redacted := make([]string, len(urls))
	for i, u := range urls {
		redacted[i] = redact(u)
	}
	loopCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	c := &Conn{
		urls:      urls,
		user:      user,
		queueType: queueType,
		log:       log.With("amqp", strings.Join(redacted, ",")),
		topology:  topology,
		ready:     make(chan struct{}),
		stop:      stop,
		closed:    make(chan struct{}),
	}
	first, err := c.connect()
	var amqpErr *amqp.Error
	switch {
	case err == nil:
		c.setConn(first)
	case errors.As(err, &amqpErr) && isConfigError(amqpErr):
		stop()
		close(c.closed)
		return nil, err
	default:
		c.log.Warn("RabbitMQ not reachable yet; retrying in the background", "err", err)
	}
	go c.loop(loopCtx, first)
	return c, nil
}

// User is the broker user the connection logs in as. Messages published over it carry it as
// their user_id property, which RabbitMQ checks against the connection, so a consumer can tell
// who published a message.
func (c *Conn) User() string { return c.user }

// Close ends the connection and the reconnect loop. Channels obtained from it are closed.
func (c *Conn) Close() error {
	c.stop()
	<-c.closed
	return nil
}

// Ready waits until the connection is up (or ctx/Conn is done).
func (c *Conn) Ready(ctx context.Context) error {
	_, err := c.current(ctx)
	return err
}

// Connected reports whether the connection is up right now.
func (c *Conn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil && !c.conn.IsClosed()
}

// Channel waits for a live connection and opens a new channel on it. Callers own the channel:
// they close it, and when it closes (NotifyClose) they call Channel again, which waits out any
// reconnection.
func (c *Conn) Channel(ctx context.Context) (*amqp.Channel, error) {
	for {
		conn, err := c.current(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := conn.Channel()
		if err == nil {
			return ch, nil
		}
		// The connection died under us; forget it so the next wait blocks until the loop
		// has a new one instead of spinning on the dead one.
		c.markDown(conn)
		c.log.Debug("open channel failed; waiting for reconnect", "err", err)
	}
}

func (c *Conn) current(ctx context.Context) (*amqp.Connection, error) {
	for {
		c.mu.Lock()
		conn, ready := c.conn, c.ready
		c.mu.Unlock()
		if conn != nil && !conn.IsClosed() {
			return conn, nil
		}
		if conn != nil {
			c.markDown(conn)
			continue
		}
		select {
		case <-ready:
		case <-c.closed:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (c *Conn) setConn(conn *amqp.Connection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = conn
	close(c.ready)
}

// markDown forgets conn if it is still the current one; safe to call more than once.
func (c *Conn) markDown(conn *amqp.Connection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == conn && conn != nil {
		c.conn = nil
		c.ready = make(chan struct{})
	}
}

// loop watches the live connection and replaces it when it closes, until ctx is done.
func (c *Conn) loop(ctx context.Context, conn *amqp.Connection) {
	defer close(c.closed)
	failures := 0
	for {
		if conn == nil {
			var err error
			if conn, err = c.connect(); err != nil {
				failures++
				wait := Backoff(failures, reconnectMin, reconnectMax)
				c.log.Warn("RabbitMQ connect failed; will retry", "attempt", failures, "retry_in", wait.String(), "err", err)
				if !pause.For(ctx, wait) {
					return
				}
				continue
			}
			if failures > 0 {
				c.log.Info("RabbitMQ connected", "after_attempts", failures)
			}
			failures = 0
			c.setConn(conn)
		}
		closing := conn.NotifyClose(make(chan *amqp.Error, 1))
		select {
		case <-ctx.Done():
			c.markDown(conn)
			_ = conn.Close()
			return
		case err := <-closing:
			c.markDown(conn)
			c.log.Warn("RabbitMQ connection lost; reconnecting", "err", err)
			conn = nil
		}
	}
}

// QueueType is how the connection declares queues: QueueClassic or QueueQuorum.
func (c *Conn) QueueType() string { return c.queueType }

// connect dials the nodes in turn, from the last one that worked, and runs the topology funcs
// on a channel of their own on the first that answers.
func (c *Conn) connect() (*amqp.Connection, error) {
	var (
		conn *amqp.Connection
		errs []error
	)
	for i := range c.urls {
		n := (c.next + i) % len(c.urls)
		var err error
		conn, err = amqp.DialConfig(c.urls[n], amqp.Config{
			Heartbeat:  heartbeat,
			Locale:     "en_US",
			Dial:       amqp.DefaultDial(dialTimeout),
			Properties: amqp.Table{"connection_name": "paysuite"},
		})
		if err == nil {
			if n != c.next && len(c.urls) > 1 {
				c.log.Info("RabbitMQ: connected to another node", "node", redact(c.urls[n]))
			}
			c.next = n
			break
		}
		var amqpErr *amqp.Error
		if errors.As(err, &amqpErr) && isConfigError(amqpErr) {
			return nil, err // wrong credentials or vhost: another node will say the same
		}
		errs = append(errs, fmt.Errorf("%s: %w", redact(c.urls[n]), err))
	}
	if conn == nil {
		if len(errs) == 1 {
			return nil, errors.Unwrap(errs[0])
		}
		return nil, errors.Join(errs...)
	}
	if len(c.topology) == 0 {
		return conn, nil
	}
	ch, err := conn.Channel()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	declaring.Store(ch, c.queueType)
	defer declaring.Delete(ch)
	for _, declare := range c.topology {
		if err := declare(ch); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("declare topology: %w", err)
		}
	}
	_ = ch.Close()
	return conn, nil
}

// isConfigError reports broker refusals that retrying will not fix.
func isConfigError(err *amqp.Error) bool {
	switch err.Code {
	case amqp.AccessRefused, amqp.PreconditionFailed, amqp.NotAllowed:
		return true
	}
	return false
}

// Backoff returns an exponential delay for the n-th consecutive failure (n >= 1), doubling
// from min up to max, with ±25% jitter so many clients do not retry in lockstep.
func Backoff(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + jitter
}

// redact hides the password in logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	return u.Redacted()
}
