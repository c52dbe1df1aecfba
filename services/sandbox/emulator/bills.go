package emulator

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"sort"
	"time"
)

// Trade bills (services/sandbox/README.md §6), shared by both providers: the rows of one provider day
// (Asia/Shanghai), when a day's bill exists, fees, and the short-lived download links.
//
// A day's bill exists once the day is over plus Config.BillReadyDelay (SANDBOX_BILL_READY_DELAY,
// default 10 h: Alipay's are ready before 09:00, WeChat's from 09:00-10:00). Tests set it negative
// (-24h) to fetch today's bill with the rows so far. The bill lists what the provider had done by
// the time it is fetched: payments by their payment time, SUCCESS refunds (API and console) by
// their completion time; PROCESSING, ABNORMAL and CLOSED refunds moved no money to the buyer yet
// and are not listed. Rows of trades older than the sandbox's 7-day retention are gone.

// feePermille is the service fee the sandbox charges on each payment: 0.6%, the standard rate of
// both providers, rounded half up to the fen. A refund returns the fee in proportion (the last
// refund of a trade returns what is left of it).
const feePermille = 6

// billLinkTTL is how long a download link works (Alipay: 30 s; WeChat documents 30 s or 5 min:
// keep the shorter). Real time: SANDBOX_TIME_SCALE compresses schedules, not links.
const billLinkTTL = 30 * time.Second

func feeFen(amountFen int64) int64 { return (amountFen*feePermille + 500) / 1000 }

// billRow is one line of a bill: a payment, or a refund.
type billRow struct {
	refund    *Refund // nil: a payment row
	t         Trade   // snapshot
	at        time.Time
	amountFen int64 // the payment's or the refund's amount (positive)
	feeFen    int64 // payment: fee charged; refund: fee returned (positive)
}

// billFile is a generated bill behind a download token.
type billFile struct {
	provider string
	name     string
	body     []byte
	expires  time.Time
}

// parseBillDay reads yyyy-MM-dd as the start of that day in Asia/Shanghai.
func parseBillDay(s string) (time.Time, bool) {
	d, err := time.ParseInLocation("2006-01-02", s, cst)
	return d, err == nil && d.Format("2006-01-02") == s
}

func (e *Emulator) billReadyAt(day time.Time) time.Time {
	return day.AddDate(0, 0, 1).Add(e.cfg.BillReadyDelay)
}

// billRowsLocked lists one provider day, oldest first, and applies the billAmountDeltaFen fault
// (to the first payment row's amount) when it is set and the day has a payment.
func (e *Emulator) billRowsLocked(provider string, day time.Time) []billRow {
	end, now := day.AddDate(0, 0, 1), e.now()
	in := func(at time.Time) bool { return !at.Before(day) && at.Before(end) }
	var rows []billRow
	for _, t := range e.st.trades {
		if t.Provider != provider || t.State != StatePaid {
			continue
		}
		fee := feeFen(t.AmountFen)
		if in(t.PaidAt) {
			rows = append(rows, billRow{t: t.clone(), at: t.PaidAt, amountFen: t.AmountFen, feeFen: fee})
		}
		refunds := append([]*Refund(nil), t.Refunds...)
		sort.SliceStable(refunds, func(i, j int) bool { return refunds[i].doneAt().Before(refunds[j].doneAt()) })
		var cum, returned int64
		for _, r := range refunds {
			if r.statusAt(now) != RefundSuccess {
				continue
			}
			cum += r.AmountFen
			back := fee*cum/t.AmountFen - returned
			if cum == t.AmountFen {
				back = fee - returned
			}
			returned += back
			if in(r.doneAt()) {
				rc := *r
				rows = append(rows, billRow{refund: &rc, t: t.clone(), at: r.doneAt(), amountFen: r.AmountFen, feeFen: back})
			}
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].at.Equal(rows[j].at) {
			return rows[i].at.Before(rows[j].at)
		}
		return rows[i].t.OutTradeNo < rows[j].t.OutTradeNo
	})
	if d := e.faults.BillAmountDeltaFen; d != 0 {
		for i := range rows {
			if rows[i].refund == nil {
				rows[i].amountFen += d
				e.faults.BillAmountDeltaFen = 0
				e.log.Info("bill tampered", "provider", provider, "out_trade_no", rows[i].t.OutTradeNo, "delta_fen", d)
				break
			}
		}
	}
	return rows
}

// keepBillLocked stores a generated bill for billLinkTTL and returns its download token.
func (e *Emulator) keepBillLocked(f *billFile) string {
	now := e.now()
	for token, old := range e.bills {
		if now.After(old.expires) {
			delete(e.bills, token)
		}
	}
	f.expires = now.Add(billLinkTTL)
	token := randHex(20)
	e.bills[token] = f
	return token
}

// billLocked finds a bill by its token while the link is valid.
func (e *Emulator) billLocked(provider, token string) *billFile {
	f := e.bills[token]
	if f == nil || f.provider != provider || e.now().After(f.expires) {
		return nil
	}
	return f
}

// yuan5 is a fee in yuan with five decimals, as WeChat's 手续费 column shows it ("0.06000").
func yuan5(fen int64) string { return yuan(fen) + "000" }

// chineseDateTime is "2019年09月16日 00:00:00", the comment lines' format.
func chineseDateTime(t time.Time) string {
	t = t.In(cst)
	return fmt.Sprintf("%04d年%02d月%02d日 %s", t.Year(), t.Month(), t.Day(), t.Format("15:04:05"))
}

// billText writes a bill file: CSV records (quoted only where CSV needs it) and raw lines
// (comments, the summary header), CRLF line ends as the files are made for spreadsheets.
type billText struct {
	b bytes.Buffer
	w *csv.Writer
}

func newBillText() *billText {
	t := &billText{}
	t.w = csv.NewWriter(&t.b)
	t.w.UseCRLF = true
	return t
}

func (t *billText) record(cells ...string) { _ = t.w.Write(cells) }

func (t *billText) line(s string) {
	t.w.Flush()
	t.b.WriteString(s)
	t.b.WriteString("\r\n")
}

func (t *billText) bytes() []byte {
	t.w.Flush()
	return t.b.Bytes()
}
