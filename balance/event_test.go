package balance

import (
	"iter"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder collects events; its methods are safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) observe(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// take returns the events seen since the last take.
func (r *recorder) take() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// doneOn picks node and finishes its Permit with err.
func doneOn(t *testing.T, p Picker[string], node string, err error) {
	t.Helper()
	l := pickNode(t, p, node)
	l.Done(err)
}

// failNode fails node n times in a row, finishing other picks with nil.
func failNode(t *testing.T, p Picker[string], node string, n int) {
	t.Helper()
	for range n {
		doneOn(t, p, node, errBoom)
	}
}

func TestEventsScripted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		p, err := NewRoundRobin([]string{"a", "b", "c", "d"}, Config{
			Name: "rr", Observer: rec.observe,
			EjectAfter: 3, EjectFor: 10 * time.Second, MaxEjectFor: 25 * time.Second,
		})
		require.NoError(t, err)

		start := time.Now()
		failNode(t, p, "a", 3)
		ev := rec.take()
		require.Len(t, ev, 1)
		assert.Equal(t, EventEjected, ev[0].Kind)
		assert.Equal(t, "rr", ev[0].Name)
		assert.Equal(t, "a", ev[0].Node)
		assert.Equal(t, int64(3), ev[0].Failures)
		assert.Equal(t, int64(1), ev[0].Ejections)
		assert.True(t, ev[0].Until.Equal(start.Add(10*time.Second)), "Until %v", ev[0].Until.Sub(start))
		assert.Equal(t, "balance", ev[0].Component())
		assert.Equal(t, "rr", ev[0].Source())
		assert.Equal(t, "ejected", ev[0].Type())

		pickN(t, p, 20)
		assert.Empty(t, rec.take(), "no events while a stays ejected")

		time.Sleep(10 * time.Second)
		pickN(t, p, 20)
		ev = rec.take()
		require.Len(t, ev, 1, "exactly one return")
		assert.Equal(t, Event{Kind: EventReturned, Name: "rr", Node: "a"}, ev[0])

		now := time.Now()
		failNode(t, p, "a", 3)
		ev = rec.take()
		require.Len(t, ev, 1)
		assert.Equal(t, EventEjected, ev[0].Kind)
		assert.Equal(t, int64(2), ev[0].Ejections)
		assert.True(t, ev[0].Until.Equal(now.Add(20*time.Second)), "Until %v", ev[0].Until.Sub(now))
		time.Sleep(20 * time.Second)
		pickN(t, p, 20)
		ev = rec.take()
		require.Len(t, ev, 1)
		assert.Equal(t, EventReturned, ev[0].Kind)

		// A local rejection: one EventUnavailable, then refusals that
		// extend the hold report nothing.
		now = time.Now()
		b1, b2, b3 := pickNode(t, p, "b"), pickNode(t, p, "b"), pickNode(t, p, "b")
		rej := &guardError{name: "b", until: now.Add(5 * time.Second)}
		b1.Done(rej)
		ev = rec.take()
		require.Len(t, ev, 1)
		assert.Equal(t, EventUnavailable, ev[0].Kind)
		assert.Equal(t, "b", ev[0].Node)
		assert.True(t, ev[0].Until.Equal(now.Add(5*time.Second)))
		assert.Equal(t, error(rej), ev[0].Err)
		b2.Done(&guardError{name: "b", until: now.Add(7 * time.Second)})
		b3.Done(rej)
		assert.Empty(t, rec.take(), "a refusal extending the hold is no change")
		assert.Equal(t, int64(3), p.Stats().Nodes[1].Rejections)

		// Every node unavailable: EventNoNodes with the earliest Until.
		for i, n := range []string{"a", "c", "d"} {
			doneOn(t, p, n, &guardError{name: n, until: now.Add(time.Duration(i+2) * time.Second)})
		}
		ev = rec.take()
		require.Len(t, ev, 3)
		for i, n := range []string{"a", "c", "d"} {
			assert.Equal(t, EventUnavailable, ev[i].Kind)
			assert.Equal(t, n, ev[i].Node)
		}
		_, err = p.Pick()
		require.Error(t, err)
		ev = rec.take()
		require.Len(t, ev, 1)
		assert.Equal(t, EventNoNodes, ev[0].Kind)
		assert.Nil(t, ev[0].Node)
		assert.Equal(t, err, ev[0].Err)
		assert.True(t, ev[0].Until.Equal(now.Add(2*time.Second)), "Until %v", ev[0].Until.Sub(now))

		// After the holds end, a becomes available again (no event), and
		// a later rejection reports again.
		time.Sleep(3 * time.Second)
		doneOn(t, p, "a", &guardError{name: "a", until: time.Now().Add(time.Second)})
		ev = rec.take()
		require.Len(t, ev, 1)
		assert.Equal(t, EventUnavailable, ev[0].Kind)
		assert.Equal(t, "a", ev[0].Node)

		// An empty set.
		require.NoError(t, p.Update(nil))
		_, err = p.Pick()
		require.ErrorIs(t, err, ErrNoNodes)
		ev = rec.take()
		require.Len(t, ev, 1)
		assert.Equal(t, Event{Kind: EventNoNodes, Name: "rr", Err: ErrNoNodes}, ev[0])
		assert.Zero(t, p.Stats().ObserverPanics)
	})
}

func TestEventMarkUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		p, err := NewP2C([]string{"a", "b"}, Config{Observer: rec.observe})
		require.NoError(t, err)
		until := time.Now().Add(time.Second)
		require.True(t, p.MarkUnavailable("a", until, nil))
		require.True(t, p.MarkUnavailable("a", until.Add(time.Second), nil))
		ev := rec.take()
		require.Len(t, ev, 1)
		assert.Equal(t, EventUnavailable, ev[0].Kind)
		assert.True(t, ev[0].Until.Equal(until))
		assert.ErrorIs(t, ev[0].Err, errMarked)
	})
}

// drive feeds a picker a deterministic script and returns the nodes picked.
func drive(t *testing.T, p *P2C[string]) []string {
	var out []string
	for i := range 400 {
		l, err := p.Pick()
		if err != nil {
			out = append(out, "error")
			time.Sleep(time.Second)
			continue
		}
		out = append(out, l.Node)
		switch {
		case l.Node == "a":
			l.Done(errBoom)
		case l.Node == "b" && i%50 == 0:
			l.Done(&guardError{name: "b", until: time.Now().Add(2 * time.Second)})
		default:
			l.Done(nil)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return out
}

func TestEventObserverPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{EjectAfter: 2, EjectFor: time.Second}
		mk := func(obs func(Event)) *P2C[string] {
			c := cfg
			c.Observer = obs
			p, err := NewP2C([]string{"a", "b", "c"}, c)
			require.NoError(t, err)
			seed(p.cfg, 7)
			return p
		}
		var rec recorder
		plain, panicky, counted := mk(nil), mk(func(Event) { panic("observer") }), mk(rec.observe)
		want := drive(t, plain)
		assert.Equal(t, want, drive(t, panicky), "a panicking observer changed the picks")
		assert.Equal(t, want, drive(t, counted), "an observer changed the picks")
		n := int64(len(rec.take()))
		require.Positive(t, n)
		assert.Equal(t, n, panicky.Stats().ObserverPanics)
		assert.Zero(t, counted.Stats().ObserverPanics)
		assert.Zero(t, plain.Stats().ObserverPanics)
		assert.Equal(t, plain.Stats().Nodes, panicky.Stats().Nodes)
	})
}

func TestEventObserverCallsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var p *RoundRobin[string]
		var kinds []EventKind
		obs := func(e Event) {
			kinds = append(kinds, e.Kind)
			_ = p.Stats()
			for range p.AllStats() {
			}
			if e.Kind != EventNoNodes { // a failing Pick would report again, on this goroutine
				if l, err := p.Pick(); err == nil {
					l.Done(nil)
				}
			}
			require.NoError(t, p.Update([]string{"a", "b", "c"}))
		}
		var err error
		p, err = NewRoundRobin([]string{"a", "b", "c"}, Config{Observer: obs, EjectAfter: 1, EjectFor: time.Second})
		require.NoError(t, err)
		failNode(t, p, "a", 1)
		time.Sleep(time.Second)
		pickN(t, p, 6)
		for _, n := range []string{"a", "b", "c"} {
			doneOn(t, p, n, &guardError{name: n, until: time.Now().Add(time.Second)})
		}
		_, err = p.Pick()
		require.Error(t, err)
		// The observer's own Pick on the third EventUnavailable finds no
		// node, then the test's.
		assert.Equal(t, []EventKind{EventEjected, EventReturned, EventUnavailable, EventUnavailable, EventUnavailable, EventNoNodes, EventNoNodes}, kinds)
	})
}

func TestEventConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var counts [EventNoNodes + 1]atomic.Int64
		var mu sync.Mutex
		lastKind := map[any]EventKind{} // a node's ejections and returns alternate
		var order atomic.Int64
		nodes := []string{"a", "b", "c", "d", "e", "f"}
		p, err := NewP2C(nodes, Config{
			EjectAfter: 2, EjectFor: 50 * time.Millisecond, MaxEjectFor: 200 * time.Millisecond,
			Observer: func(e Event) {
				counts[e.Kind].Add(1)
				if e.Kind == EventEjected || e.Kind == EventReturned {
					mu.Lock()
					if lastKind[e.Node] == e.Kind {
						order.Add(1)
					}
					lastKind[e.Node] = e.Kind
					mu.Unlock()
				}
			},
		})
		require.NoError(t, err)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 1))
				for i := range 1000 {
					l, err := p.Pick()
					if err != nil {
						time.Sleep(time.Millisecond)
						continue
					}
					switch r := rng.IntN(10); {
					case r < 3:
						l.Done(errBoom)
					case r == 3:
						l.Done(&guardError{name: l.Node, until: time.Now().Add(time.Millisecond)})
					default:
						l.Done(nil)
					}
					if i%10 == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			})
		}
		wg.Go(func() {
			for i := range 50 {
				order := append([]string(nil), nodes...)
				order[0], order[i%len(order)] = order[i%len(order)], order[0]
				require.NoError(t, p.Update(order))
				time.Sleep(5 * time.Millisecond)
			}
		})
		wg.Wait()
		// Let every ejection end, and pick so that each is seen to end.
		time.Sleep(time.Second)
		for range 1000 {
			l, err := p.Pick()
			require.NoError(t, err)
			l.Done(nil)
		}
		var ejections, rejections int64
		for _, ns := range p.Stats().Nodes {
			ejections += ns.Ejections
			rejections += ns.Rejections
			assert.False(t, ns.Ejected)
		}
		require.Positive(t, ejections)
		assert.Equal(t, ejections, counts[EventEjected].Load())
		assert.Equal(t, ejections, counts[EventReturned].Load())
		assert.Positive(t, counts[EventUnavailable].Load())
		assert.LessOrEqual(t, counts[EventUnavailable].Load(), rejections)
		assert.Zero(t, order.Load(), "a node's ejection and return out of order")
	})
}

func TestEventsEveryPicker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		ps := allPickersWith(t, []string{"a", "b", "c", "d"}, Config{Observer: rec.observe, EjectAfter: 2, EjectFor: time.Second})
		for _, name := range pickerNames {
			p := ps[name]
			failNode(t, p, "a", 2)
			time.Sleep(time.Second)
			doneOn(t, p, "a", nil)
			doneOn(t, p, "b", &guardError{name: "b", until: time.Now().Add(time.Second)})
			var kinds []EventKind
			for _, e := range rec.take() {
				kinds = append(kinds, e.Kind)
			}
			assert.Equal(t, []EventKind{EventEjected, EventReturned, EventUnavailable}, kinds, name)
		}
	})
}

type allStatser interface {
	AllStats() iter.Seq2[string, NodeStats[string]]
}

// Under synctest, so that the clock stands still between Stats and
// AllStats: EjectedFor is read from it by each.
func TestAllStats(t *testing.T) {
	for _, name := range pickerNames {
		t.Run(name, func(t *testing.T) { synctest.Test(t, func(t *testing.T) { testAllStats(t, name) }) })
	}
}

func testAllStats(t *testing.T, name string) {
	p := allPickers(t, []string{"a", "b", "c", "d"})[name]
	for i := range 20 {
		l := mustPick(t, p)
		if i%3 == 0 {
			l.Done(errBoom)
		} else if i%5 != 0 {
			l.Done(nil)
		}
	}
	all := p.Picker.(allStatser)
	want := p.Stats().Nodes
	var got []NodeStats[string]
	for n, ns := range all.AllStats() {
		assert.Equal(t, n, ns.Node)
		got = append(got, ns)
	}
	assert.Equal(t, want, got)
	var seen []string
	for n := range all.AllStats() {
		seen = append(seen, n)
		if len(seen) == 2 {
			break
		}
	}
	assert.Equal(t, []string{"a", "b"}, seen)
}
