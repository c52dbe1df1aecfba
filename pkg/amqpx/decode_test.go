package amqpx_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/paysuite/paysuite/pkg/amqpx"
)

func TestDecodeReadsItsTypeAndParksEverythingElse(t *testing.T) {
	body, err := proto.Marshal(wrapperspb.String("hello"))
	if err != nil {
		t.Fatal(err)
	}
	const name = "google.protobuf.StringValue"
	for _, tc := range []struct {
		name   string
		d      amqpx.Delivery
		poison bool
	}{
		{"its type", amqpx.Delivery{Type: name, ContentType: amqpx.ContentTypeProtobuf, Body: body}, false},
		{"no type or content type given", amqpx.Delivery{Body: body}, false},
		{"another type", amqpx.Delivery{Type: "google.protobuf.Int64Value", ContentType: amqpx.ContentTypeProtobuf, Body: body}, true},
		{"JSON", amqpx.Delivery{Type: name, ContentType: "application/json", Body: []byte(`"hello"`)}, true},
		{"not protobuf", amqpx.Delivery{Type: name, ContentType: amqpx.ContentTypeProtobuf, Body: []byte{0xff, 0xff}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := amqpx.Decode[wrapperspb.StringValue](tc.d)
			if tc.poison {
				if !errors.Is(err, amqpx.ErrPoison) || m != nil {
					t.Fatalf("Decode = %v, %v; want nil and a poison error", m, err)
				}
				return
			}
			if err != nil || m.GetValue() != "hello" {
				t.Fatalf("Decode = %v, %v; want hello", m, err)
			}
		})
	}
}

func TestHandleParksWhatCanNeverBeHandled(t *testing.T) {
	invalid, down := errors.New("invalid"), errors.New("database down")
	var got []string
	h := amqpx.Handle(func(_ context.Context, m *wrapperspb.StringValue) error {
		got = append(got, m.GetValue())
		switch m.GetValue() {
		case "invalid":
			return fmt.Errorf("event 1: %w", invalid)
		case "retry":
			return down
		}
		return nil
	}, invalid)
	deliver := func(v string) error {
		body, _ := proto.Marshal(wrapperspb.String(v))
		return h(context.Background(), amqpx.Delivery{Type: "google.protobuf.StringValue", Body: body})
	}
	if err := deliver("fine"); err != nil {
		t.Fatal(err)
	}
	if err := deliver("invalid"); !errors.Is(err, amqpx.ErrPoison) || !errors.Is(err, invalid) {
		t.Fatalf("an invalid message: %v, want poison wrapping the cause", err)
	}
	if err := deliver("retry"); !errors.Is(err, down) || errors.Is(err, amqpx.ErrPoison) {
		t.Fatalf("a failure worth retrying: %v, want it as is", err)
	}
	if err := h(context.Background(), amqpx.Delivery{Type: "google.protobuf.Int64Value"}); !errors.Is(err, amqpx.ErrPoison) {
		t.Fatalf("another type: %v, want poison", err)
	}
	if want := []string{"fine", "invalid", "retry"}; !slices.Equal(got, want) {
		t.Fatalf("handled %v, want %v (never an undecodable message)", got, want)
	}
}

func TestPoisonKeepsBothErrors(t *testing.T) {
	invalid := errors.New("invalid event")
	err := amqpx.Poison(invalid)
	if !errors.Is(err, amqpx.ErrPoison) || !errors.Is(err, invalid) {
		t.Fatalf("%v lost ErrPoison or its cause", err)
	}
}
