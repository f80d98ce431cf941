package breaker

import (
	"runtime"
	"sync/atomic"

	"github.com/bulwark-go/bulwark/internal/stripe"
)

// stripedCounter is a monotonic counter split over cache-line-padded
// stripes, so that goroutines on different CPUs add without sharing a cache
// line. Each goroutine keeps hitting the stripe of its stack address
// (internal/stripe), and two running goroutines rarely share one. Reading
// it sums the stripes; the breaker does that only on its locked paths.
type stripedCounter struct {
	stripes []paddedCounter
	shift   uint8 // stripe.Shift(len(stripes))
}

type paddedCounter struct {
	n atomic.Uint64
	_ [56]byte // pad to a 64-byte cache line
}

// init sizes the counter at four times GOMAXPROCS rounded up to a power of
// two, between 8 and 64 stripes (512 B to 4 KiB): enough that two running
// goroutines rarely pick the same stripe.
func (c *stripedCounter) init() {
	n := 8
	for n < 4*runtime.GOMAXPROCS(0) && n < 64 {
		n *= 2
	}
	c.stripes = make([]paddedCounter, n)
	c.shift = stripe.Shift(n)
}

// add increments the calling goroutine's stripe. The shift is masked to
// what it is anyway (at least 58) so that the compiler, knowing it is below
// 64, drops the large-shift fix-up from the hot path.
func (c *stripedCounter) add() {
	c.stripes[stripe.Index(c.shift&63)].n.Add(1)
}

// sum returns the total. Under concurrent adds it is a value the counter
// held at some point during the call or a little later.
func (c *stripedCounter) sum() uint64 {
	var s uint64
	for i := range c.stripes {
		s += c.stripes[i].n.Load()
	}
	return s
}
