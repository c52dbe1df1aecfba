package amqpx

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Handle is a consumer's Handler: it decodes each delivery with Decode and calls h with the
// message. An error from h that matches one of poison (errors.Is) is a message that can never
// be handled, and is parked at once.
func Handle[T any, M interface {
	*T
	proto.Message
}](h func(ctx context.Context, m M) error, poison ...error) Handler {
	return func(ctx context.Context, d Delivery) error {
		m, err := Decode[T, M](d)
		if err != nil {
			return err
		}
		err = h(ctx, m)
		for _, p := range poison {
			if errors.Is(err, p) {
				return Poison(err)
			}
		}
		return err
	}
}

// Decode is how every consumer reads a delivery: it checks that d carries an M (its type, when
// set, is M's full name; its content type, when set, is ContentTypeProtobuf) and unmarshals the
// body. Every refusal wraps ErrPoison: such a message fails the same way however often it is
// retried, so the consumer parks it at once.
func Decode[T any, M interface {
	*T
	proto.Message
}](d Delivery) (M, error) {
	m := M(new(T))
	want := string(m.ProtoReflect().Descriptor().FullName())
	if d.Type != "" && d.Type != want {
		return nil, fmt.Errorf("%w: message type %q, want %s", ErrPoison, d.Type, want)
	}
	if d.ContentType != "" && d.ContentType != ContentTypeProtobuf {
		return nil, fmt.Errorf("%w: %s with content type %q", ErrPoison, want, d.ContentType)
	}
	if err := proto.Unmarshal(d.Body, m); err != nil {
		return nil, fmt.Errorf("%w: decode %s: %w", ErrPoison, want, err)
	}
	return m, nil
}

// Poison marks err as a message that can never succeed, so the consumer parks it instead of
// retrying it; errors.Is finds both ErrPoison and what err wraps.
func Poison(err error) error { return fmt.Errorf("%w: %w", ErrPoison, err) }
