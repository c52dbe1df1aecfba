package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Persistence of trades.json. Request handlers only note which trade changed (changedLocked);
// one writer goroutine gathers the changes of a flushEvery window, copies those trades under the
// emulator's lock, and outside it encodes them and replaces the file (temp file, fsync, rename).
// Each trade's JSON is kept between writes, so a write re-encodes only what changed.
//
// Trade-off, accepted for an emulator: a crash (kill -9, power loss) loses the changes of the
// last flushEvery (≤ ~100 ms with the write itself), paid trades included. Close — which the
// sandbox's graceful shutdown calls — writes everything before it returns, so a graceful restart
// loses nothing. Changes made after Close are not saved.

const (
	defaultFlushEvery = 50 * time.Millisecond
	// retention: trades that can no longer change (closed, expired, or paid with the notify
	// settled) are dropped from the file this long after their last change, so it stops growing
	// across weeks of `make run`. Queries or refunds of such a trade then answer "not found".
	retention  = 7 * 24 * time.Hour
	pruneEvery = time.Hour
)

type persister struct {
	path  string
	every time.Duration
	kick  chan struct{} // capacity 1: "something changed since the last write"

	mu      sync.Mutex // serialises writes (writer goroutine vs Close); guards encoded and stale
	encoded map[string]encodedTrade
	stale   bool // the last write failed: write again even if nothing new changed

	writes atomic.Int64 // files written; tests count them
}

type encodedTrade struct {
	key       string
	createdAt time.Time
	json      []byte
}

func newPersister(path string, every time.Duration, trades map[string]*Trade) (*persister, error) {
	p := &persister{path: path, every: every, kick: make(chan struct{}, 1), encoded: make(map[string]encodedTrade, len(trades))}
	for key, t := range trades {
		if err := p.encode(key, t); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *persister) encode(key string, t *Trade) error {
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode trade %s: %w", key, err)
	}
	p.encoded[key] = encodedTrade{key: key, createdAt: t.CreatedAt, json: b}
	return nil
}

func (p *persister) signal() {
	select {
	case p.kick <- struct{}{}:
	default: // a write is already due; it will pick this change up
	}
}

// changedLocked records that the trade under key changed (or was removed); the writer saves it.
func (e *Emulator) changedLocked(t *Trade) {
	e.changed[tradeKey(t.Provider, t.OutTradeNo)] = struct{}{}
	e.p.signal()
}

// persistLoop is the one writer: after a change it waits flushEvery so a burst becomes one write.
func (e *Emulator) persistLoop() {
	defer e.wg.Done()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return // Close writes what is left
		case <-prune.C:
			e.mu.Lock()
			e.pruneLocked(e.now())
			e.mu.Unlock()
			continue
		case <-e.p.kick:
		}
		window := time.NewTimer(e.p.every)
		select {
		case <-e.ctx.Done():
			window.Stop()
			return
		case <-window.C:
		}
		if err := e.flush(); err != nil {
			e.log.Error("persist trades", "err", err)
			e.p.signal() // retry after the next window
		}
	}
}

// flush writes trades.json if anything changed since the last successful write.
func (e *Emulator) flush() error {
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()

	e.mu.Lock()
	if len(e.changed) == 0 && !p.stale {
		e.mu.Unlock()
		return nil
	}
	keys := e.changed
	e.changed = make(map[string]struct{})
	copies := make(map[string]*Trade, len(keys)) // nil: the trade was removed
	for key := range keys {
		if t := e.st.trades[key]; t != nil {
			c := t.clone()
			copies[key] = &c
		} else {
			copies[key] = nil
		}
	}
	e.mu.Unlock()

	for key, t := range copies {
		if t == nil {
			delete(p.encoded, key)
			continue
		}
		if err := p.encode(key, t); err != nil {
			return err // cannot happen for a Trade; the file keeps its previous content
		}
	}
	p.stale = true
	if err := writeFileAtomic(p.path, p.render(), 0o644); err != nil {
		return err
	}
	p.stale = false
	p.writes.Add(1)
	return nil
}

// render lays the encoded trades out as {"trades":[...]}, one trade a line, oldest first.
func (p *persister) render() []byte {
	list := make([]encodedTrade, 0, len(p.encoded))
	size := 16
	for _, et := range p.encoded {
		list = append(list, et)
		size += len(et.json) + 2
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].createdAt.Equal(list[j].createdAt) {
			return list[i].createdAt.Before(list[j].createdAt)
		}
		return list[i].key < list[j].key
	})
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(`{"trades":[`)
	for i, et := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
		b.Write(et.json)
	}
	b.WriteString("\n]}\n")
	return b.Bytes()
}

// pruneLocked drops trades that can no longer change and were last changed before
// now - retention.
func (e *Emulator) pruneLocked(now time.Time) {
	for key, t := range e.st.trades {
		if at, final := t.settledAt(); final && now.Sub(at) > retention {
			e.st.remove(key)
			e.changed[key] = struct{}{}
		}
	}
	if len(e.changed) > 0 {
		e.p.signal()
	}
}

// writeFileAtomic replaces path with b via a temp file, fsync and rename, so readers (and a
// restart after a crash) see either the previous or the new complete file.
func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
