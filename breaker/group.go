package breaker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// GroupConfig bounds a Group.
type GroupConfig struct {
	// MaxKeys is the most breakers the group holds; creating one more evicts
	// the least recently used. Zero means 1024 (room for every host a
	// service usually talks to, at about 1 KiB per breaker).
	MaxKeys int
	// IdleTTL, when positive, evicts breakers not fetched by Get for that
	// long (checked when a new key is added). Zero means no age limit.
	IdleTTL time.Duration
}

const defaultMaxKeys = 1024

// Group holds one Breaker per key (host, tenant, route), created on first
// use from a shared Config. It is safe for concurrent use: Get of a known key
// takes a read lock only; concurrent Gets of a new key create one breaker.
//
// An evicted key loses its state: the next Get starts it Closed with an
// empty window. Evicting the least recently used key, rather than refusing
// new ones, keeps the group usable when keys come from outside input.
type Group struct {
	cfg   Config
	gcfg  GroupConfig
	epoch time.Time

	mu        sync.RWMutex
	entries   map[string]*groupEntry // guarded by mu
	lastSweep int64                  // guarded by mu (write lock)
}

type groupEntry struct {
	b        *Breaker
	lastUsed atomic.Int64 // ns since Group.epoch
}

// NewGroup returns an empty group whose breakers use cfg, named
// cfg.Name+"/"+key (or key when cfg.Name is empty). It returns an error
// naming an invalid field of either config.
func NewGroup(cfg Config, gcfg GroupConfig) (*Group, error) {
	c, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if gcfg.MaxKeys < 0 {
		return nil, fmt.Errorf("breaker: GroupConfig.MaxKeys %d is negative", gcfg.MaxKeys)
	}
	if gcfg.IdleTTL < 0 {
		return nil, fmt.Errorf("breaker: GroupConfig.IdleTTL %v is negative", gcfg.IdleTTL)
	}
	if gcfg.MaxKeys == 0 {
		gcfg.MaxKeys = defaultMaxKeys
	}
	return &Group{cfg: c, gcfg: gcfg, epoch: time.Now(), entries: map[string]*groupEntry{}}, nil
}

// Get returns the breaker for key, creating it on first use. It never
// returns nil.
func (g *Group) Get(key string) *Breaker {
	now := int64(time.Since(g.epoch))
	g.mu.RLock()
	e := g.entries[key]
	g.mu.RUnlock()
	if e == nil {
		e = g.create(key, now)
	}
	// Skip the store when fresh enough, so hot keys do not bounce the line.
	if now-e.lastUsed.Load() > int64(time.Millisecond) {
		e.lastUsed.Store(now)
	}
	return e.b
}

func (g *Group) create(key string, now int64) *groupEntry {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := g.entries[key]; e != nil {
		return e // another Get created it first
	}
	g.sweepLocked(now)
	for len(g.entries) >= g.gcfg.MaxKeys {
		g.evictOldestLocked()
	}
	cfg := g.cfg
	cfg.Name = key
	if g.cfg.Name != "" {
		cfg.Name = g.cfg.Name + "/" + key
	}
	e := &groupEntry{b: newBreaker(cfg)} // cfg was resolved by NewGroup
	e.lastUsed.Store(now)
	g.entries[key] = e
	return e
}

// sweepLocked drops entries idle for IdleTTL, at most once per IdleTTL/4 so
// that a burst of new keys does not rescan the map each time.
func (g *Group) sweepLocked(now int64) {
	ttl := int64(g.gcfg.IdleTTL)
	if ttl == 0 || now-g.lastSweep < ttl/4 {
		return
	}
	g.lastSweep = now
	for k, e := range g.entries {
		if now-e.lastUsed.Load() >= ttl {
			delete(g.entries, k)
		}
	}
}

// evictOldestLocked drops the least recently used entry: a scan, O(MaxKeys),
// paid only when adding a key to a full group.
func (g *Group) evictOldestLocked() {
	var oldestKey string
	oldest := int64(1<<63 - 1)
	for k, e := range g.entries {
		if t := e.lastUsed.Load(); t < oldest {
			oldest, oldestKey = t, k
		}
	}
	delete(g.entries, oldestKey)
}

// Len returns the number of breakers held.
func (g *Group) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.entries)
}
