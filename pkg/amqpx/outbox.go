package amqpx

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/protobuf/proto"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// VersionTable is the goose version table of the amqpx tables, kept apart from the service's.
const VersionTable = "goose_amqpx_version"

// ContentTypeProtobuf is the content type ProtoMessage sets.
const ContentTypeProtobuf = "application/x-protobuf"

// MaxMessageIDLen is the longest message id the outbox and the dedupe table accept.
const MaxMessageIDLen = 64

// MigrateOutbox creates or upgrades outbox_messages and processed_messages in gdb's database.
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
}

func (outboxRow) TableName() string { return "outbox_messages" }

// AddToOutbox stores msgs for the Relay. It writes through db.Conn(ctx, gdb), so inside
// db.WithTx the messages commit or roll back with the caller's state change. A message id
// already in the outbox fails with a duplicate-key error (db.IsDuplicateKey).
func AddToOutbox(ctx context.Context, gdb *gorm.DB, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	now := time.Now().UTC()
	rows := make([]outboxRow, 0, len(msgs))
	for _, m := range msgs {
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
		rows = append(rows, outboxRow{
			MessageID: m.ID, Exchange: m.Exchange, RoutingKey: m.RoutingKey, Type: m.Type,
			ContentType: m.ContentType, Headers: headers, Body: body, CreatedAt: now,
		})
	}
	return db.Conn(ctx, gdb).Create(&rows).Error
}

// headerValue keeps a header's AMQP type through JSON, which alone would turn int64 into float64.
type headerValue struct {
	T string          `json:"t"`
	V json.RawMessage `json:"v"`
}

func encodeHeaders(h map[string]any) (*string, error) {
	if len(h) == 0 {
		return nil, nil
	}
	enc := make(map[string]headerValue, len(h))
	for k, v := range h {
		var typ string
		switch x := v.(type) {
		case string:
			typ = "s"
		case bool:
			typ = "b"
		case int:
			typ, v = "i", int64(x)
		case int8:
			typ, v = "i", int64(x)
		case int16:
			typ, v = "i", int64(x)
		case int32:
			typ, v = "i", int64(x)
		case int64:
			typ = "i"
		case uint8:
			typ, v = "i", int64(x)
		case uint16:
			typ, v = "i", int64(x)
		case uint32:
			typ, v = "i", int64(x)
		case float32:
			typ, v = "f", float64(x)
		case float64:
			typ = "f"
		case time.Time:
			typ = "t"
		case []byte:
			typ = "x"
		default:
			return nil, fmt.Errorf("header %s: unsupported type %T", k, v)
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", k, err)
		}
		enc[k] = headerValue{T: typ, V: raw}
	}
	b, err := json.Marshal(enc)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
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
			var v string
			err = json.Unmarshal(hv.V, &v)
			t[k] = v
		case "b":
			var v bool
			err = json.Unmarshal(hv.V, &v)
			t[k] = v
		case "i":
			var v int64
			err = json.Unmarshal(hv.V, &v)
			t[k] = v
		case "f":
			var v float64
			err = json.Unmarshal(hv.V, &v)
			t[k] = v
		case "t":
			var v time.Time
			err = json.Unmarshal(hv.V, &v)
			t[k] = v
		case "x":
			var v []byte
			err = json.Unmarshal(hv.V, &v)
			t[k] = v
		default:
			err = errors.New("unknown header type " + hv.T)
		}
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", k, err)
		}
	}
	return t, nil
}
