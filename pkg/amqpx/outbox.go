package amqpx

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/protobuf/proto"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/leader"
	"github.com/paysuite/paysuite/pkg/tracing"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// VersionTable is the goose version table of the amqpx tables, kept apart from the service's.
const VersionTable = "goose_amqpx_version"

// ContentTypeProtobuf is the content type ProtoMessage sets.
const ContentTypeProtobuf = "application/x-protobuf"

// MaxMessageIDLen is the longest message id the outbox and the dedupe table accept.
const MaxMessageIDLen = 64

// MigrateOutbox creates or upgrades outbox_messages, processed_messages and the relay's
// leader_leases in gdb's database.
// Call it right after db.Open in every service that publishes via the outbox or uses Consume.
func MigrateOutbox(ctx context.Context, gdb *gorm.DB, log *slog.Logger) error {
	sqlDB, err := gdb.DB()
	if err != nil {
		return err
	}
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	if err := db.MigrateNamed(ctx, sqlDB, files, VersionTable, log); err != nil {
		return fmt.Errorf("migrate amqpx tables: %w", err)
	}
	// The relay's leader lease lives in the same database.
	if err := db.MigrateNamed(ctx, sqlDB, leader.Migrations(), leader.VersionTable, log); err != nil {
		return fmt.Errorf("migrate leader_leases: %w", err)
	}
	return nil
}

// Message is one event to publish.
type Message struct {
	ID          string // unique message id (<= 64 chars); consumers deduplicate on it
	Exchange    string // "" is the default exchange: RoutingKey is then a queue name
	RoutingKey  string
	Type        string
	ContentType string
	Body        []byte
	// Headers values may be string, bool, any integer, float32/64, time.Time or []byte; integers
	// arrive as int64 (exact, unlike a plain JSON round trip). Anything else is refused by
	// AddToOutbox, at write time rather than at publish time.
	Headers map[string]any
}

// ProtoMessage builds a Message carrying m in binary protobuf with Type = m's full name.
func ProtoMessage(id, exchange, routingKey string, m proto.Message, headers map[string]any) (Message, error) {
	body, err := proto.Marshal(m)
	if err != nil {
		return Message{}, fmt.Errorf("marshal %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return Message{
		ID:          id,
		Exchange:    exchange,
		RoutingKey:  routingKey,
		Type:        string(m.ProtoReflect().Descriptor().FullName()),
		ContentType: ContentTypeProtobuf,
		Body:        body,
		Headers:     headers,
	}, nil
}

// outboxRow is one outbox_messages row.
type outboxRow struct {
	ID            int64 `gorm:"primaryKey"`
	MessageID     string
	Exchange      string
	RoutingKey    string
	Type          string
	ContentType   string
	Headers       *string
	Body          []byte
	CreatedAt     time.Time
	PublishedAt   *time.Time
	Attempts      int
	LastError     *string
	NextAttemptAt *time.Time
	TraceContext  *string // W3C traceparent of the span that wrote the row
}

func (outboxRow) TableName() string { return "outbox_messages" }

// AddToOutbox stores msgs for the Relay. It writes through db.Conn(ctx, gdb), so inside
// db.WithTx the messages commit or roll back with the caller's state change. A message id
// already in the outbox fails with a duplicate-key error (db.IsDuplicateKey).
//
// One prebuilt multi-row INSERT rather than gorm's Create: on the notify and CreateOrder hot
// paths the model reflection and JSON header encoding cost more than the round trip.
func AddToOutbox(ctx context.Context, gdb *gorm.DB, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	now := time.Now().UTC()
	var trace any // NULL outside a span
	if tp := tracing.Traceparent(ctx); tp != "" {
		trace = tp
	}
	perMessage, _ := ctx.Value(messageTracesKey{}).(map[string]string)
	const cols = 9
	args := make([]any, 0, len(msgs)*cols)
	var q strings.Builder
	q.Grow(len(outboxInsert) + len(msgs)*len(",(?,?,?,?,?,?,?,?,?)"))
	q.WriteString(outboxInsert)
	for i, m := range msgs {
		if m.ID == "" || len(m.ID) > MaxMessageIDLen {
			return fmt.Errorf("outbox message id %q: want 1..%d characters", m.ID, MaxMessageIDLen)
		}
		if m.Exchange == "" && m.RoutingKey == "" {
			return fmt.Errorf("outbox message %s: no exchange and no routing key", m.ID)
		}
		headers, err := encodeHeaders(m.Headers)
		if err != nil {
			return fmt.Errorf("outbox message %s: %w", m.ID, err)
		}
		body := m.Body
		if body == nil {
			body = []byte{}
		}
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?,?,?,?,?,?,?,?,?)")
		var h any // NULL when there are no headers
		if headers != nil {
			h = *headers
		}
		rowTrace := trace
		if tp := perMessage[m.ID]; tp != "" {
			rowTrace = tp
		}
		args = append(args, m.ID, m.Exchange, m.RoutingKey, m.Type, m.ContentType, h, body, now, rowTrace)
	}
	return db.Conn(ctx, gdb).Exec(q.String(), args...).Error
}

type messageTracesKey struct{}

// WithMessageTraces returns ctx telling AddToOutbox the W3C traceparent of each message id
// written under it, instead of ctx's own span: for a batch that writes, in one transaction, the
// events of several requests, each of which belongs to its own trace.
func WithMessageTraces(ctx context.Context, traces map[string]string) context.Context {
	return context.WithValue(ctx, messageTracesKey{}, traces)
}

const outboxInsert = "INSERT INTO outbox_messages (message_id, exchange, routing_key, type, content_type, headers, body, created_at, trace_context) VALUES "

// headerValue keeps a header's AMQP type through JSON, which alone would turn int64 into float64.
type headerValue struct {
	T string          `json:"t"`
	V json.RawMessage `json:"v"`
}

// encodeHeaders writes {"name":{"t":type,"v":value},…} with sorted names, by hand for the
// common strings, integers and bools (what json.Marshal of a map[string]headerValue wrote, at a
// fraction of the cost); floats, times and bytes still go through json.Marshal.
func encodeHeaders(h map[string]any) (*string, error) {
	if len(h) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b := make([]byte, 0, 32*len(h))
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendJSONString(b, k); err != nil {
			return nil, fmt.Errorf("header %s: %w", k, err)
		}
		b = append(b, `:{"t":"`...)
		if b, err = appendHeaderValue(b, h[k]); err != nil {
			return nil, fmt.Errorf("header %s: %w", k, err)
		}
		b = append(b, '}')
	}
	b = append(b, '}')
	s := string(b)
	return &s, nil
}

// appendHeaderValue appends `<type>","v":<json value>` for one header value.
func appendHeaderValue(b []byte, v any) ([]byte, error) {
	var typ string
	switch x := v.(type) {
	case string:
		b = append(b, `s","v":`...)
		return appendJSONString(b, x)
	case bool:
		b = append(b, `b","v":`...)
		return strconv.AppendBool(b, x), nil
	case int:
		return appendInt(b, int64(x)), nil
	case int8:
		return appendInt(b, int64(x)), nil
	case int16:
		return appendInt(b, int64(x)), nil
	case int32:
		return appendInt(b, int64(x)), nil
	case int64:
		return appendInt(b, x), nil
	case uint8:
		return appendInt(b, int64(x)), nil
	case uint16:
		return appendInt(b, int64(x)), nil
	case uint32:
		return appendInt(b, int64(x)), nil
	case float32:
		typ, v = "f", float64(x)
	case float64:
		typ = "f"
	case time.Time:
		typ = "t"
	case []byte:
		typ = "x"
	default:
		return nil, fmt.Errorf("unsupported type %T", v)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	b = append(b, typ...)
	b = append(b, `","v":`...)
	return append(b, raw...), nil
}

func appendInt(b []byte, v int64) []byte {
	b = append(b, `i","v":`...)
	return strconv.AppendInt(b, v, 10)
}

// appendJSONString writes plain printable ASCII as is and leaves anything needing an escape to
// json.Marshal.
func appendJSONString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			raw, err := json.Marshal(s)
			if err != nil {
				return nil, err
			}
			return append(b, raw...), nil
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}

func decodeHeaders(s *string) (amqp.Table, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	var enc map[string]headerValue
	if err := json.Unmarshal([]byte(*s), &enc); err != nil {
		return nil, err
	}
	t := make(amqp.Table, len(enc))
	for k, hv := range enc {
		var err error
		switch hv.T {
		case "s":
			t[k], err = decodeAs[string](hv.V)
		case "b":
			t[k], err = decodeAs[bool](hv.V)
		case "i":
			t[k], err = decodeAs[int64](hv.V)
		case "f":
			t[k], err = decodeAs[float64](hv.V)
		case "t":
			t[k], err = decodeAs[time.Time](hv.V)
		case "x":
			t[k], err = decodeAs[[]byte](hv.V)
		default:
			err = errors.New("unknown header type " + hv.T)
		}
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", k, err)
		}
	}
	return t, nil
}

// decodeAs decodes one stored header value as the Go type it was written from.
func decodeAs[T any](raw json.RawMessage) (any, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
}
