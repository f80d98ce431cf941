package breaker

import (
	"cmp"
	"iter"
	"slices"
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
// use from a shared Config: Get is what most callers want, and a Transport
// keeps its per-host breakers in one. It is safe for concurrent use: Get of
// a known key takes a read lock only; concurrent Gets of a new key create
// one breaker. All enumerates the breakers and AllStats their Stats, for an
// exporter. Every breaker shares the Config's Observer, and its events carry
// its own name (see NewGroup).
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
// matching ErrInvalidConfig that names an invalid field of either config.
func NewGroup(cfg Config, gcfg GroupConfig) (*Group, error) {
	c, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if gcfg.MaxKeys < 0 {
		return nil, configErrorf("GroupConfig.MaxKeys %d negative", gcfg.MaxKeys)
	}
	if gcfg.IdleTTL < 0 {
		return nil, configErrorf("GroupConfig.IdleTTL %v negative", gcfg.IdleTTL)
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

// All returns an iterator over the group's breakers and their keys, in key
// order:
//
//	for key, b := range g.All() {
//		publish(key, b.Stats())
//	}
//
// It is weakly consistent: each loop yields the breakers the group held
// when the loop started (a snapshot taken under the read lock, which is not
// held while the loop body runs, so the body may call the group), so a key
// created during the loop may be missing and one evicted during the loop may
// still be yielded. Enumerating is not use: it does not keep an idle key
// from eviction.
func (g *Group) All() iter.Seq2[string, *Breaker] {
	return func(yield func(string, *Breaker) bool) {
		type member struct {
			key string
			b   *Breaker
		}
		g.mu.RLock()
		members := make([]member, 0, len(g.entries))
		for k, e := range g.entries {
			members = append(members, member{k, e.b})
		}
		g.mu.RUnlock()
		slices.SortFunc(members, func(x, y member) int { return cmp.Compare(x.key, y.key) })
		for _, m := range members {
			if !yield(m.key, m.b) {
				return
			}
		}
	}
}

// AllStats returns an iterator over the Stats of the group's breakers and
// their keys, in key order, as All enumerates them (weakly consistent,
// under no lock while the loop body runs): what an exporter publishes,
//
//	for key, s := range g.AllStats() {
//		gauge.Set(key, float64(s.State))
//	}
//
// Each breaker's Stats is taken when the loop reaches it.
func (g *Group) AllStats() iter.Seq2[string, Stats] {
	return func(yield func(string, Stats) bool) {
		for key, b := range g.All() {
			if !yield(key, b.Stats()) {
				return
			}
		}
	}
}
