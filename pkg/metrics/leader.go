package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paysuite/paysuite/pkg/leader"
)

// LeaderName is the leader status series: 1 while this process holds the named lock.
const LeaderName = Namespace + "_leader"

func init() { declare(LeaderName) }

// Lock is a leader lock (pkg/leader.Lock); the watched one keeps its fencing.
type Lock = leader.Lock

// Leader is the leader status series of one process.
type Leader struct{ g *prometheus.GaugeVec }

// NewLeader registers the leader status series on reg.
func NewLeader(reg prometheus.Registerer) *Leader {
	l := &Leader{g: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: LeaderName,
		Help: "1 while this process holds the named leader lock, else 0."}, []string{"lock"})}
	reg.MustRegister(l.g)
	return l
}

// Watch returns lock reporting, on each Hold and Release, whether it is held.
func (l *Leader) Watch(name string, lock Lock) Lock {
	l.g.WithLabelValues(name).Set(0)
	return &watchedLock{Lock: lock, g: l.g.WithLabelValues(name)}
}

type watchedLock struct {
	Lock
	g prometheus.Gauge
}

func (w *watchedLock) Hold(ctx context.Context) (bool, error) {
	held, err := w.Lock.Hold(ctx)
	if held {
		w.g.Set(1)
	} else {
		w.g.Set(0)
	}
	return held, err
}

func (w *watchedLock) Release() {
	w.Lock.Release()
	w.g.Set(0)
}
