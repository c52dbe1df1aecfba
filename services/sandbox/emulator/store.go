package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"
)

// store keeps trades in memory; persist.go mirrors them to trades.json. Callers hold the
// emulator's mutex around every method.
type store struct {
	trades  map[string]*Trade // key: provider + "/" + outTradeNo
	tokens  map[string]*Trade
	prepays map[string]*Trade // WeChat prepay_id → trade
}

type storeFile struct {
	Trades []*Trade `json:"trades"`
}

func tradeKey(provider, outTradeNo string) string { return provider + "/" + outTradeNo }

func openStore(path string) (*store, error) {
	s := &store{trades: map[string]*Trade{}, tokens: map[string]*Trade{}, prepays: map[string]*Trade{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	var f storeFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	for _, t := range f.Trades {
		s.add(t)
	}
	return s, nil
}

func (s *store) get(provider, outTradeNo string) *Trade {
	return s.trades[tradeKey(provider, outTradeNo)]
}

func (s *store) byToken(token string) *Trade { return s.tokens[token] }

// byPrepay finds the trade of a WeChat prepay_id and the prepay itself.
func (s *store) byPrepay(id string) (*Trade, *Prepay) {
	t := s.prepays[id]
	if t == nil {
		return nil, nil
	}
	for _, p := range t.Prepays {
		if p.ID == id {
			return t, p
		}
	}
	return nil, nil
}

func (s *store) byTradeNo(provider, tradeNo string) *Trade {
	for _, t := range s.trades {
		if t.Provider == provider && t.TradeNo == tradeNo {
			return t
		}
	}
	return nil
}

func (s *store) add(t *Trade) {
	s.trades[tradeKey(t.Provider, t.OutTradeNo)] = t
	s.tokens[t.Token] = t
	for _, p := range t.Prepays {
		s.prepays[p.ID] = t
	}
}

// addPrepay issues a new prepay for t, valid for ttl.
func (s *store) addPrepay(t *Trade, id string, expires time.Time) *Prepay {
	p := &Prepay{ID: id, ExpiresAt: expires}
	t.Prepays = append(t.Prepays, p)
	s.prepays[id] = t
	return p
}

func (s *store) remove(key string) {
	if t := s.trades[key]; t != nil {
		delete(s.tokens, t.Token)
		for _, p := range t.Prepays {
			delete(s.prepays, p.ID)
		}
		delete(s.trades, key)
	}
}

// list copies every trade, oldest first, with each refund's status as of now.
func (s *store) list(now time.Time) []Trade {
	out := make([]Trade, 0, len(s.trades))
	for _, t := range s.trades {
		c := t.clone()
		for _, r := range c.Refunds {
			r.Status = r.statusAt(now)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}
