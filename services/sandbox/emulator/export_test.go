package emulator

import "time"

// NewWithFlushEvery is New with another coalescing window for trades.json writes.
func NewWithFlushEvery(cfg Config, every time.Duration) (*Emulator, error) {
	return newEmulator(cfg, every)
}

// FileWrites is how many times e has written trades.json.
func FileWrites(e *Emulator) int64 { return e.p.writes.Load() }
