package app

import (
	"hash/maphash"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// LedgerIndex is the ledger's side of one reconciliation: the payments (and their refunds) a
// provider day's bill is compared with. A day can hold hundreds of thousands of payments, so it
// is kept compact and free of pointers the garbage collector would have to follow: the
// out_trade_nos live in one byte arena, payments in one slice of fixed-size entries, found by a
// map from the out_trade_no's 64-bit hash (collisions chained and checked against the arena).
// Refunds are few; they are kept by out_refund_no.
//
// The storage adapter fills it (AddPayment, AddRefund) while streaming its query; the
// comparison reads it once it is complete. Not safe for concurrent use.
type LedgerIndex struct {
	seed    maphash.Seed
	byHash  map[uint64]int32
	arena   []byte
	pays    []ledgerPay
	refunds map[string]*ledgerRefund
}

// ledgerPay is one payment: 40 bytes, no pointers.
type ledgerPay struct {
	id     int64
	amount money.Fen
	noOff  uint32 // out_trade_no in the arena
	noLen  uint16
	status uint8
	flags  uint8
	next   int32 // next payment whose out_trade_no hashes the same, or -1
}

const (
	payInDay   uint8 = 1 << iota // paid within the day: a bill that lacks it is MISSING_IN_BILL
	payOutside                   // looked up for a bill row: no movement of the day
	paySeen                      // a payment row of the bill named it
)

var statusCodes = []payment.Status{"", payment.StatusWaiting, payment.StatusSucceeded, payment.StatusClosed, payment.StatusRefunded}

func statusCode(s []byte) uint8 {
	switch string(s) {
	case string(payment.StatusWaiting):
		return 1
	case string(payment.StatusSucceeded):
		return 2
	case string(payment.StatusClosed):
		return 3
	case string(payment.StatusRefunded):
		return 4
	}
	return 0
}

// ledgerRefund is one refund of a payment in the index.
type ledgerRefund struct {
	id           int64
	pay          int32 // its payment in pays
	status       payment.RefundStatus
	amount       money.Fen
	settledInDay bool // settled within the day: a bill that lacks it is MISSING_IN_BILL
	seen         bool
}

// NewLedgerIndex makes an empty index sized for about n payments.
func NewLedgerIndex(n int) *LedgerIndex {
	return &LedgerIndex{seed: maphash.MakeSeed(), byHash: make(map[uint64]int32, n), arena: make([]byte, 0, n*24),
		pays: make([]ledgerPay, 0, n), refunds: map[string]*ledgerRefund{}}
}

// Len is how many payments the index holds.
func (x *LedgerIndex) Len() int { return len(x.pays) }

func (x *LedgerIndex) noOf(i int32) []byte {
	p := &x.pays[i]
	return x.arena[p.noOff : p.noOff+uint32(p.noLen)]
}

func (x *LedgerIndex) find(no []byte, h uint64) int32 {
	i, ok := x.byHash[h]
	if !ok {
		return -1
	}
	for ; i >= 0; i = x.pays[i].next {
		if string(x.noOf(i)) == string(no) {
			return i
		}
	}
	return -1
}

// lookup is the payment of outTradeNo, or -1.
func (x *LedgerIndex) lookup(outTradeNo string) int32 {
	return x.find([]byte(outTradeNo), maphash.String(x.seed, outTradeNo))
}

// AddPayment adds a payment (outTradeNo is copied: the caller may reuse it). inDay: it was
// paid within the day. Adding one already there only widens what it is (inDay).
func (x *LedgerIndex) AddPayment(outTradeNo []byte, id int64, status []byte, amount money.Fen, inDay bool) {
	x.add(outTradeNo, id, statusCode(status), amount, inDay, false)
}

func (x *LedgerIndex) add(outTradeNo []byte, id int64, status uint8, amount money.Fen, inDay, outside bool) int32 {
	h := maphash.Bytes(x.seed, outTradeNo)
	if i := x.find(outTradeNo, h); i >= 0 {
		if inDay {
			x.pays[i].flags |= payInDay
		}
		return i
	}
	p := ledgerPay{id: id, amount: amount, noOff: uint32(len(x.arena)), noLen: uint16(len(outTradeNo)), status: status, next: -1}
	if inDay {
		p.flags |= payInDay
	}
	if outside {
		p.flags |= payOutside
	}
	if prev, ok := x.byHash[h]; ok {
		p.next = prev
	}
	x.arena = append(x.arena, outTradeNo...)
	x.pays = append(x.pays, p)
	i := int32(len(x.pays) - 1)
	x.byHash[h] = i
	return i
}

// AddOutside adds a payment looked up for a bill row outside the day's movements (never
// "missing in the bill" itself); one already there is kept as it is.
func (x *LedgerIndex) AddOutside(outTradeNo []byte, id int64, status []byte, amount money.Fen) {
	x.add(outTradeNo, id, statusCode(status), amount, false, true)
}

// AddRefund adds a refund of the payment outTradeNo (added before; otherwise ignored).
// settledInDay: it succeeded within the day. A refund already there is kept, widened.
func (x *LedgerIndex) AddRefund(outTradeNo []byte, outRefundNo string, id int64, status payment.RefundStatus, amount money.Fen, settledInDay bool) {
	i := x.find(outTradeNo, maphash.Bytes(x.seed, outTradeNo))
	if i < 0 {
		return
	}
	if r, ok := x.refunds[outRefundNo]; ok {
		r.settledInDay = r.settledInDay || settledInDay
		return
	}
	x.refunds[outRefundNo] = &ledgerRefund{id: id, pay: i, status: status, amount: amount, settledInDay: settledInDay}
}

// refund is the refund outRefundNo of payment i, or nil.
func (x *LedgerIndex) refund(i int32, outRefundNo string) *ledgerRefund {
	if r, ok := x.refunds[outRefundNo]; ok && r.pay == i {
		return r
	}
	return nil
}

func (x *LedgerIndex) status(i int32) payment.Status { return statusCodes[x.pays[i].status] }
