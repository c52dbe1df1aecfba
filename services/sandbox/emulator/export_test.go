package emulator

import (
	"sync/atomic"
	"time"
)

// NewWithFlushEvery is New with another coalescing window for trades.json writes.
func NewWithFlushEvery(cfg Config, every time.Duration) (*Emulator, error) {
	return newEmulator(cfg, every)
}

// FileWrites is how many times e has written trades.json.
func FileWrites(e *Emulator) int64 { return e.p.writes.Load() }

// Advance moves e's clock by d (WeChat requests signed with the real time are refused once it is
// more than 5 minutes off: move it back before making them).
func Advance(e *Emulator, d time.Duration) { e.skew.Add(int64(d)) }

// AlternateNotifyKeys makes WechatModeBoth sign notifies with the public key and the certificate
// in turn, starting with the public key.
func AlternateNotifyKeys(e *Emulator) {
	var n atomic.Int64
	e.mu.Lock() // notify workers start under e.mu, after this
	e.coin = func() bool { return n.Add(1)%2 == 1 }
	e.mu.Unlock()
}
