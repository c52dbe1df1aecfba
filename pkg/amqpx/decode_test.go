package amqpx_test

import (
	"errors"
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

func TestPoisonKeepsBothErrors(t *testing.T) {
	invalid := errors.New("invalid event")
	err := amqpx.Poison(invalid)
	if !errors.Is(err, amqpx.ErrPoison) || !errors.Is(err, invalid) {
		t.Fatalf("%v lost ErrPoison or its cause", err)
	}
}
