package stripe

import (
	"runtime"
	"sync/atomic"
)

// Counter is a monotonic counter split over cache-line-padded stripes, so
// that goroutines on different CPUs add without sharing a cache line. Each
// goroutine keeps hitting the stripe of its stack address (Index), and two
// running goroutines rarely share one. Reading it sums the stripes, so it
// suits counters that are added to on hot paths and read rarely (Stats, a
// breaker's locked paths). Init must be called before use.
type Counter struct {
	stripes []paddedCounter
	shift   uint8 // Shift(len(stripes))
}

type paddedCounter struct {
	n atomic.Uint64
	_ [56]byte // pad to a 64-byte cache line
}

// Init sizes the counter at four times GOMAXPROCS rounded up to a power of
// two, between 8 and 64 stripes (512 B to 4 KiB): enough that two running
// goroutines rarely pick the same stripe.
func (c *Counter) Init() {
	n := 8
	for n < 4*runtime.GOMAXPROCS(0) && n < 64 {
		n *= 2
	}
	c.stripes = make([]paddedCounter, n)
	c.shift = Shift(n)
}

// Add increments the calling goroutine's stripe. The shift is masked to
// what it is anyway (at least 58) so that the compiler, knowing it is below
// 64, drops the large-shift fix-up from the hot path.
func (c *Counter) Add() {
	c.stripes[Index(c.shift&63)].n.Add(1)
}

// Sum returns the total. Under concurrent adds it is a value the counter
// held at some point during the call or a little later.
func (c *Counter) Sum() uint64 {
	var s uint64
	for i := range c.stripes {
		s += c.stripes[i].n.Load()
	}
	return s
}
