package jwtauth

import (
	"container/list"
	"crypto"
	"crypto/sha256"
	"slices"
	"sync"
	"time"

	"github.com/paysuite/paysuite/pkg/principal"
)

// WithCache makes Verify remember up to n tokens it accepted, so a client that sends the same
// token with every request pays for one signature check, not one per request (an ECDSA verify
// was most of the gateway's CPU per GetOrder). An entry is keyed by the SHA-256 of the whole
// token and kept for at most maxAge and never past the token's exp (no leeway: after exp the
// token goes through the full check again). A remembered token is accepted only while its
// issuer's key source still hands out the very key that verified it: a key rotated out of the
// provider's set, or replaced under the same kid, refuses it as soon as the set is re-read,
// exactly as without the cache. Refusals are never remembered, and the least recently used
// entry goes first once n are kept, so a flood of tokens costs a bounded amount of memory.
func (v *Verifier) WithCache(n int, maxAge time.Duration) *Verifier {
	if n > 0 && maxAge > 0 {
		v.cache = &tokenCache{max: n, maxAge: maxAge, byHash: map[[sha256.Size]byte]*list.Element{}, lru: list.New()}
	}
	return v
}

// Cached is the number of tokens the cache holds (tests).
func (v *Verifier) Cached() int {
	if v.cache == nil {
		return 0
	}
	v.cache.mu.Lock()
	defer v.cache.mu.Unlock()
	return v.cache.lru.Len()
}

type tokenCache struct {
	max    int
	maxAge time.Duration

	mu     sync.Mutex
	byHash map[[sha256.Size]byte]*list.Element
	lru    *list.List // front: most recently used; values are *cachedToken
}

type cachedToken struct {
	hash   [sha256.Size]byte
	p      principal.Principal
	issuer int              // index into Verifier.issuers
	kid    string           // the key that verified the signature …
	key    crypto.PublicKey // … and its value then
	until  time.Time        // min(exp, verified at + maxAge)
}

// lookup returns the entry for hash, moved to the front.
func (c *tokenCache) lookup(hash [sha256.Size]byte) (cachedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byHash[hash]
	if !ok {
		return cachedToken{}, false
	}
	c.lru.MoveToFront(e)
	return *e.Value.(*cachedToken), true
}

func (c *tokenCache) remove(hash [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byHash[hash]; ok {
		c.lru.Remove(e)
		delete(c.byHash, hash)
	}
}

func (c *tokenCache) add(t cachedToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byHash[t.hash]; ok {
		*e.Value.(*cachedToken) = t
		c.lru.MoveToFront(e)
		return
	}
	for c.lru.Len() >= c.max {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.byHash, oldest.Value.(*cachedToken).hash)
	}
	c.byHash[t.hash] = c.lru.PushFront(&t)
}

// sameKey reports whether a and b are the same public key (the standard library's keys all
// have Equal; anything else is never taken as the same).
func sameKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && b != nil && eq.Equal(b)
}

func clonePrincipal(p principal.Principal) principal.Principal {
	p.Roles = slices.Clone(p.Roles)
	return p
}
