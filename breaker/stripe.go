package breaker

import (
	"math/bits"
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
	shift   uint8 // 64 - log2(len(stripes)): keeps the top bits of the hash
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
	c.shift = uint8(64 - bits.TrailingZeros(uint(n)))
}

// minStackShift is log2 of the smallest goroutine stack (2 KiB): two live
// goroutines' stacks never share a 2 KiB block, so their stack addresses
// shifted by it differ.
const minStackShift = 11

// add increments the stripe picked by the calling goroutine's stack address.
// Each goroutine keeps hitting one stripe, and two running goroutines rarely
// share one. Go has no cheap per-P index (sync.Pool's is not exported, and a
// random stripe per call makes the lines bounce between CPUs: measured 4x
// slower at -cpu=2).
//
// The stripe is the top bits of a Fibonacci hash of the stack's 2 KiB block
// number: goroutine stacks are often adjacent blocks, and Fibonacci hashing
// sends consecutive numbers to far-apart top bits (Knuth, TAOCP vol. 3,
// 6.4). An earlier version hashed the 4 KiB page and kept middle bits: two
// goroutines with adjacent 2 KiB stacks shared a stripe in 59% of trials.
func (c *stripedCounter) add() {
	var marker byte
	c.stripes[c.index(uintptr(unsafe.Pointer(&marker)))].n.Add(1)
}

// index returns the stripe for a stack address.
func (c *stripedCounter) index(stackAddr uintptr) uint64 {
	return uint64(stackAddr>>minStackShift) * 0x9E3779B97F4A7C15 >> c.shift
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
