package mysql

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// The notify lookup scans by hand; it must read what gorm's model reads, in every state.
func TestLookupByOutTradeNoReadsWhatTheModelReads(t *testing.T) {
	e := newBatchEnv(t)
	now := time.Now().UTC()
	items := []payment.Item{{SkuID: "sku-1", Title: "课程 \"Go\"", Kind: "COURSE", Quantity: 2, UnitPriceFen: money.Fen(1234)}}
	e.next++
	waiting, err := payment.New(e.next, 77, "user-1", payment.ChannelWechatNative, "PSTLOOKUP1", money.Fen(2468), now.Add(time.Hour), now, items)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.repo.CreatePayment(e.ctx, waiting, app.Changes{}); err != nil {
		t.Fatal(err)
	}
	if err := e.repo.SetQRCode(e.ctx, waiting.ID, "weixin://wxpay/bizpayurl?pr=abc"); err != nil {
		t.Fatal(err)
	}
	paid := e.waiting()
	if err := e.repo.markSucceededBatch(e.ctx, []*paidReq{e.success(paid, "lookup")}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*payment.Payment{waiting, paid} {
		byID, err := e.repo.GetPayment(e.ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		byNo, err := e.repo.GetPaymentByOutTradeNo(e.ctx, p.OutTradeNo)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(byID, byNo) {
			t.Fatalf("by out_trade_no\n %+v\nby id (gorm)\n %+v", byNo, byID)
		}
	}
	if _, err := e.repo.GetPaymentByOutTradeNo(e.ctx, "PSTNOSUCH"); !errors.Is(err, payment.ErrNotFound) {
		t.Fatalf("unknown out_trade_no: %v, want ErrNotFound", err)
	}
}

// Concurrent lookups share SELECTs; each caller still gets its own payment, or ErrNotFound, and
// a spelling the column's collation matches finds the payment as a lookup of its own did.
func TestConcurrentLookupsEachGetTheirOwnPayment(t *testing.T) {
	e := newBatchEnv(t)
	const n = 40
	ps := make([]*payment.Payment, n)
	for i := range ps {
		ps[i] = e.waiting()
	}
	var wg sync.WaitGroup
	for round := 0; round < 3; round++ {
		for i, p := range ps {
			wg.Add(3)
			go func() {
				defer wg.Done()
				got, err := e.repo.GetPaymentByOutTradeNo(e.ctx, p.OutTradeNo)
				if err != nil || got.ID != p.ID || got.OutTradeNo != p.OutTradeNo {
					t.Errorf("lookup %s: %v, %v", p.OutTradeNo, got, err)
				}
			}()
			go func() {
				defer wg.Done()
				no := fmt.Sprintf("PSTNONE%d-%d", round, i)
				if got, err := e.repo.GetPaymentByOutTradeNo(e.ctx, no); !errors.Is(err, payment.ErrNotFound) {
					t.Errorf("lookup %s: %v, %v; want ErrNotFound", no, got, err)
				}
			}()
			go func() {
				defer wg.Done()
				lower := strings.ToLower(p.OutTradeNo)
				want, wantErr := lookupOne(e.ctx, e.repo.gdb.Statement.ConnPool, lower)
				got, err := e.repo.GetPaymentByOutTradeNo(e.ctx, lower)
				if (err == nil) != (wantErr == nil) || (err == nil && got.ID != want.ID) {
					t.Errorf("lookup %s: %v, %v; alone it reads %v, %v", lower, got, err, want.ID, wantErr)
				}
			}()
		}
		wg.Wait()
	}
}
