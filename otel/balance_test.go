package bulwarkotel_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	bulwarkotel "github.com/bulwark-go/bulwark/otel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBalanceMetrics sends six requests round robin over three nodes, of
// which "a" fails until it is ejected and "c" answers once with a local
// rejection, and reads the per-node instruments.
func TestBalanceMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		meter, reader := newMeter(t)
		m, err := bulwarkotel.Balance(meter)
		require.NoError(t, err)
		p, err := balance.NewRoundRobin([]string{"a", "b", "c"}, balance.Config{EjectAfter: 2, EjectFor: time.Minute})
		require.NoError(t, err)
		reg, err := bulwarkotel.WatchPicker(m, "backends", p, nil)
		require.NoError(t, err)
		defer func() { require.NoError(t, reg.Unregister()) }()

		var held balance.Permit[string]
		rejected := false
		for range 6 {
			permit, err := p.Pick()
			require.NoError(t, err)
			switch {
			case permit.Node == "a":
				permit.Done(errDown)
			case permit.Node == "c" && !rejected:
				rejected = true
				permit.Done(fmt.Errorf("guard: %w", breaker.ErrOpen)) // unavailable for UnavailableFor
			case permit.Node == "b" && held == (balance.Permit[string]{}):
				held = permit // stays in flight
			default:
				permit.Done(nil)
			}
		}

		c := collect(t, reader)
		picks := c.values(t, "bulwark.balance.picks")
		st := p.Stats()
		for _, n := range st.Nodes {
			assert.Equal(t, int64(n.Picks), picks["name=backends,node="+n.Node], "picks of %s", n.Node)
		}
		var total int64
		for _, v := range picks {
			total += v
		}
		assert.Equal(t, int64(6), total)
		assert.Equal(t, int64(2), picks["name=backends,node=a"]) // a is ejected after its second failure
		assert.Equal(t, map[string]int64{"name=backends,node=a": 2, "name=backends,node=b": 0, "name=backends,node=c": 0},
			c.values(t, "bulwark.balance.failures"))
		assert.Equal(t, map[string]int64{"name=backends,node=a": 1, "name=backends,node=b": 0, "name=backends,node=c": 0},
			c.values(t, "bulwark.balance.ejections"))
		assert.Equal(t, map[string]int64{"name=backends,node=a": 1, "name=backends,node=b": 0, "name=backends,node=c": 0},
			c.values(t, "bulwark.balance.ejected"))
		assert.Equal(t, map[string]int64{"name=backends,node=a": 0, "name=backends,node=b": 0, "name=backends,node=c": 1},
			c.values(t, "bulwark.balance.unavailable"))
		assert.Equal(t, map[string]int64{"name=backends,node=a": 0, "name=backends,node=b": 1, "name=backends,node=c": 0},
			c.values(t, "bulwark.balance.in_flight"))

		held.Done(nil)
		time.Sleep(time.Second) // c is available again
		c = collect(t, reader)
		assert.Equal(t, int64(0), c.values(t, "bulwark.balance.in_flight")["name=backends,node=b"])
		assert.Equal(t, int64(0), c.values(t, "bulwark.balance.unavailable")["name=backends,node=c"])
		assert.Equal(t, int64(1), c.values(t, "bulwark.balance.ejected")["name=backends,node=a"])
	})
}

// TestBalanceRejections counts the Picks that found no usable node: three
// on a picker whose node set was emptied by Update, two on a picker whose
// every node a guard below holds unavailable, none once a hold has ended,
// and none on a picker whose every node is ejected (it falls back to an
// ejected node rather than fail).
func TestBalanceRejections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		meter, reader := newMeter(t)
		m, err := bulwarkotel.Balance(meter)
		require.NoError(t, err)

		empty, err := balance.NewRoundRobin([]string{"a"}, balance.Config{Name: "empty", Observer: m.Observe})
		require.NoError(t, err)
		require.NoError(t, empty.Update(nil))
		for range 3 {
			_, err := empty.Pick()
			require.ErrorIs(t, err, balance.ErrNoNodes)
		}

		held, err := balance.NewRoundRobin([]string{"a", "b"}, balance.Config{Name: "held", UnavailableFor: time.Second, Observer: m.Observe})
		require.NoError(t, err)
		for range 2 {
			permit, err := held.Pick()
			require.NoError(t, err)
			permit.Done(fmt.Errorf("guard: %w", breaker.ErrOpen))
		}
		for range 2 {
			_, err := held.Pick()
			var unavailable *balance.UnavailableError
			require.ErrorAs(t, err, &unavailable)
		}
		time.Sleep(time.Second) // the holds end
		permit, err := held.Pick()
		require.NoError(t, err)
		permit.Done(nil)

		c := collect(t, reader)
		assert.Equal(t, "{call}", c.unit("bulwark.balance.rejections"))
		assert.Equal(t, map[string]int64{"name=empty,reason=no_nodes": 3, "name=held,reason=no_nodes": 2},
			c.values(t, "bulwark.balance.rejections"))
	})
}

// TestBalanceObserveKinds checks that Observe counts EventNoNodes only.
func TestBalanceObserveKinds(t *testing.T) {
	meter, reader := newMeter(t)
	m, err := bulwarkotel.Balance(meter)
	require.NoError(t, err)
	for _, k := range []balance.EventKind{balance.EventEjected, balance.EventReturned, balance.EventUnavailable, 0, 200} {
		m.Observe(balance.Event{Kind: k, Name: "p", Node: "a"})
	}
	_, ok := collect(t, reader)["bulwark.balance.rejections"]
	assert.False(t, ok, "no refused Pick, no point")
	m.Observe(balance.Event{Kind: balance.EventNoNodes, Name: "p", Err: balance.ErrNoNodes})
	assert.Equal(t, map[string]int64{"name=p,reason=no_nodes": 1}, collect(t, reader).values(t, "bulwark.balance.rejections"))
}
