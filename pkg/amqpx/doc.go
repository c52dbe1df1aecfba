// Package amqpx is paysuite's RabbitMQ plumbing: one self-healing connection, a transactional
// outbox with a relay that publishes it, and an idempotent consumer with a parking queue.
//
// The guarantees, end to end: a message is written to outbox_messages in the same database
// transaction as the state change that caused it (AddToOutbox joins pkg/db.WithTx), so an event
// exists if and only if the change committed. The Relay publishes rows persistent on a
// confirm-mode channel and marks a row published only after the broker acked it; anything else
// (nack, timeout, lost connection) leaves the row for a later pass. Publishing is therefore
// at-least-once; Consume turns that into exactly-once effects by recording (consumer, message id)
// in processed_messages inside the handler's own transaction, and acking only after that commit.
// Nothing is acked before its replacement (retry copy or parked copy) has been confirmed.
//
// Connection (conn.go). Dial does not fail when RabbitMQ is down: a service must be able to
// start while the broker restarts, and the outbox keeps every event safe in MySQL meanwhile.
// Dial makes one attempt inline, logs a warning if it fails, and keeps retrying in the background
// with capped, jittered exponential backoff (200ms doubling to 5s). It fails only for what
// retrying cannot fix: an unparsable URL, or a Topology func refused by a reachable broker on the
// first connect (e.g. PRECONDITION_FAILED because a queue exists with other arguments). Every
// (re)connect re-runs the topology funcs, so a broker that lost its definitions gets them back.
// Conn.Channel(ctx) waits for a live connection and opens a fresh channel; Conn.Ready(ctx) just
// waits. The connection lives until Close, not until Dial's ctx: a service cancels its ctx,
// waits for Consume and Relay.Run to drain (they still ack and confirm), then closes the Conn.
//
// Relay (relay.go). Only one relay per database publishes at a time: it holds a leader.Lock, by
// default the lease row "amqpx_relay" (leader.Lease, one leader per database even on Galera,
// where GET_LOCK is node-local), and records each pass in a transaction fenced by it, so a relay
// deposed mid-pass stops instead of recording beside the new leader. MariaDB 10.6+ has
// SELECT … FOR UPDATE SKIP LOCKED, which would let several relays share the work, but each relay
// would then hold a transaction open across network I/O; a single leader publishes each pass's
// due rows in id order and a standby takes over once the leader's lease expired (TTL plus
// skew margin) or at once when the leader released it on shutdown. Rows whose publish failed
// individually (nack, no confirm in time, exchange
// missing) get attempts, last_error and next_attempt_at (backoff up to 1 minute) and are skipped
// until then, so one bad row cannot block the rest — and the rows behind it overtake it: the
// relay guarantees at-least-once, not order. A janitor deletes rows published more than
// 7 days ago (configurable).
//
// Consumer (consumer.go). Deliveries are handled by ConsumerConfig.Concurrency workers (default
// 1: sequential, which keeps the broker's order and is plenty for payment-event volumes; raise it
// only for handlers that serialise on their own rows). A handler error is retried by publishing
// a copy with x-attempts+1 to the queue's tail (a nack/requeue would lose the count), after
// a short backoff; after MaxAttempts, or at once for errors wrapping ErrPoison, the message goes to
// `<queue>.parking` with x-park-reason. Handlers read deliveries with Decode (type and content
// type checked, anything else poison) and mark what can never succeed with Poison. Consume
// re-subscribes after every reconnect and, when its ctx is done, stops taking deliveries, lets
// in-flight handlers finish, and returns nil.
//
// Tables: call MigrateOutbox after db.Open in every service that uses the outbox or Consume; it
// keeps its own goose version table (goose_amqpx_version) beside the service's migrations.
package amqpx
