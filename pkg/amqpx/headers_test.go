package amqpx

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// The hand-written header encoder must round-trip every accepted type exactly and read back
// what the json.Marshal encoder it replaced wrote into rows already in the outbox.
func TestHeadersRoundTripEveryType(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	in := map[string]any{
		"plain": "abc", "quote\"d": "say \"hi\"\\ back", "ctl": "a\nb\tc\x01", "html": "<a&b>", "utf8": "支付成功 ✓",
		"empty": "", "t": true, "f": false, "int": 42, "i8": int8(-8), "i16": int16(-1600), "i32": int32(-32),
		"i64": int64(math.MaxInt64), "min": int64(math.MinInt64), "u8": uint8(255), "u16": uint16(65535),
		"u32": uint32(math.MaxUint32), "f32": float32(1.5), "f64": 0.1, "time": at, "bytes": []byte{0, 1, 0xff},
	}
	want := amqp.Table{
		"plain": "abc", "quote\"d": "say \"hi\"\\ back", "ctl": "a\nb\tc\x01", "html": "<a&b>", "utf8": "支付成功 ✓",
		"empty": "", "t": true, "f": false, "int": int64(42), "i8": int64(-8), "i16": int64(-1600), "i32": int64(-32),
		"i64": int64(math.MaxInt64), "min": int64(math.MinInt64), "u8": int64(255), "u16": int64(65535),
		"u32": int64(math.MaxUint32), "f32": 1.5, "f64": 0.1, "time": at, "bytes": []byte{0, 1, 0xff},
	}
	enc, err := encodeHeaders(in)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid([]byte(*enc)) {
		t.Fatalf("not JSON: %s", *enc)
	}
	got, err := decodeHeaders(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip\n got %#v\nwant %#v", got, want)
	}
	again, _ := encodeHeaders(in)
	if *again != *enc {
		t.Fatalf("encoding not deterministic:\n%s\n%s", *enc, *again)
	}

	// A row written by the former encoder (json.Marshal of map[string]headerValue).
	old := `{"order_id":{"t":"i","v":1234567890123456789},"type":{"t":"s","v":"SUCCEEDED"},"x":{"t":"s","v":"\u003ca\u0026b\u003e"}}`
	got, err = decodeHeaders(&old)
	if err != nil {
		t.Fatal(err)
	}
	if want := (amqp.Table{"order_id": int64(1234567890123456789), "type": "SUCCEEDED", "x": "<a&b>"}); !reflect.DeepEqual(got, want) {
		t.Fatalf("old row: got %#v", got)
	}
}

func TestHeadersRefuseWhatJSONCannotCarry(t *testing.T) {
	for _, h := range []map[string]any{
		{"nan": math.NaN()}, {"inf": math.Inf(1)}, {"u64": uint64(1)}, {"struct": struct{}{}}, {"ptr": new(int)},
	} {
		if enc, err := encodeHeaders(h); err == nil {
			t.Errorf("encodeHeaders(%v) = %s, want an error", h, *enc)
		}
	}
	if enc, err := encodeHeaders(nil); err != nil || enc != nil {
		t.Fatalf("no headers = %v, %v; want NULL", enc, err)
	}
}
