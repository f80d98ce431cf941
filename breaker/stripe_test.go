package breaker

import (
	"math/bits"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Goroutine stacks are often adjacent blocks of the minimum size; adjacent
// and nearby blocks must land on different stripes.
func TestStripeIndexSpreadsAdjacentStacks(t *testing.T) {
	for _, n := range []int{8, 16, 64} {
		c := stripedCounter{stripes: make([]paddedCounter, n)}
		c.shift = uint8(64 - bits.TrailingZeros(uint(n)))
		for base := uintptr(0x10000000); base < 0x10000000+1<<24; base += 1 << minStackShift {
			for _, size := range []uintptr{1 << 11, 1 << 12, 1 << 13} { // 2, 4 and 8 KiB stacks
				a, b := c.index(base), c.index(base+size)
				require.NotEqualf(t, a, b, "%d stripes: stacks at %#x and %#x share stripe %d", n, base, base+size, a)
				require.Less(t, a, uint64(n))
			}
		}
	}
}

func TestStripedCounterSum(t *testing.T) {
	var c stripedCounter
	c.init()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.add()
			}
		})
	}
	wg.Wait()
	require.Equal(t, uint64(8000), c.sum())
}
