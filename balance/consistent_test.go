package balance

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/bulwark-go/bulwark/shard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Consistent over string nodes places keys exactly as shard.Ring does for
// the same member list, with the default Replicas and with others, in any
// node order, while loads are balanced (one request at a time).
func TestConsistentAgreesWithShardRing(t *testing.T) {
	for _, tc := range []struct {
		nodes    []string
		replicas int
	}{
		{hosts(3), 0},
		{hosts(10), 0},
		{hosts(10), 7},
		{[]string{"cache-c", "cache-a", "cache-b"}, 1},
		{hosts(50), 200},
	} {
		t.Run(fmt.Sprintf("nodes=%d/replicas=%d", len(tc.nodes), tc.replicas), func(t *testing.T) {
			c, err := NewConsistent(tc.nodes, Config{Replicas: tc.replicas})
			require.NoError(t, err)
			ring, err := shard.NewRing(tc.nodes, shard.RingConfig{VirtualNodes: tc.replicas})
			require.NoError(t, err)
			differ := 0
			for _, k := range keys(20_000) {
				l, err := c.PickKey(k)
				require.NoError(t, err)
				if l.Node != ring.Locate(k) {
					differ++
				}
				l.Done(nil)
			}
			assert.Zero(t, differ, "keys placed differently from shard.Ring")
		})
	}
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("user-%d", i)
	}
	return out
}

func owners(t *testing.T, c *Consistent[string], ks []string) map[string]string {
	t.Helper()
	out := make(map[string]string, len(ks))
	for _, k := range ks {
		l, err := c.PickKey(k)
		require.NoError(t, err)
		out[k] = l.Node
		l.Done(nil)
	}
	return out
}

func TestConsistentStableAndMinimalRemap(t *testing.T) {
	nodes := hosts(10)
	c, err := NewConsistent(nodes, Config{})
	require.NoError(t, err)
	ks := keys(5000)
	before := owners(t, c, ks)
	assert.Equal(t, before, owners(t, c, ks), "same key, same node")
	perNode := map[string]int{}
	for _, n := range before {
		perNode[n]++
	}
	assert.Len(t, perNode, 10, "every node owns keys")

	removed := nodes[3]
	require.NoError(t, c.Update(slices.Delete(slices.Clone(nodes), 3, 4)))
	after := owners(t, c, ks)
	for _, k := range ks {
		if before[k] != removed {
			assert.Equal(t, before[k], after[k], "key %s of a surviving node moved", k)
		} else {
			assert.NotEqual(t, removed, after[k])
		}
	}
}

// TestConsistentBoundedLoad holds many Permits from concurrent goroutines
// on a handful of hot keys: no node may exceed ceil(c·m/n)+1.
func TestConsistentBoundedLoad(t *testing.T) {
	const n, goroutines, hold, rounds = 8, 8, 25, 200
	c, err := NewConsistent(hosts(n), Config{})
	require.NoError(t, err)
	hot := keys(3) // three hot keys: without the bound they would sit on ≤ 3 nodes
	m := goroutines * hold
	bound := int64(math.Ceil(1.25*float64(m)/n)) + 1
	var wg sync.WaitGroup
	held := make([][]Permit[string], goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for r := range rounds {
				if len(held[g]) == hold {
					held[g][0].Done(nil)
					held[g] = held[g][1:]
				}
				l, err := c.PickKey(hot[(g+r)%len(hot)])
				if err != nil {
					t.Error(err)
					return
				}
				// m never exceeds goroutines·hold, so neither may any node.
				if f := l.st.inFlight(); f > bound {
					t.Errorf("node %s at %d in flight, bound %d", l.Node, f, bound)
				}
				held[g] = append(held[g], l)
			}
		})
	}
	wg.Wait()
	var total int64
	used := 0
	for _, st := range c.Stats().Nodes {
		assert.LessOrEqualf(t, st.InFlight, bound, "node %s", st.Node)
		total += st.InFlight
		if st.InFlight > 0 {
			used++
		}
	}
	assert.Equal(t, int64(m), total)
	assert.Greater(t, used, 3, "load spilled past the hot keys' owners")
}

// Two pickers built independently (each with its own random maphash seed, as
// in two client processes) over the same "host:port" nodes must send every
// key to the same node: a fleet of clients then keeps one backend's cache
// warm per key. Shuffled input order must not matter either.
func TestConsistentAgreesAcrossPickers(t *testing.T) {
	nodes := hosts(10)
	a, err := NewConsistent(nodes, Config{})
	require.NoError(t, err)
	shuffled := slices.Clone(nodes)
	slices.Reverse(shuffled)
	b, err := NewConsistent(shuffled, Config{})
	require.NoError(t, err)
	ks := keys(2000)
	assert.Equal(t, owners(t, a, ks), owners(t, b, ks))
}

// Non-string nodes keep the per-picker seed; they still route a key
// consistently within one picker.
func TestConsistentNonStringNodes(t *testing.T) {
	type backend struct{ id int }
	c, err := NewConsistent([]backend{{1}, {2}, {3}}, Config{})
	require.NoError(t, err)
	first, err := c.PickKey("user:42")
	require.NoError(t, err)
	owner := first.Node
	first.Done(nil)
	for range 20 {
		l, err := c.PickKey("user:42")
		require.NoError(t, err)
		assert.Equal(t, owner, l.Node)
		l.Done(nil)
	}
}
