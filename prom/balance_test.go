package bulwarkprom_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	bulwarkprom "github.com/bulwark-go/bulwark/prom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBalanceMetrics sends six requests round robin over three nodes: "a"
// fails until it is ejected (after two failures), "c" answers its first
// with a local rejection (and is skipped for UnavailableFor), and the first
// request to "b" stays in flight. Then Update replaces "a" by "d", which
// ramps up through its slow start.
func TestBalanceMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := bulwarkprom.Balance()
		require.NoError(t, prometheus.NewPedanticRegistry().Register(m))
		p, err := balance.NewRoundRobin([]string{"a", "b", "c"},
			balance.Config{EjectAfter: 2, EjectFor: time.Minute, SlowStart: 10 * time.Second})
		require.NoError(t, err)
		defer bulwarkprom.WatchPicker(m, "backends", p, nil)()

		var held balance.Permit[string]
		var order []string
		rejected := false
		for range 6 {
			permit, err := p.Pick()
			require.NoError(t, err)
			order = append(order, permit.Node)
			switch {
			case permit.Node == "a":
				permit.Done(errDown)
			case permit.Node == "c" && !rejected:
				rejected = true
				permit.Done(fmt.Errorf("guard: %w", breaker.ErrOpen))
			case permit.Node == "b" && held == (balance.Permit[string]{}):
				held = permit
			default:
				permit.Done(nil)
			}
		}
		require.Equal(t, []string{"a", "b", "c", "a", "b", "b"}, order)

		compare(t, m, golden(t, "balance.txt"))
		held.Done(nil)

		require.NoError(t, p.Update([]string{"b", "c", "d"}))
		const picks = `
# HELP bulwark_balance_picks_total Permits a picker handed out for a node.
# TYPE bulwark_balance_picks_total counter
bulwark_balance_picks_total{name="backends",node="b"} 3
bulwark_balance_picks_total{name="backends",node="c"} 1
bulwark_balance_picks_total{name="backends",node="d"} 0
`
		compare(t, m, picks+`
# HELP bulwark_balance_warming 1 while the node is in its slow-start ramp, else 0.
# TYPE bulwark_balance_warming gauge
bulwark_balance_warming{name="backends",node="b"} 0
bulwark_balance_warming{name="backends",node="c"} 0
bulwark_balance_warming{name="backends",node="d"} 1
`)
		time.Sleep(10 * time.Second) // the ramp is over
		compare(t, m, picks+`
# HELP bulwark_balance_warming 1 while the node is in its slow-start ramp, else 0.
# TYPE bulwark_balance_warming gauge
bulwark_balance_warming{name="backends",node="b"} 0
bulwark_balance_warming{name="backends",node="c"} 0
bulwark_balance_warming{name="backends",node="d"} 0
`)
	})
}

// TestBalanceLatency reads PeakEWMA's latency estimate, in seconds, after
// one request of 200 ms: the peak EWMA takes a sample above its estimate
// at once. Before any sample there is no estimate and no series.
func TestBalanceLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := bulwarkprom.Balance()
		p, err := balance.NewPeakEWMA([]string{"a"}, balance.Config{})
		require.NoError(t, err)
		defer bulwarkprom.WatchPicker(m, "backends", p, nil)()
		assert.Zero(t, testutil.CollectAndCount(m, "bulwark_balance_latency_seconds"))
		permit, err := p.Pick()
		require.NoError(t, err)
		time.Sleep(200 * time.Millisecond)
		permit.Done(nil)
		compare(t, m, `
# HELP bulwark_balance_latency_seconds PeakEWMA's latency estimate of the node.
# TYPE bulwark_balance_latency_seconds gauge
bulwark_balance_latency_seconds{name="backends",node="a"} 0.2
`)
	})
}

// TestBalanceRejections counts the Picks that found no usable node: three
// on a picker whose node set was emptied by Update, two on a picker whose
// every node a guard below holds unavailable, none once a hold has ended,
// and none on a picker whose every node is ejected (it falls back to an
// ejected node rather than fail; its ejection event creates its counter at
// zero). The held picker is watched too, so the golden exposition shows
// its nodes after the holds ended.
func TestBalanceRejections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := bulwarkprom.Balance()

		empty, err := balance.NewRoundRobin([]string{"a"}, balance.Config{Name: "empty", Observer: m.Observe})
		require.NoError(t, err)
		require.NoError(t, empty.Update(nil))
		for range 3 {
			_, err := empty.Pick()
			require.ErrorIs(t, err, balance.ErrNoNodes)
		}

		held, err := balance.NewRoundRobin([]string{"a", "b"}, balance.Config{Name: "held", UnavailableFor: time.Second, Observer: m.Observe})
		require.NoError(t, err)
		defer bulwarkprom.WatchPicker(m, "held", held, nil)()
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

		ejected, err := balance.NewRoundRobin([]string{"a"}, balance.Config{Name: "ejected", EjectAfter: 1, EjectFor: time.Minute,
			MaxEjectedPercent: 100, Observer: m.Observe})
		require.NoError(t, err)
		for range 3 {
			permit, err := ejected.Pick()
			require.NoError(t, err, "an ejected node is picked rather than none")
			permit.Done(errDown)
		}
		require.Equal(t, int64(1), ejected.Stats().Nodes[0].Ejections)

		compareGolden(t, m, "balance_rejections.txt")
	})
}

// TestBalanceObserveKinds checks that Observe counts EventNoNodes only:
// the other kinds a picker reports create the name's counter at zero, and
// kinds this package does not know leave no series.
func TestBalanceObserveKinds(t *testing.T) {
	m := bulwarkprom.Balance()
	for _, k := range []balance.EventKind{0, 200} {
		m.Observe(balance.Event{Kind: k, Name: "p", Node: "a"})
	}
	assert.Zero(t, testutil.CollectAndCount(m, "bulwark_balance_rejections_total"), "unknown kinds, no series")
	for _, k := range []balance.EventKind{balance.EventEjected, balance.EventReturned, balance.EventUnavailable} {
		m.Observe(balance.Event{Kind: k, Name: "p", Node: "a"})
	}
	compare(t, m, `
# HELP bulwark_balance_rejections_total Picks that found no usable node, by reason.
# TYPE bulwark_balance_rejections_total counter
bulwark_balance_rejections_total{name="p",reason="no_nodes"} 0
`)
	m.Observe(balance.Event{Kind: balance.EventNoNodes, Name: "p", Err: balance.ErrNoNodes})
	compare(t, m, `
# HELP bulwark_balance_rejections_total Picks that found no usable node, by reason.
# TYPE bulwark_balance_rejections_total counter
bulwark_balance_rejections_total{name="p",reason="no_nodes"} 1
`)
}
