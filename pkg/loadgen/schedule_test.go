package loadgen

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// The schedule is open-loop: while every earlier arrival is still blocked, later ones start on
// time anyway (a closed loop would start one and wait).
func TestScheduleDoesNotWaitForAnswers(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var started []Arrival
	allStarted := make(chan struct{})
	go func() {
		for {
			mu.Lock()
			n := len(started)
			mu.Unlock()
			if n == 20 {
				close(release) // only now do the answers come
				close(allStarted)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	st := Schedule(context.Background(), 200, 100*time.Millisecond, 0, func(_ context.Context, a Arrival) {
		mu.Lock()
		started = append(started, a)
		mu.Unlock()
		<-release
	})
	<-allStarted
	if st.Arrivals != 20 || st.Shed != 0 {
		t.Fatalf("arrivals %d shed %d, want 20 and 0", st.Arrivals, st.Shed)
	}
	// Each arrival carries its due time, n/rate after the first: latency is measured from it.
	first := started[0].Intended
	for _, a := range started {
		if got, want := a.Intended.Sub(first), time.Duration(a.N)*5*time.Millisecond; got != want {
			t.Errorf("arrival %d due at +%s, want +%s", a.N, got, want)
		}
	}
}

// With maxInFlight arrivals stuck, further ones are shed (counted), not queued without bound.
func TestScheduleShedsBeyondMaxInFlight(t *testing.T) {
	release := make(chan struct{})
	// The stuck ones answer well after the 50 ms of arrivals (a bound for the test, not a timing
	// it checks).
	time.AfterFunc(2*time.Second, func() { close(release) })
	st := Schedule(context.Background(), 1000, 50*time.Millisecond, 5, func(_ context.Context, a Arrival) {
		<-release
	})
	if st.Arrivals+st.Shed != 50 {
		t.Fatalf("arrivals %d + shed %d, want 50 scheduled", st.Arrivals, st.Shed)
	}
	if st.Shed == 0 || st.Arrivals < 5 {
		t.Fatalf("arrivals %d shed %d: want 5+ started and the rest shed while 5 were stuck", st.Arrivals, st.Shed)
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p50, p99, pmax := Percentiles(ds)
	if p50 != 51*time.Millisecond || p99 != 100*time.Millisecond || pmax != 100*time.Millisecond {
		t.Fatalf("p50 %s p99 %s max %s", p50, p99, pmax)
	}
	if a, b, c := Percentiles(nil); a != 0 || b != 0 || c != 0 {
		t.Fatal("empty input must give zeros")
	}
}

func TestProcCPUReadsThisProcess(t *testing.T) {
	x := 0
	for i := range 50_000_000 {
		x += i % 7
	}
	_ = x
	ms, err := procCPUms(os.Getpid())
	if err != nil || ms <= 0 {
		t.Fatalf("CPU of this process: %v ms, %v", ms, err)
	}
}
