package emulator

import (
	"encoding/json"
	"net/http"
)

// Faults are injected misbehaviours for tests and demos (GET/POST/DELETE /sandbox/faults). The
// zero value is the sandbox's default, which follows the real providers. Counts apply to the next
// n matching calls and are consumed as the faults fire; the other fields stay until changed or
// reset.
type Faults struct {
	DropNotifies      int `json:"dropNotifies"`      // the next n notifies (payment, refund or close) are never sent
	DuplicateNotifies int `json:"duplicateNotifies"` // the next n notifies send every attempt twice, concurrently
	DelayNotifyMs     int `json:"delayNotifyMs"`     // the first attempt of every following notify waits n real ms
	FailQueries       int `json:"failQueries"`       // the next n trade queries answer a system error

	// Refund faults count refund calls the provider would otherwise accept (not repeats of an
	// accepted out_refund_no / out_request_no).
	RefundNotEnough        int `json:"refundNotEnough"`        // WeChat 403 NOT_ENOUGH; Alipay ACQ.SELLER_BALANCE_NOT_ENOUGH
	RefundFrequencyLimited int `json:"refundFrequencyLimited"` // WeChat 429 FREQUENCY_LIMITED; Alipay 40005 isv.method-call-limited
	RefundProcessingMs     int `json:"refundProcessingMs"`     // every following refund stays PROCESSING n real ms
	RefundAbnormal         int `json:"refundAbnormal"`         // WeChat: ends ABNORMAL (REFUND.ABNORMAL); Alipay: ACQ.TRADE_NOT_ALLOW_REFUND
	RefundClosed           int `json:"refundClosed"`           // WeChat only: ends CLOSED (REFUND.CLOSED)

	SignatureProbes            int `json:"signatureProbes"`            // the next n WeChat notifies are preceded by a WECHATPAY/SIGNTEST/ probe
	AnswerSignatureProbes      int `json:"answerSignatureProbes"`      // the next n WeChat 200 answers carry a WECHATPAY/SIGNTEST/ signature
	NotifyTimestampSkewSeconds int `json:"notifyTimestampSkewSeconds"` // the next WeChat notify's first attempt is stamped now+n s (real key)

	BillAmountDeltaFen int64 `json:"billAmountDeltaFen"` // the next bill served adds n fen to its first payment row
	// PaidAmountDeltaFen: the next buyer payment changes its trade's amount by n fen as it is
	// paid, so the provider reports (queries, notifies, refund limits) another amount than the
	// merchant asked for.
	PaidAmountDeltaFen int64 `json:"paidAmountDeltaFen"`
}

type faultsPatch struct {
	DropNotifies               *int   `json:"dropNotifies"`
	DuplicateNotifies          *int   `json:"duplicateNotifies"`
	DelayNotifyMs              *int   `json:"delayNotifyMs"`
	FailQueries                *int   `json:"failQueries"`
	RefundNotEnough            *int   `json:"refundNotEnough"`
	RefundFrequencyLimited     *int   `json:"refundFrequencyLimited"`
	RefundProcessingMs         *int   `json:"refundProcessingMs"`
	RefundAbnormal             *int   `json:"refundAbnormal"`
	RefundClosed               *int   `json:"refundClosed"`
	SignatureProbes            *int   `json:"signatureProbes"`
	AnswerSignatureProbes      *int   `json:"answerSignatureProbes"`
	NotifyTimestampSkewSeconds *int   `json:"notifyTimestampSkewSeconds"`
	BillAmountDeltaFen         *int64 `json:"billAmountDeltaFen"`
	PaidAmountDeltaFen         *int64 `json:"paidAmountDeltaFen"`
}

func (e *Emulator) getFaults(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	f := e.faults
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, f)
}

// setFaults sets the fields present in the body and leaves the others as they are, e.g.
// {"dropNotifies": 1}. Counts and durations must be >= 0; the skew and the bill delta may be
// negative.
func (e *Emulator) setFaults(w http.ResponseWriter, r *http.Request) {
	var p faultsPatch
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad faults body: " + err.Error()})
		return
	}
	counts := []struct {
		dst *int
		v   *int
	}{
		{&e.faults.DropNotifies, p.DropNotifies}, {&e.faults.DuplicateNotifies, p.DuplicateNotifies},
		{&e.faults.DelayNotifyMs, p.DelayNotifyMs}, {&e.faults.FailQueries, p.FailQueries},
		{&e.faults.RefundNotEnough, p.RefundNotEnough}, {&e.faults.RefundFrequencyLimited, p.RefundFrequencyLimited},
		{&e.faults.RefundProcessingMs, p.RefundProcessingMs}, {&e.faults.RefundAbnormal, p.RefundAbnormal},
		{&e.faults.RefundClosed, p.RefundClosed}, {&e.faults.SignatureProbes, p.SignatureProbes},
		{&e.faults.AnswerSignatureProbes, p.AnswerSignatureProbes},
	}
	for _, c := range counts {
		if c.v != nil && *c.v < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "fault counts and durations must be >= 0"})
			return
		}
	}
	e.mu.Lock()
	for _, c := range counts {
		if c.v != nil {
			*c.dst = *c.v
		}
	}
	if p.NotifyTimestampSkewSeconds != nil {
		e.faults.NotifyTimestampSkewSeconds = *p.NotifyTimestampSkewSeconds
	}
	if p.BillAmountDeltaFen != nil {
		e.faults.BillAmountDeltaFen = *p.BillAmountDeltaFen
	}
	if p.PaidAmountDeltaFen != nil {
		e.faults.PaidAmountDeltaFen = *p.PaidAmountDeltaFen
	}
	f := e.faults
	e.mu.Unlock()
	e.log.Info("faults set", "faults", f)
	writeJSON(w, http.StatusOK, f)
}

func (e *Emulator) resetFaults(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	e.faults = Faults{}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, Faults{})
}

// take consumes one count of a fault; it reports whether the fault fires.
func take(count *int) bool {
	if *count > 0 {
		*count--
		return true
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
