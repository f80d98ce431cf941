package cache

import (
	"sync"
	"sync/atomic"
)

// eviction carries one removed value out of the lock to OnEvict.
type eviction[K comparable, V any] struct {
	key    K
	value  V
	reason EvictReason
}

// shardStats are counted under the shard's mutex. Hits and misses are
// counted apart, in Cache.counts, because lock-free hits count them too.
type shardStats struct {
	evictions                      [len(reasonNames)]int64
	loads, loadErrors, sharedWaits int64
	refreshes                      int64
}

// Queues of a node: LRU uses one list; TinyLFU a window, a probation and a
// protected segment.
const (
	qLRU       = 0
	qWindow    = 0
	qProbation = 1
	qProtected = 2
)

// list is an intrusive doubly linked list of nodes around a sentinel; its
// front is the most recently inserted or promoted node.
type list[K comparable, V any] struct {
	root node[K, V]
	len  int
}

func (l *list[K, V]) init() { l.root.prev, l.root.next = &l.root, &l.root }

func (l *list[K, V]) back() *node[K, V] { return l.root.prev }

func (l *list[K, V]) pushFront(n *node[K, V]) {
	n.prev, n.next = &l.root, l.root.next
	l.root.next.prev = n
	l.root.next = n
	l.len++
}

func (l *list[K, V]) remove(n *node[K, V]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
	l.len--
}

func (l *list[K, V]) moveToFront(n *node[K, V]) {
	if l.root.next == n {
		return
	}
	l.remove(n)
	l.pushFront(n)
}

// shard is one part of the cache: an index that hits read without a lock,
// and everything else (the policy's lists, the flight group, the counters)
// under mu, which only writers, evictions, loads and exact-LRU hits take.
//
// A hit reads tab, grows and exact, which sit on their own cache line and
// change only when the table grows, then the bucket and the node; the one
// write it may make is the node's ref mark (see node.ref). With exact set
// (LRU with Shards: 1) hits take mu instead and move their node to the
// front: an exact LRU.
//
// The LRU policy without exact is CLOCK (Corbató 1968) on the LRU list: a
// hit sets the node's ref bit and eviction gives a marked tail node a
// second chance at the front. The TinyLFU policy is W-TinyLFU (a window
// whose share of the capacity the cache's climber adapts, 1% at first, see
// climb.go; the main segment's rest split 20/80 into probation and
// protected; ghosts of the keys each part recently lost feed the climber,
// see ghost.go), each segment kept
// with the same second-chance rule: a hit marks (up to 15), and a marked
// node reaching a segment's tail has its hits added to the sketch and is
// promoted (window → front of window, probation → protected) instead of
// leaving. A window node pushed out competes with probation's coldest node
// and the one the sketch says is more frequent stays.
type shard[K comparable, V any] struct {
	tab   atomic.Pointer[table[K, V]]
	grows atomic.Uint64 // odd while tab's nodes are being relinked
	exact bool
	// quick: a Set of a key the shard holds may store the value without mu
	// (Cache.update), because mu would guard nothing else: no exact order,
	// no cost, nobody to hand the replaced value to.
	quick bool
	_     [48]byte

	mu sync.Mutex
	// flights is len(calls), written under mu, read by Cache.update: a
	// lock-free Set must not race a load it has to supersede.
	flights   atomic.Int32
	mode      uint8 // cell mode of V
	notify    bool  // OnEvict or an observer is set: collect evicted values
	policy    Policy
	n         int
	capacity  int
	cost      int64
	maxCost   int64 // 0: no cost bound
	windowCap int
	protCap   int
	lists     [3]list[K, V]
	sketch    *sketch
	winGhost  *ghost         // TinyLFU: window candidates the sketch rejected
	mainGhost *ghost         // TinyLFU: main segment victims
	recalls   [2]int64       // misses on keys winGhost, mainGhost remembered, for the climber
	climb     *climber       // TinyLFU: the cache's window climber
	climbGen  uint64         // the climber generation windowCap follows
	inserts   int            // insertions since the last climber check
	calls     map[K]*call[V] // loads in flight (the flight group)
	stats     shardStats
	_         [64]byte // keeps the next shard's read line off this one's lock
}

func (s *shard[K, V]) init(capacity int, maxCost int64, policy Policy, exact bool, mode uint8, notify bool, climb *climber) {
	s.exact, s.policy, s.mode, s.notify, s.climb = exact, policy, mode, notify, climb
	s.quick = !exact && !notify && maxCost == 0
	for i := range s.lists {
		s.lists[i].init()
	}
	s.tab.Store(newTable[K, V](pow2(min(capacity, 1024))))
	s.calls = make(map[K]*call[V])
	s.setCapacity(capacity, maxCost)
}

// setCapacity sets the bounds and the policy's segment sizes (and for
// TinyLFU the sketch and ghosts, new ones if their size changes); mu is
// held (or the shard is new). The caller evicts down to them.
func (s *shard[K, V]) setCapacity(capacity int, maxCost int64) {
	s.capacity, s.maxCost = capacity, maxCost
	if s.policy != TinyLFU {
		return
	}
	s.setWindow()
	if s.sketch == nil || len(s.sketch.counters) != pow2(capacity) {
		s.sketch = newSketch(capacity)
	}
	if span := ghostSpan(capacity); s.winGhost == nil || int(s.winGhost.span) != span {
		s.winGhost, s.mainGhost = newGhost(span), newGhost(span)
	}
}

// setWindow sizes the window by the climber's share and splits the rest
// 20/80 into probation and protected; mu is held. The segments follow
// lazily: a larger window fills from new entries while the main segment
// gives up victims, a smaller one spills its oldest into probation.
func (s *shard[K, V]) setWindow() {
	share := climbInitialShare
	if s.climb != nil {
		s.climbGen = s.climb.gen.Load()
		share = s.climb.windowShare()
	}
	s.windowCap = min(max(1, int(share*float64(s.capacity)+0.5)), max(1, s.capacity-1))
	s.protCap = (s.capacity - s.windowCap) * 8 / 10
}

// find looks key up without the lock. A nil node with sure set is a
// definite miss; with sure unset the table grew meanwhile and the caller
// must look again under mu.
func (s *shard[K, V]) find(h uint64, key K) (n *node[K, V], sure bool) {
	g := s.grows.Load()
	if n = s.tab.Load().lookup(h, key); n != nil {
		return n, true
	}
	return nil, g&1 == 0 && s.grows.Load() == g
}

// held returns key's node if a lock-free Set (Cache.update) may store a
// value in it: it holds a value, not a cached error, stored by a Set (no
// load duration) that never expires.
func (s *shard[K, V]) held(h uint64, key K) *node[K, V] {
	n, _ := s.find(h, key)
	if n == nil || n.neg || n.delta.Load() != 0 || n.expires.Load() != 0 {
		return nil
	}
	return n
}

// lookup finds key under mu.
func (s *shard[K, V]) lookup(h uint64, key K) *node[K, V] {
	return s.tab.Load().lookup(h, key)
}

func (s *shard[K, V]) over() bool {
	return s.n > s.capacity || (s.maxCost > 0 && s.cost > s.maxCost)
}

// link adds a new node to the index and to the policy's entry queue,
// growing the table first when it would hold more nodes than buckets.
func (s *shard[K, V]) link(n *node[K, V]) {
	t := s.tab.Load()
	if s.n >= len(t.buckets) {
		t = s.grow(t)
	}
	t.insert(n)
	s.n++
	s.cost += int64(n.weight)
	if s.policy == TinyLFU {
		s.sketch.increment(n.hash)
		if s.winGhost.recall(n.hash) {
			s.recalls[0]++
		}
		if s.mainGhost.recall(n.hash) {
			s.recalls[1]++
		}
		if s.inserts++; s.inserts >= climbCheck && s.climb != nil {
			s.inserts = 0
			s.climb.add(s.recalls[0], s.recalls[1])
			s.recalls = [2]int64{}
			if s.over() { // the window matters once the shard evicts
				s.climb.check()
			}
		}
	}
	n.queue = qLRU // = qWindow
	s.lists[n.queue].pushFront(n)
}

// grow relinks every node into a table twice the size. Hits running
// meanwhile may miss (the links move under them), so grows is odd while
// it runs and find reports such a miss as unsure.
func (s *shard[K, V]) grow(old *table[K, V]) *table[K, V] {
	t := newTable[K, V](2 * len(old.buckets))
	s.grows.Add(1)
	for i := range old.buckets {
		for n := old.buckets[i].Load(); n != nil; {
			next := n.chain.Load()
			t.insert(n)
			n = next
		}
	}
	s.tab.Store(t)
	s.grows.Add(1)
	return t
}

// remove takes n out of the index and its queue and, if OnEvict or an
// observer is set, appends its value to evs (not for a cached error).
func (s *shard[K, V]) remove(n *node[K, V], reason EvictReason, evs []eviction[K, V]) []eviction[K, V] {
	s.tab.Load().unlink(n)
	s.lists[n.queue].remove(n)
	n.dead.Store(true)
	s.n--
	s.cost -= int64(n.weight)
	s.stats.evictions[reason]++
	if s.notify && !n.neg {
		evs = append(evs, eviction[K, V]{key: n.key, value: n.val.load(s.mode), reason: reason})
	}
	return evs
}

// put stores a value or a cached error for key and evicts down to the
// bounds, appending what left to evs: the key's old value (replaced) and
// the policy's victims (capacity).
func (s *shard[K, V]) put(h uint64, key K, value V, err error, expires, delta int64, weight uint32, evs []eviction[K, V]) []eviction[K, V] {
	n := s.lookup(h, key)
	if n != nil && !n.neg && err == nil && (s.maxCost == 0 || int64(weight) <= s.maxCost) {
		if s.notify {
			evs = append(evs, eviction[K, V]{key: key, value: n.val.load(s.mode), reason: EvictReplaced})
		}
		s.stats.evictions[EvictReplaced]++
		s.rewrite(n, value, expires, delta)
		s.cost += int64(weight) - int64(n.weight)
		n.weight = weight
		s.access(n)
		return s.evict(evs)
	}
	if n != nil {
		// A value replacing a cached error or the reverse gets a new
		// node: a hit reads neg and the value without a lock, so they
		// never change on a published node.
		evs = s.remove(n, EvictReplaced, evs)
	}
	if s.maxCost > 0 && int64(weight) > s.maxCost {
		// Heavier than the shard can ever hold: it would flush every
		// other entry and then itself.
		s.stats.evictions[EvictCapacity]++
		if s.notify && err == nil {
			evs = append(evs, eviction[K, V]{key: key, value: value, reason: EvictCapacity})
		}
		return evs
	}
	if s.policy != TinyLFU {
		// LRU makes room first, so the new entry is never its own victim.
		for s.n > 0 && (s.n >= s.capacity || (s.maxCost > 0 && s.cost+int64(weight) > s.maxCost)) {
			evs = s.remove(s.clock(&s.lists[qLRU]), EvictCapacity, evs)
		}
	}
	n = &node[K, V]{key: key, hash: h, neg: err != nil, err: err, weight: weight}
	if err == nil {
		n.val.store(s.mode, value)
	}
	n.expires.Store(expires)
	n.delta.Store(delta)
	s.link(n)
	return s.evict(evs)
}

// rewrite stores a new value, expiry and load duration in a live node; mu
// is held. The value goes first, so that a hit that sees the new expiry
// sees the new value. Expiry and duration are stored only when they change
// (an atomic store is a full barrier, and most Sets keep both); when they
// do, the value is stored once more, after them, because a lock-free Set
// (Cache.update), which changes only the value of a node whose expiry it
// checked before and after, may have stored its value in between: the
// value last stored then goes with the expiry last stored.
func (s *shard[K, V]) rewrite(n *node[K, V], value V, expires, delta int64) {
	w := wrap(s.mode, value)
	n.val.set(s.mode, w)
	if n.delta.Load() == delta && n.expires.Load() == expires {
		return
	}
	n.delta.Store(delta)
	n.expires.Store(expires)
	n.val.set(s.mode, w)
}

// access records a locked access to n (a Set of an existing key, an exact
// hit): the exact LRU moves it to the front; the other policies mark it as
// a hit does, which writes no list links (under contention on a hot shard,
// moving a node writes its neighbours' lines too) and is what a lock-free
// Set does too (Cache.update).
func (s *shard[K, V]) access(n *node[K, V]) {
	if s.exact {
		s.lists[qLRU].moveToFront(n)
		return
	}
	n.mark(markLimit(s.policy))
}

// evict removes victims until the shard is within its bounds.
func (s *shard[K, V]) evict(evs []eviction[K, V]) []eviction[K, V] {
	if s.policy == TinyLFU {
		return s.evictTinyLFU(evs)
	}
	for s.over() {
		evs = s.remove(s.clock(&s.lists[qLRU]), EvictCapacity, evs)
	}
	return evs
}

// clock returns l's tail after giving marked tail nodes a second chance at
// the front (their marks go to the sketch). Hits keep marking nodes while
// it runs, so after a full turn of the list it takes the tail as it is.
func (s *shard[K, V]) clock(l *list[K, V]) *node[K, V] {
	for turn := l.len; ; turn-- {
		t := l.back()
		r := t.ref.Load()
		if r == 0 || turn <= 0 {
			return t
		}
		t.ref.Store(0)
		if s.sketch != nil {
			s.sketch.add(t.hash, r)
		}
		l.moveToFront(t)
	}
}

func (s *shard[K, V]) evictTinyLFU(evs []eviction[K, V]) []eviction[K, V] {
	if s.climb != nil && s.climb.gen.Load() != s.climbGen {
		s.setWindow()
	}
	win, prob := &s.lists[qWindow], &s.lists[qProbation]
	for win.len > s.windowCap {
		c := s.clock(win)
		win.remove(c)
		c.queue = qProbation
		prob.pushFront(c)
		s.winGhost.depart()
		if s.over() {
			evs = s.admit(c, evs)
		}
	}
	for s.over() {
		v, g := s.mainVictim(nil), s.mainGhost
		if v == nil {
			v, g = s.clock(win), s.winGhost
		}
		g.depart()
		g.remember(v.hash)
		evs = s.remove(v, EvictCapacity, evs)
	}
	return evs
}

// admit keeps whichever of the candidate c (just out of the window) and
// the main segment's victim the sketch finds more frequent; a tie goes to
// the victim, as in the paper. The loser's ghost remembers it.
func (s *shard[K, V]) admit(c *node[K, V], evs []eviction[K, V]) []eviction[K, V] {
	v := s.mainVictim(c)
	if v == nil || s.sketch.frequency(c.hash) <= s.sketch.frequency(v.hash) {
		s.winGhost.remember(c.hash)
		return s.remove(c, EvictCapacity, evs)
	}
	s.mainGhost.depart()
	s.mainGhost.remember(v.hash)
	return s.remove(v, EvictCapacity, evs)
}

// mainVictim returns probation's coldest node other than skip, promoting
// marked nodes on the way; failing that protected's tail; nil if the main
// segment holds nothing else.
func (s *shard[K, V]) mainVictim(skip *node[K, V]) *node[K, V] {
	prob, prot := &s.lists[qProbation], &s.lists[qProtected]
	for turn := prob.len + prot.len; prob.len > 0; turn-- {
		t := prob.back()
		if t == skip {
			break
		}
		r := t.ref.Load()
		if r == 0 || turn <= 0 {
			return t
		}
		t.ref.Store(0)
		s.sketch.add(t.hash, r)
		s.promote(t)
	}
	if prot.len > 0 {
		return prot.back()
	}
	return nil
}

// promote moves a probation node to the protected front, demoting
// protected's tail to probation while protected is over its share.
func (s *shard[K, V]) promote(n *node[K, V]) {
	prob, prot := &s.lists[qProbation], &s.lists[qProtected]
	prob.remove(n)
	n.queue = qProtected
	prot.pushFront(n)
	for prot.len > s.protCap && prot.len > 1 {
		d := prot.back()
		prot.remove(d)
		d.queue = qProbation
		prob.pushFront(d)
	}
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
	s.land(key)
	cl.superseded = true
	if cl.background {
		cl.cancel()
	}
}

// fly adds a load to the flight group; mu is held.
func (s *shard[K, V]) fly(key K, cl *call[V]) {
	s.calls[key] = cl
	s.flights.Store(int32(len(s.calls)))
}

// land removes key's load from the flight group; mu is held.
func (s *shard[K, V]) land(key K) {
	delete(s.calls, key)
	s.flights.Store(int32(len(s.calls)))
}

// clear empties the shard and appends the removed values to evs if
// OnEvict or an observer is set.
func (s *shard[K, V]) clear(evs []eviction[K, V]) []eviction[K, V] {
	for q := range s.lists {
		l := &s.lists[q]
		for n := l.root.next; n != &l.root; n = n.next {
			n.dead.Store(true)
			if s.notify && !n.neg {
				evs = append(evs, eviction[K, V]{key: n.key, value: n.val.load(s.mode), reason: EvictCleared})
			}
		}
		l.init()
		l.len = 0
	}
	s.stats.evictions[EvictCleared] += int64(s.n)
	s.n, s.cost = 0, 0
	s.tab.Store(newTable[K, V](len(s.tab.Load().buckets)))
	for key, cl := range s.calls {
		s.detach(key, cl)
	}
	return evs
}

// nodes appends every node of the shard to buf; mu is held.
func (s *shard[K, V]) nodes(buf []*node[K, V]) []*node[K, V] {
	for q := range s.lists {
		l := &s.lists[q]
		for n := l.root.next; n != &l.root; n = n.next {
			buf = append(buf, n)
		}
	}
	return buf
}
