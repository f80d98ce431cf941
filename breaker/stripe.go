package breaker

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// stripedCounter is a monotonic counter split over cache-line-padded
// stripes, so that goroutines on different CPUs add without sharing a cache
// line. Reading it sums the stripes; the breaker does that only on its
// locked paths.
type stripedCounter struct {
	stripes []paddedCounter
	mask    uintptr
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
	c.mask = uintptr(n - 1)
}

// add increments the stripe picked by the calling goroutine's stack address.
// A goroutine's stack sits in its own memory region, so each goroutine keeps
// hitting one stripe, and two running goroutines rarely share one. Go has no
// cheap per-P index (sync.Pool's is not exported, and a random stripe per
// call makes the lines bounce between CPUs: measured 4x slower at -cpu=2).
func (c *stripedCounter) add() {
	var marker byte
	// Fibonacci hashing of the 4 KiB page of the stack.
	h := (uintptr(unsafe.Pointer(&marker)) >> 12) * 0x9E3779B97F4A7C15
	c.stripes[(h>>(unsafe.Sizeof(h)*8-6))&c.mask].n.Add(1)
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
