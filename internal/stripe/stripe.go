// Package stripe picks a per-goroutine stripe of a striped structure (a
// counter, a random source) from the goroutine's stack address.
//
// Go has no cheap per-P index (sync.Pool's is not exported), and a random
// stripe per call makes cache lines bounce between CPUs. A goroutine's stack address is stable
// between stack moves, and two live goroutines' stacks never share a 2 KiB
// block, so hashing the block number spreads running goroutines over stripes.
// A goroutine whose stack moves just changes stripe: sharing a stripe is
// slower, never wrong.
package stripe

import (
	"unsafe"

	"github.com/bulwark-go/bulwark/internal/mix"
)

// minStackShift is log2 of the smallest goroutine stack (2 KiB).
const minStackShift = 11

// Shift returns the shift that Index needs for n stripes (n a power of two,
// at least 2): 64 − log2(n).
func Shift(n int) uint8 {
	s := uint8(64)
	for n > 1 {
		n >>= 1
		s--
	}
	return s
}

// Index returns the calling goroutine's stripe among 1<<(64−shift) stripes.
//
// The stripe is the top bits of a Fibonacci hash of the stack's 2 KiB block
// number: goroutine stacks are often adjacent blocks, and Fibonacci hashing
// sends consecutive numbers to far-apart top bits. (Hashing the 4 KiB page
// and keeping middle bits instead puts goroutines with adjacent 2 KiB stacks
// on one stripe most of the time; TestAdjacentStacksSpread guards this.)
//
// Index is small enough to inline, so the address is the caller's frame.
func Index(shift uint8) uint64 {
	var marker byte
	return ofAddr(uintptr(unsafe.Pointer(&marker)), shift)
}

// ofAddr is Index for a given stack address.
func ofAddr(stackAddr uintptr, shift uint8) uint64 {
	return uint64(stackAddr>>minStackShift) * mix.Golden >> shift
}
