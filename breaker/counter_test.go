package breaker

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStripedCounterSum(t *testing.T) {
	var c stripedCounter
	c.init()
	require.GreaterOrEqual(t, len(c.stripes), 8)
	require.LessOrEqual(t, len(c.stripes), 64)
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
