package httpapi

import (
	"container/list"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"

	"github.com/paysuite/paysuite/pkg/principal"
)

// RateLimit is a token bucket per key: PerSecond requests on average, Burst at once.
// PerSecond 0 turns the limit off.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// limiters is a bounded set of per-key token buckets. Keys are evicted least recently used
// first once MaxKeys are tracked, so a flood of new client addresses or user ids costs a fixed
// amount of memory; an evicted key starts again with a full bucket.
type limiters struct {
	limit   RateLimit
	maxKeys int
	now     func() time.Time

	mu    sync.Mutex
	byKey map[string]*list.Element
	lru   *list.List // front: most recently used; values are *keyedLimiter
}

type keyedLimiter struct {
	key string
	lim *rate.Limiter
}

func newLimiters(limit RateLimit, maxKeys int) *limiters {
	if limit.Burst < 1 {
		limit.Burst = max(1, int(math.Ceil(limit.PerSecond)))
	}
	return &limiters{limit: limit, maxKeys: max(1, maxKeys), now: time.Now, byKey: map[string]*list.Element{}, lru: list.New()}
}

// allow takes a token for key, or says how long until one is there.
func (l *limiters) allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil || l.limit.PerSecond <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var lim *rate.Limiter
	if e, found := l.byKey[key]; found {
		l.lru.MoveToFront(e)
		lim = e.Value.(*keyedLimiter).lim
	} else {
		if l.lru.Len() >= l.maxKeys {
			oldest := l.lru.Back()
			l.lru.Remove(oldest)
			delete(l.byKey, oldest.Value.(*keyedLimiter).key)
		}
		lim = rate.NewLimiter(rate.Limit(l.limit.PerSecond), l.limit.Burst)
		l.byKey[key] = l.lru.PushFront(&keyedLimiter{key: key, lim: lim})
	}
	now := l.now()
	if lim.AllowN(now, 1) {
		return true, 0
	}
	r := lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now) // only asking: the refused request takes no token
	return false, wait
}

// limitByAddress throttles each client address (an IPv6 client by its /64, which one host
// usually owns whole) before anything else is done for it, token checks included.
func limitByAddress(l *limiters, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := l.allow("a:" + clientKey(r.RemoteAddr)); !ok {
			tooManyRequests(w, wait, "too many requests from this address")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitByUser throttles each authenticated user, wherever their requests come from.
func limitByUser(l *limiters, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := principal.FromContext(r.Context()); ok {
			if ok, wait := l.allow("u:" + p.UserID); !ok {
				tooManyRequests(w, wait, "too many requests for this user")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// peer splits a request's RemoteAddr into its host and, when that is an IP, the address with
// IPv4-mapped IPv6 unmapped.
func peer(remoteAddr string) (string, netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host, netip.Addr{}, false
	}
	return host, addr.Unmap(), true
}

// clientIP is the address of the peer ("" if it is none).
func clientIP(remoteAddr string) string {
	if _, addr, ok := peer(remoteAddr); ok {
		return addr.String()
	}
	return ""
}

func clientKey(remoteAddr string) string {
	host, addr, ok := peer(remoteAddr)
	if !ok {
		return host
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func tooManyRequests(w http.ResponseWriter, wait time.Duration, msg string) {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
	writeError(w, http.StatusTooManyRequests, codes.ResourceExhausted, msg)
}
