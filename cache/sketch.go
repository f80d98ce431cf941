package cache

import "github.com/bulwark-go/bulwark/internal/mix"

// sketch estimates how often keys were seen recently, for TinyLFU
// admission (Einziger, Friedman, Manes, "TinyLFU: A Highly Efficient Cache
// Admission Policy", ACM Transactions on Storage 13(4), 2017,
// https://arxiv.org/abs/1512.00727): a count-min sketch of 4-bit counters,
// 16 to a word and four per key, behind a doorkeeper Bloom filter that
// absorbs each key's first occurrence, so the many keys seen once do not
// crowd the counters. After sample increments every counter is halved and
// the doorkeeper cleared (the paper's reset), so old popularity fades. A
// shard's sketch is guarded by the shard's mutex.
type sketch struct {
	counters []uint64
	mask     uint64
	door     []uint64
	doorMask uint64 // bit index mask
	added    int
	sample   int
}

func newSketch(capacity int) *sketch {
	n := pow2(capacity)
	return &sketch{
		counters: make([]uint64, n),
		mask:     uint64(n - 1),
		door:     make([]uint64, n),
		doorMask: uint64(64*n - 1),
		sample:   10 * max(capacity, 1),
	}
}

// slot returns the word and bit shift of the i-th counter of a key whose
// mixed hash is base.
func (s *sketch) slot(base uint64, i int) (uint64, uint) {
	x := mix.Mix64(base + uint64(i)*mix.Golden)
	return x & s.mask, uint(x>>60) * 4
}

// doorkeeper reports whether h was seen since the last reset, and records it.
func (s *sketch) doorkeeper(h uint64) bool {
	x := mix.Mix64(h ^ 0x5bd1e9955bd1e995)
	seen := true
	for i := range 3 {
		b := (x >> (21 * i)) & s.doorMask
		w, bit := &s.door[b>>6], uint64(1)<<(b&63)
		if *w&bit == 0 {
			seen = false
			*w |= bit
		}
	}
	return seen
}

func (s *sketch) inDoor(h uint64) bool {
	x := mix.Mix64(h ^ 0x5bd1e9955bd1e995)
	for i := range 3 {
		b := (x >> (21 * i)) & s.doorMask
		if s.door[b>>6]&(1<<(b&63)) == 0 {
			return false
		}
	}
	return true
}

// increment records one occurrence of h.
func (s *sketch) increment(h uint64) {
	s.added++
	if s.added >= s.sample {
		s.reset()
	}
	if !s.doorkeeper(h) {
		return
	}
	base := mix.Mix64(h)
	for i := range 4 {
		w, shift := s.slot(base, i)
		if (s.counters[w]>>shift)&15 < 15 {
			s.counters[w] += 1 << shift
		}
	}
}

// add records n occurrences of h.
func (s *sketch) add(h uint64, n uint32) {
	for range n {
		s.increment(h)
	}
}

// frequency estimates h's occurrences since the last reset, up to 16.
func (s *sketch) frequency(h uint64) int {
	f := 15
	base := mix.Mix64(h)
	for i := range 4 {
		w, shift := s.slot(base, i)
		f = min(f, int(s.counters[w]>>shift&15))
	}
	if s.inDoor(h) {
		f++
	}
	return f
}

func (s *sketch) reset() {
	for i, w := range s.counters {
		s.counters[i] = w >> 1 & 0x7777777777777777
	}
	clear(s.door)
	s.added /= 2
}
