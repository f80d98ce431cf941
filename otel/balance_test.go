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
// rejection, and reads every per-node instrument; then Update replaces "a"
// by "d", which ramps up through its slow start.
func TestBalanceMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		meter, reader := newMeter(t)
		m, err := bulwarkotel.Balance(meter)
		require.NoError(t, err)
		p, err := balance.NewRoundRobin([]string{"a", "b", "c"},
			balance.Config{EjectAfter: 2, EjectFor: time.Minute, SlowStart: 10 * time.Second})
		require.NoError(t, err)
		named := map[string]int{} // nodeName calls by node
		reg, err := bulwarkotel.WatchPicker(m, "backends", p, func(n string) string { named[n]++; return n })
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
			assert.Equal(t, n.Picks, picks["name=backends,node="+n.Node], "picks of %s", n.Node)
		}
		assert.Equal(t, map[string]int64{"name=backends,node=a": 2, "name=backends,node=b": 3, "name=backends,node=c": 1}, picks,
			"a is ejected after its second failure, c skipped while unavailable")
		assert.Equal(t, "{pick}", c.unit("bulwark.balance.picks"))
		assert.Equal(t, map[string]int64{"name=backends,node=a": 2, "name=backends,node=b": 0, "name=backends,node=c": 0},
			c.values(t, "bulwark.balance.failures"))
		assert.Equal(t, map[string]int64{"name=backends,node=a": 0, "name=backends,node=b": 0, "name=backends,node=c": 1},
			c.values(t, "bulwark.balance.local_rejections"), "a local rejection is not a failure")
		assert.Equal(t, "{request}", c.unit("bulwark.balance.local_rejections"))
		assert.Equal(t, map[string]int64{"name=backends,node=a": 1, "name=backends,node=b": 0, "name=backends,node=c": 0},
			c.values(t, "bulwark.balance.ejections"))
		assert.Equal(t, map[string]int64{"name=backends,node=a": 1, "name=backends,node=b": 0, "name=backends,node=c": 0},
			c.values(t, "bulwark.balance.ejected"))
		assert.Equal(t, map[string]int64{"name=backends,node=a": 0, "name=backends,node=b": 0, "name=backends,node=c": 1},
			c.values(t, "bulwark.balance.unavailable"))
		assert.Equal(t, map[string]int64{"name=backends,node=a": 0, "name=backends,node=b": 0, "name=backends,node=c": 0},
			c.values(t, "bulwark.balance.warming"), "the constructor's nodes start at full share")
		assert.Equal(t, map[string]int64{"name=backends,node=a": 0, "name=backends,node=b": 1, "name=backends,node=c": 0},
			c.values(t, "bulwark.balance.in_flight"))
		assert.False(t, c.present(t, "bulwark.balance.latency"), "RoundRobin has no latency estimate")

		held.Done(nil)
		time.Sleep(time.Second) // c is available again
		c = collect(t, reader)
		assert.Equal(t, int64(0), c.values(t, "bulwark.balance.in_flight")["name=backends,node=b"])
		assert.Equal(t, int64(0), c.values(t, "bulwark.balance.unavailable")["name=backends,node=c"])
		assert.Equal(t, int64(1), c.values(t, "bulwark.balance.ejected")["name=backends,node=a"])

		require.NoError(t, p.Update([]string{"b", "c", "d"}))
		c = collect(t, reader)
		assert.Equal(t, map[string]int64{"name=backends,node=b": 3, "name=backends,node=c": 1, "name=backends,node=d": 0},
			c.values(t, "bulwark.balance.picks"), "a removed node leaves, the others keep their counters")
		assert.Equal(t, map[string]int64{"name=backends,node=b": 0, "name=backends,node=c": 0, "name=backends,node=d": 1},
			c.values(t, "bulwark.balance.warming"), "an added node ramps up")
		time.Sleep(10 * time.Second)
		c = collect(t, reader)
		assert.Equal(t, int64(0), c.values(t, "bulwark.balance.warming")["name=backends,node=d"], "the ramp is over")
		assert.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1, "d": 1}, named, "each node is named once, on its first collection")
	})
}

// TestBalanceLatency reads PeakEWMA's latency estimate, in seconds, after
// one request of 200 ms: the peak EWMA takes a sample above its estimate
// at once.
func TestBalanceLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		meter, reader := newMeter(t)
		m, err := bulwarkotel.Balance(meter)
		require.NoError(t, err)
		p, err := balance.NewPeakEWMA([]string{"a"}, balance.Config{})
		require.NoError(t, err)
		reg, err := bulwarkotel.WatchPicker(m, "backends", p, nil)
		require.NoError(t, err)
		defer func() { require.NoError(t, reg.Unregister()) }()
		assert.False(t, collect(t, reader).present(t, "bulwark.balance.latency"), "no sample, no estimate")

		permit, err := p.Pick()
		require.NoError(t, err)
		time.Sleep(200 * time.Millisecond)
		permit.Done(nil)
		c := collect(t, reader)
		assert.Equal(t, "s", c.unit("bulwark.balance.latency"))
		got := floatGauge(t, c, "bulwark.balance.latency")
		assert.Equal(t, p.Stats().Nodes[0].Latency.Seconds(), got["name=backends,node=a"], "from Stats")
		assert.InDelta(t, 0.2, got["name=backends,node=a"], 1e-9)
		assert.Len(t, got, 1)
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
