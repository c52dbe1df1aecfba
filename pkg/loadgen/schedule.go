// Package loadgen drives the suite open-loop: arrivals happen on a fixed schedule whatever the
// suite answers (no coordinated omission), each arrival runs the purchase mix through the
// gateway, and latencies are recorded per step. The scheduler is written here rather than taken
// from a load library: it is thirty lines, the go.work modules stay within the project's fixed
// dependency list, and what matters — the first step of every arrival is timed from its
// *intended* start, so a stalled suite shows as latency instead of as fewer arrivals — is easy to
// check in the code below.
package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Arrival is one scheduled start: its index and the instant it was due.
type Arrival struct {
	N        int
	Intended time.Time
}

// ScheduleStats reports how the schedule went.
type ScheduleStats struct {
	Arrivals int           // started
	Shed     int           // not started: MaxInFlight arrivals were still running (counted as errors by callers)
	MaxLag   time.Duration // the latest an arrival started after it was due
	Elapsed  time.Duration
}

// Schedule starts fn every 1/rate seconds for d (or until ctx ends), each in its own goroutine,
// never waiting for earlier ones: arrival n is due at start + n/rate and starts then, however
// many are still running. When maxInFlight are running an arrival is shed (counted, not
// started), so a dead suite cannot make the driver exhaust memory. Schedule returns when every
// started arrival has returned.
func Schedule(ctx context.Context, rate float64, d time.Duration, maxInFlight int, fn func(context.Context, Arrival)) ScheduleStats {
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	var st ScheduleStats
	timer := time.NewTimer(0)
	defer timer.Stop()
	for n := 0; ; n++ {
		due := start.Add(time.Duration(n) * interval)
		if due.Sub(start) >= d {
			break
		}
		// Absolute due times: a late wake-up does not push every later arrival back.
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				wg.Wait()
				st.Elapsed = time.Since(start)
				return st
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			break
		}
		if lag := time.Since(due); lag > st.MaxLag {
			st.MaxLag = lag
		}
		if maxInFlight > 0 && inFlight.Load() >= int64(maxInFlight) {
			st.Shed++
			continue
		}
		st.Arrivals++
		inFlight.Add(1)
		wg.Go(func() {
			defer inFlight.Add(-1)
			fn(ctx, Arrival{N: n, Intended: due})
		})
	}
	wg.Wait()
	st.Elapsed = time.Since(start)
	return st
}
