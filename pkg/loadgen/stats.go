package loadgen

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"sync"
	"time"
)

var longNumber = regexp.MustCompile(`[0-9]{8,}`)

// Recorder keeps every step's latencies and errors.
type Recorder struct {
	mu     sync.Mutex
	steps  map[string]*step
	order  []string
	errors map[string]map[string]int // step -> error text -> count
}

type step struct {
	ok  []time.Duration
	err int
}

// NewRecorder is an empty recorder.
func NewRecorder() *Recorder {
	return &Recorder{steps: map[string]*step{}, errors: map[string]map[string]int{}}
}

// Observe records one try of step name that took d; err nil is a success.
func (r *Recorder) Observe(name string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.steps[name]
	if s == nil {
		s = &step{}
		r.steps[name] = s
		r.order = append(r.order, name)
	}
	if err != nil {
		s.err++
		if r.errors[name] == nil {
			r.errors[name] = map[string]int{}
		}
		// Ids in messages would make every error its own kind.
		msg := longNumber.ReplaceAllString(err.Error(), "N")
		if len(msg) > 160 {
			msg = msg[:160]
		}
		r.errors[name][msg]++
		return
	}
	s.ok = append(s.ok, d)
}

// Count is how many tries of name succeeded and failed.
func (r *Recorder) Count(name string) (ok, failed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.steps[name]; s != nil {
		return len(s.ok), s.err
	}
	return 0, 0
}

// Errors is the total number of failed tries over every step.
func (r *Recorder) Errors() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.steps {
		n += s.err
	}
	return n
}

// Print writes one line per step (count, errors, p50, p99, max) and the most frequent errors.
func (r *Recorder) Print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(w, "%-22s %8s %7s %9s %9s %9s\n", "step", "ok", "errors", "p50", "p99", "max")
	for _, name := range r.order {
		s := r.steps[name]
		p50, p99, pmax := Percentiles(s.ok)
		fmt.Fprintf(w, "%-22s %8d %7d %9s %9s %9s\n", name, len(s.ok), s.err, round(p50), round(p99), round(pmax))
	}
	for _, name := range r.order {
		type kv struct {
			msg string
			n   int
		}
		var list []kv
		for m, n := range r.errors[name] {
			list = append(list, kv{m, n})
		}
		sort.Slice(list, func(i, j int) bool { return list[i].n > list[j].n })
		for i, e := range list {
			if i == 3 {
				break
			}
			fmt.Fprintf(w, "  %s error ×%d: %s\n", name, e.n, e.msg)
		}
	}
}

// Percentiles are the p50, p99 and max of ds (zero when empty).
func Percentiles(ds []time.Duration) (p50, p99, pmax time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.99), s[len(s)-1]
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
