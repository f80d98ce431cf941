package cache

import (
	"reflect"
	"sync/atomic"
	"unsafe"
)

// node is one entry. Hits read it without a lock, so every field a hit reads
// is either immutable (key, hash, neg, err) or atomic (chain, val, expires,
// ref), and a node is never reused for another key: a removed node is left
// to the garbage collector, so a reader still holding it sees a consistent,
// merely older, entry. The fields a hit reads come first; for 8-byte keys
// and values they fill one cache line.
type node[K comparable, V any] struct {
	key   K
	hash  uint64
	chain atomic.Pointer[node[K, V]] // next node of the same table bucket
	val   cell[V]
	// expires is when the value stops being fresh, in Cache.now units, 0 =
	// never. When it may no longer be served at all follows from it (see
	// Cache.deadline).
	expires atomic.Int64
	// ref records hits for the policy: a CLOCK bit (LRU) or a hit count up
	// to 15 (TinyLFU). A hit loads it and stores only while it is below its
	// cap, never a read-modify-write: a hot entry's line is written a few
	// times per pass of the eviction hand, not on every hit. Lost updates
	// between racing hits are harmless.
	ref atomic.Uint32
	neg bool // a cached load error (err); such a node is replaced, never updated

	// The rest is written under the shard's mutex.
	prev, next *node[K, V] // policy list
	queue      uint8       // which list (lru, or window/probation/protected)
	weight     uint32      // Weigher's cost, 0 without MaxCost
	dead       atomic.Bool // removed; iterators skip it
	delta      atomic.Int64
	err        error
}

// markLimit is the cap of a node's hit marks under policy: a CLOCK bit
// for LRU, a count up to 15 for TinyLFU.
func markLimit(policy Policy) uint32 {
	if policy == TinyLFU {
		return 15
	}
	return 1
}

// mark records a lock-free hit, up to limit.
func (n *node[K, V]) mark(limit uint32) {
	if r := n.ref.Load(); r < limit {
		n.ref.Store(r + 1)
	}
}

// How a cell holds a value so that hits can read it while Set replaces it.
const (
	// cellBits: V is a pointer-free scalar of at most 8 bytes (integers,
	// floats, bool): the value's bytes live in an atomic word.
	cellBits uint8 = iota
	// cellPointer: V is one pointer (pointer, map, chan, func): it is
	// stored in an atomic pointer word.
	cellPointer
	// cellBox: any other V is stored in a heap copy behind an atomic
	// pointer; replacing it allocates the new copy.
	cellBox
)

// cellMode picks how cells of V store values.
func cellMode[V any]() uint8 {
	t := reflect.TypeFor[V]()
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64:
		if t.Size() <= 8 {
			return cellBits
		}
	case reflect.Pointer, reflect.UnsafePointer, reflect.Map, reflect.Chan, reflect.Func:
		return cellPointer
	}
	return cellBox
}

// cell is a value that one writer (holding the shard's mutex) replaces
// while readers load it without a lock. Go cannot load an arbitrary V
// atomically, and a torn read of a string or interface is memory-unsafe, so
// values that fit one word are stored in it and the rest are boxed.
type cell[V any] struct {
	bits atomic.Uint64
	ptr  unsafe.Pointer // accessed atomically
}

func (c *cell[V]) load(mode uint8) V {
	switch mode {
	case cellBits:
		u := c.bits.Load()
		return *(*V)(unsafe.Pointer(&u))
	case cellPointer:
		p := atomic.LoadPointer(&c.ptr)
		return *(*V)(unsafe.Pointer(&p))
	}
	return *(*V)(atomic.LoadPointer(&c.ptr))
}

func (c *cell[V]) store(mode uint8, v V) { c.set(mode, wrap(mode, v)) }

// word is a value as a cell stores it: its bits, or a pointer (to the
// value's heap copy for cellBox). Storing one word twice stores one value
// twice without a second copy.
type word struct {
	bits uint64
	ptr  unsafe.Pointer
}

func wrap[V any](mode uint8, v V) word {
	switch mode {
	case cellBits:
		var u uint64
		*(*V)(unsafe.Pointer(&u)) = v
		return word{bits: u}
	case cellPointer:
		return word{ptr: *(*unsafe.Pointer)(unsafe.Pointer(&v))}
	}
	p := new(V)
	*p = v
	return word{ptr: unsafe.Pointer(p)}
}

func (c *cell[V]) set(mode uint8, w word) {
	if mode == cellBits {
		c.bits.Store(w.bits)
		return
	}
	atomic.StorePointer(&c.ptr, w.ptr)
}

// table is a shard's index: chained buckets whose heads and links are
// atomic, so a hit walks them without a lock while the shard's writer
// inserts at a bucket's head and unlinks nodes. A growing table relinks
// every node; readers detect that through shard.grows (see shard.find).
type table[K comparable, V any] struct {
	mask    uint64
	buckets []atomic.Pointer[node[K, V]]
}

func newTable[K comparable, V any](size int) *table[K, V] {
	return &table[K, V]{mask: uint64(size - 1), buckets: make([]atomic.Pointer[node[K, V]], size)}
}

// lookup walks key's bucket; safe without the lock.
func (t *table[K, V]) lookup(h uint64, key K) *node[K, V] {
	for n := t.buckets[h&t.mask].Load(); n != nil; n = n.chain.Load() {
		if n.hash == h && n.key == key {
			return n
		}
	}
	return nil
}

// insert links n at the head of its bucket; the shard's mutex is held.
func (t *table[K, V]) insert(n *node[K, V]) {
	b := &t.buckets[n.hash&t.mask]
	n.chain.Store(b.Load())
	b.Store(n)
}

// unlink removes n from its bucket; the shard's mutex is held. n.chain is
// left as it is, so a reader standing on n walks on to the rest of the
// bucket.
func (t *table[K, V]) unlink(n *node[K, V]) {
	b := &t.buckets[n.hash&t.mask]
	p := b.Load()
	if p == n {
		b.Store(n.chain.Load())
		return
	}
	for ; p != nil; p = p.chain.Load() {
		if q := p.chain.Load(); q == n {
			p.chain.Store(n.chain.Load())
			return
		}
	}
}

// pow2 returns the smallest power of two >= n, at least 8.
func pow2(n int) int {
	size := 8
	for size < n {
		size *= 2
	}
	return size
}
