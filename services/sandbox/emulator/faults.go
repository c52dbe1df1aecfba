package emulator

import (
	"encoding/json"
	"net/http"
)

// Faults are injected misbehaviours and fidelity switches for tests and demos
// (GET/POST/DELETE /sandbox/faults). The zero value is the sandbox's default behaviour.
type Faults struct {
	DropNotifies      int `json:"dropNotifies"`      // the next n paid trades get no notify at all
	DuplicateNotifies int `json:"duplicateNotifies"` // the next n paid trades get every notify attempt twice, concurrently
	DelayNotifyMs     int `json:"delayNotifyMs"`     // the first notify attempt of every following trade waits n real ms
	FailQueries       int `json:"failQueries"`       // the next n trade queries answer a system error

	// AlipayCloseKeepsUnscannedQR makes alipay.trade.close of a precreate trade nobody has
	// scanned do what the real gateway does: answer 40004 ACQ.TRADE_NOT_EXIST and close nothing,
	// so the QR stays payable (and a payment notifies as usual) until the trade's time_expire.
	// Off by default: the sandbox answers the same code but kills the QR. Stays on until reset.
	AlipayCloseKeepsUnscannedQR bool `json:"alipayCloseKeepsUnscannedQR"`
}

type faultsPatch struct {
	DropNotifies                *int  `json:"dropNotifies"`
	DuplicateNotifies           *int  `json:"duplicateNotifies"`
	DelayNotifyMs               *int  `json:"delayNotifyMs"`
	FailQueries                 *int  `json:"failQueries"`
	AlipayCloseKeepsUnscannedQR *bool `json:"alipayCloseKeepsUnscannedQR"`
}

func (e *Emulator) getFaults(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	f := e.faults
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, f)
}

// setFaults sets the fields present in the body and leaves the others as they are, e.g.
// {"dropNotifies": 1} or {"alipayCloseKeepsUnscannedQR": true} (the real gateway's close of an
// unscanned QR trade: ACQ.TRADE_NOT_EXIST, and the QR stays payable until it expires). Counts
// are consumed as the faults fire; switches stay until changed or DELETE /sandbox/faults.
func (e *Emulator) setFaults(w http.ResponseWriter, r *http.Request) {
	var p faultsPatch
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad faults body: " + err.Error()})
		return
	}
	for _, v := range []*int{p.DropNotifies, p.DuplicateNotifies, p.DelayNotifyMs, p.FailQueries} {
		if v != nil && *v < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "fault counts must be >= 0"})
			return
		}
	}
	e.mu.Lock()
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	set(&e.faults.DropNotifies, p.DropNotifies)
	set(&e.faults.DuplicateNotifies, p.DuplicateNotifies)
	set(&e.faults.DelayNotifyMs, p.DelayNotifyMs)
	set(&e.faults.FailQueries, p.FailQueries)
	if p.AlipayCloseKeepsUnscannedQR != nil {
		e.faults.AlipayCloseKeepsUnscannedQR = *p.AlipayCloseKeepsUnscannedQR
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

// takeQueryFailureLocked consumes one failQueries count.
func (e *Emulator) takeQueryFailureLocked() bool {
	if e.faults.FailQueries > 0 {
		e.faults.FailQueries--
		return true
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
