package cache

import (
	"sync"
	"sync/atomic"
)

// entry is one slot of a shard's intrusive LRU list. Slots live in one slice
// and link by int32 index, so the list costs no per-entry allocation and no
// pointers for the garbage collector to trace beyond the key and value.
type entry[K comparable, V any] struct {
	// A hit reads key, value, expires, err and ref. For 8-byte keys and
	// values the entry is 64 bytes, one cache line (cache_test.go checks).
	key   K
	value V
	// expires is when the value stops being fresh, in Cache.now units, 0 =
	// never. When it may no longer be served at all follows from it (see
	// Cache.deadline), so it is not stored.
	expires int64
	err     error // non-nil: a cached load error (negative entry)
	delta   int64 // duration of the load that produced value (XFetch Δ); 0 if Set
	// hash holds the low 32 bits of the key's hash, which fix its home slot
	// in the table (see shard), so the table can move or drop it unhashed.
	hash uint32
	// ref is set, atomically, by a read-locked hit (shards in CLOCK mode,
	// see shard) and cleared when the entry moves to the front.
	ref        uint32
	prev, next int32
}

// eviction carries one removed value out of the lock to OnEvict; reason 0
// means nothing to report.
type eviction[K comparable, V any] struct {
	key    K
	value  V
	reason EvictReason
}

// shardStats are counted under the shard's write lock. Hits and misses are
// counted apart (shard.hits, shard.misses), atomically, because read-locked
// lookups count them too.
type shardStats struct {
	evictions                      [len(reasonNames)]uint64
	loads, loadErrors, sharedWaits uint64
	refreshes                      uint64
}

// shard is an LRU of fixed capacity plus the loads in flight for its keys.
// Every field is guarded by mu, except hits and misses (atomic) and the
// entries' ref bits (atomic, see below).
//
// With exact set (Shards: 1) the shard is an exact LRU: every hit moves
// its entry to the front, under the write lock. Otherwise a fresh hit holds
// only the read lock, so hits on one shard run in parallel, and records
// itself by setting the entry's ref bit (a load first, so a hot entry's
// line is not written again); the write lock is taken only to store,
// remove or expire. Eviction gives a referenced tail entry a second chance:
// it moves to the front with ref cleared and the next tail is examined.
// This is CLOCK (Corbató 1968) on the LRU list, an LRU approximation whose
// Zipf hit ratio stays within a point of exact LRU (cache_test.go checks).
type shard[K comparable, V any] struct {
	// mu, hits and misses are adjacent: a read-locked hit writes mu's
	// reader count and then hits, usually the same, by then local, line.
	mu     sync.RWMutex
	hits   atomic.Uint64
	misses atomic.Uint64
	exact  bool
	table  []uint64
	mask   uint64 // len(table) - 1
	n      int    // entries in use
	// entries[0] is the list sentinel: its next is the most recently used
	// slot, its prev the least recently used one.
	entries  []entry[K, V]
	free     int32 // first free slot, chained through next; 0 = none
	capacity int
	calls    map[K]*call[V] // loads in flight (the flight group)
	stats    shardStats
	_        [64]byte // keeps neighbouring shards' mutexes off one cache line
}

func (s *shard[K, V]) init(capacity int, exact bool) {
	s.capacity = capacity
	s.exact = exact
	s.setTable(tableSize(min(capacity, 1024)))
	s.entries = make([]entry[K, V], 1, min(capacity, 1024)+1)
	s.calls = make(map[K]*call[V])
}

// tableSize returns the power of two that keeps n entries at most 3/4 full.
func tableSize(n int) int {
	size := 8
	for 3*size < 4*n {
		size *= 2
	}
	return size
}

func (s *shard[K, V]) setTable(size int) {
	s.table = make([]uint64, size)
	s.mask = uint64(size - 1)
}

// find returns the entry index for key, or 0 if absent.
func (s *shard[K, V]) find(h uint64, key K) int32 {
	tag := h & 0xffffffff
	for p := h & s.mask; ; p = (p + 1) & s.mask {
		slot := s.table[p]
		if slot == 0 {
			return 0
		}
		if slot>>32 == tag {
			if i := int32(uint32(slot)); s.entries[i].key == key {
				return i
			}
		}
	}
}

// link records entry i (whose hash is set) in the table, growing it first
// if it would become more than 3/4 full.
func (s *shard[K, V]) link(i int32) {
	if 4*(s.n+1) > 3*len(s.table) {
		old := s.table
		s.setTable(2 * len(old))
		for _, slot := range old {
			if slot != 0 {
				s.place(slot)
			}
		}
	}
	s.place(uint64(s.entries[i].hash)<<32 | uint64(uint32(i)))
	s.n++
}

func (s *shard[K, V]) place(slot uint64) {
	p := slot >> 32 & s.mask
	for s.table[p] != 0 {
		p = (p + 1) & s.mask
	}
	s.table[p] = slot
}

// unindex removes entry i from the table by backward-shift deletion, which
// keeps every remaining key reachable from its home slot without tombstones.
func (s *shard[K, V]) unindex(i int32) {
	p := uint64(s.entries[i].hash) & s.mask
	for int32(uint32(s.table[p])) != i {
		p = (p + 1) & s.mask
	}
	s.n--
	for {
		s.table[p] = 0
		q := p
		for {
			q = (q + 1) & s.mask
			slot := s.table[q]
			if slot == 0 {
				return
			}
			home := slot >> 32 & s.mask
			// The slot at q may move to p unless its home lies cyclically
			// in (p, q].
			if (q > p && (home <= p || home > q)) || (q < p && home <= p && home > q) {
				s.table[p] = slot
				p = q
				break
			}
		}
	}
}

func (s *shard[K, V]) unlink(i int32) {
	e := &s.entries[i]
	s.entries[e.prev].next = e.next
	s.entries[e.next].prev = e.prev
}

func (s *shard[K, V]) pushFront(i int32) {
	head := &s.entries[0]
	e := &s.entries[i]
	e.ref = 0
	e.prev, e.next = 0, head.next
	s.entries[head.next].prev = i
	head.next = i
}

// touch records a read-locked hit on entry i for CLOCK eviction.
func (s *shard[K, V]) touch(i int32) {
	if ref := &s.entries[i].ref; atomic.LoadUint32(ref) == 0 {
		atomic.StoreUint32(ref, 1)
	}
}

// victim returns the entry to evict: the least recently used one, after
// moving referenced tail entries to the front (their second chance). It
// ends because each move clears a ref bit.
func (s *shard[K, V]) victim() int32 {
	for {
		i := s.entries[0].prev
		if s.entries[i].ref == 0 {
			return i
		}
		// Cleared here, not by pushFront: moveToFront skips the entry
		// already at the front, which a one-entry shard's tail is.
		s.entries[i].ref = 0
		s.moveToFront(i)
	}
}

func (s *shard[K, V]) moveToFront(i int32) {
	if s.entries[0].next == i {
		return
	}
	s.unlink(i)
	s.pushFront(i)
}

// put stores a value or error for key as the most recently used entry and
// returns the value it displaced, if any: the key's old value (replaced) or
// the least recently used entry of a full shard (capacity).
func (s *shard[K, V]) put(h uint64, key K, value V, err error, expires, delta int64) eviction[K, V] {
	if i := s.find(h, key); i != 0 {
		e := &s.entries[i]
		var ev eviction[K, V]
		if e.err == nil {
			ev = eviction[K, V]{key: key, value: e.value, reason: EvictReplaced}
		}
		s.stats.evictions[EvictReplaced]++
		e.value, e.err, e.expires, e.delta = value, err, expires, delta
		e.ref = 0
		s.moveToFront(i)
		return ev
	}
	var ev eviction[K, V]
	if s.n >= s.capacity {
		ev = s.remove(s.victim(), EvictCapacity)
	}
	i := s.alloc()
	s.entries[i] = entry[K, V]{key: key, value: value, err: err, expires: expires, delta: delta, hash: uint32(h)}
	s.pushFront(i)
	s.link(i)
	return ev
}

func (s *shard[K, V]) alloc() int32 {
	if i := s.free; i != 0 {
		s.free = s.entries[i].next
		return i
	}
	s.entries = append(s.entries, entry[K, V]{})
	return int32(len(s.entries) - 1)
}

// remove unlinks slot i, frees it and returns its value for OnEvict (none
// for a cached error).
func (s *shard[K, V]) remove(i int32, reason EvictReason) eviction[K, V] {
	s.unlink(i)
	e := &s.entries[i]
	var ev eviction[K, V]
	if e.err == nil {
		ev = eviction[K, V]{key: e.key, value: e.value, reason: reason}
	}
	s.stats.evictions[reason]++
	s.unindex(i)
	*e = entry[K, V]{next: s.free} // drop references for the GC
	s.free = i
	return ev
}

// supersede detaches the load in flight for key, if any, because a write
// to key came after it started: its result is returned to its waiters but
// not stored, later callers start a new load, and a background refresh,
// which nobody waits for, is cancelled.
func (s *shard[K, V]) supersede(key K) {
	if len(s.calls) == 0 {
		return
	}
	if cl, ok := s.calls[key]; ok {
		s.detach(key, cl)
	}
}

func (s *shard[K, V]) detach(key K, cl *call[V]) {
	delete(s.calls, key)
	cl.superseded = true
	if cl.background {
		cl.cancel()
	}
}

// clear empties the shard and returns the removed values if collect is set.
func (s *shard[K, V]) clear(collect bool) []eviction[K, V] {
	var evs []eviction[K, V]
	if collect {
		evs = make([]eviction[K, V], 0, s.n)
	}
	for i := s.entries[0].next; i != 0; i = s.entries[i].next {
		e := &s.entries[i]
		if collect && e.err == nil {
			evs = append(evs, eviction[K, V]{key: e.key, value: e.value, reason: EvictCleared})
		}
	}
	s.stats.evictions[EvictCleared] += uint64(s.n)
	clear(s.table)
	s.n = 0
	clear(s.entries[1:]) // drop references for the GC
	s.entries = s.entries[:1]
	s.entries[0] = entry[K, V]{}
	s.free = 0
	for key, cl := range s.calls {
		s.detach(key, cl)
	}
	return evs
}
