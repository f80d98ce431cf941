package balance

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// guardError stands for a local rejection by a guard below the picker, as
// an open breaker's: it matches bulwark.ErrNotAttempted and, when until is
// set, says when the guard admits again.
type guardError struct {
	name  string
	until time.Time
}

func (e *guardError) Error() string        { return e.name + ": open" }
func (e *guardError) Is(target error) bool { return target == bulwark.ErrNotAttempted }
func (e *guardError) RetryAt() time.Time   { return e.until }

// pickNode picks until it gets node (finishing the others with nil), and
// returns that Permit. It fails the test after many picks.
func pickNode(t *testing.T, p Picker[string], node string) Permit[string] {
	t.Helper()
	for range 10_000 {
		l := mustPick(t, p)
		if l.Node == node {
			return l
		}
		l.Done(nil)
	}
	t.Fatalf("node %s never picked", node)
	return Permit[string]{}
}

// countPicks picks n times, finishing each at once, and counts the nodes.
func countPicks(t *testing.T, p Picker[string], n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for range n {
		l := mustPick(t, p)
		out[l.Node]++
		l.Done(nil)
	}
	return out
}

// A node whose guard is open gets no picks until the guard's deadline, from
// every picker type, even though the ejection cap is already used up by
// another node; it is picked again afterwards. The rejection is not a
// failure.
func TestUnavailableUntilRetryAt(t *testing.T) {
	for _, name := range pickerNames {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nodes := []string{"a", "b", "c", "d", "e"}
				// The cap allows one ejection of five nodes.
				p := allPickersWith(t, nodes, Config{EjectAfter: 1, MaxEjectedPercent: 20, EjectFor: time.Hour})[name]
				seed(p.cfg, 3)
				l := pickNode(t, p, "e")
				l.Done(errBoom)
				l = pickNode(t, p, "d")
				l.Done(errBoom) // over the cap: d stays in
				st := p.Stats()
				require.Equal(t, 1, st.Ejected, "cap reached")
				require.True(t, st.Nodes[4].Ejected)

				deadline := time.Now().Add(2 * time.Second)
				l = pickNode(t, p, "a")
				l.Done(&guardError{name: "a", until: deadline})
				st = p.Stats()
				assert.True(t, st.Nodes[0].Unavailable)
				assert.Equal(t, 2*time.Second, st.Nodes[0].UnavailableFor)
				assert.Equal(t, 1, st.Unavailable)
				assert.Equal(t, 1, st.Ejected, "a local rejection is not an ejection")
				assert.Zero(t, st.Nodes[0].Failures, "a local rejection is not a failure")
				assert.Equal(t, int64(1), st.Nodes[0].Rejections)

				time.Sleep(2*time.Second - time.Millisecond)
				got := countPicks(t, p, 400)
				assert.Zero(t, got["a"], "picks of an unavailable node: %v", got)
				assert.Zero(t, got["e"], "picks of an ejected node: %v", got)

				time.Sleep(time.Millisecond)
				got = countPicks(t, p, 400)
				assert.Positive(t, got["a"], "a back at its deadline: %v", got)
				assert.False(t, p.Stats().Nodes[0].Unavailable)
				assert.Zero(t, p.Stats().Unavailable)
			})
		})
	}
}

// A rejection that names no moment holds the node for UnavailableFor.
func TestUnavailableForDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want time.Duration
	}{
		{"default", Config{}, 100 * time.Millisecond},
		{"configured", Config{UnavailableFor: time.Second}, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, err := NewRoundRobin([]string{"a", "b"}, tc.cfg)
				require.NoError(t, err)
				l := mustPick(t, p)
				require.Equal(t, "a", l.Node)
				l.Done(fmt.Errorf("bulkhead: full: %w", bulwark.ErrNotAttempted))
				assert.Equal(t, tc.want, p.Stats().Nodes[0].UnavailableFor)
				time.Sleep(tc.want - time.Nanosecond)
				assert.NotContains(t, pickN(t, p, 10), "a")
				time.Sleep(time.Nanosecond)
				assert.Contains(t, pickN(t, p, 10), "a")
			})
		})
	}
}

// A stale report (a request that was in flight when the guard opened) must
// not shorten a later hold; a RetryAt in the past holds nothing.
func TestUnavailableOnlyExtends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewRoundRobin([]string{"a", "b"}, Config{})
		require.NoError(t, err)
		first, second := pickNode(t, p, "a"), pickNode(t, p, "a")
		first.Done(&guardError{name: "a", until: time.Now().Add(2 * time.Second)})
		second.Done(&guardError{name: "a", until: time.Now().Add(time.Second)})
		assert.Equal(t, 2*time.Second, p.Stats().Nodes[0].UnavailableFor)

		q, err := NewP2C([]string{"a", "b"}, Config{})
		require.NoError(t, err)
		l := pickNode(t, q, "a")
		l.Done(&guardError{name: "a", until: time.Now().Add(-time.Second)})
		assert.False(t, q.Stats().Nodes[0].Unavailable)
		assert.Equal(t, int64(1), q.Stats().Nodes[0].Rejections)
	})
}

// When every node is unavailable, Pick returns at once one error that
// matches ErrNoNodes and bulwark.ErrNotAttempted, names the reasons and the
// earliest return, and hands out nothing.
func TestAllUnavailable(t *testing.T) {
	for _, name := range pickerNames {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := allPickersWith(t, []string{"a", "b", "c"}, Config{})[name]
				seed(p.cfg, 5)
				start := time.Now()
				for node, d := range map[string]time.Duration{"a": 3 * time.Second, "b": time.Second, "c": 2 * time.Second} {
					l := pickNode(t, p, node)
					l.Done(&guardError{name: node, until: start.Add(d)})
				}
				picks := func() (n int64) {
					for _, st := range p.Stats().Nodes {
						n += st.Picks
					}
					return n
				}
				before := picks()
				_, err := p.Pick()
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrNoNodes)
				assert.ErrorIs(t, err, bulwark.ErrNotAttempted)
				var ue *UnavailableError
				require.ErrorAs(t, err, &ue)
				assert.Equal(t, 3, ue.Nodes)
				at, ok := bulwark.RetryAt(err)
				require.True(t, ok)
				assert.True(t, at.Equal(start.Add(time.Second)), "earliest return %v, want %v", at, start.Add(time.Second))
				for _, n := range []string{"a: open", "b: open", "c: open", "in 1s"} {
					assert.Contains(t, err.Error(), n)
				}
				var g *guardError
				assert.ErrorAs(t, err, &g, "the reasons unwrap")
				assert.Equal(t, before, picks(), "nothing handed out")

				time.Sleep(time.Second)
				assert.Equal(t, "b", mustPick(t, p).Node, "the first back")
			})
		})
	}
}

// Panic mode picks ejected nodes but never an unavailable one, and
// unavailable nodes do not count towards the panic threshold.
func TestPanicNeverPicksUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewRoundRobin([]string{"a", "b", "c", "d"}, Config{EjectAfter: 1, MaxEjectedPercent: 100, PanicPercent: 60, EjectFor: time.Hour})
		require.NoError(t, err)
		l := pickNode(t, p, "a")
		l.Done(&guardError{name: "a", until: time.Now().Add(time.Minute)})
		l = pickNode(t, p, "b")
		l.Done(errBoom)
		assert.False(t, p.Stats().Panic, "75% not ejected: no panic, whatever a's availability")
		l = pickNode(t, p, "c")
		l.Done(errBoom)
		st := p.Stats()
		require.True(t, st.Panic)
		got := countPicks(t, p, 100)
		assert.Zero(t, got["a"], "panic picked an unavailable node: %v", got)
		assert.Positive(t, got["b"], "panic picks ejected nodes: %v", got)
		assert.Positive(t, got["c"], "panic picks ejected nodes: %v", got)
	})
}

// When every available node is ejected the picker falls back to one of
// them, never to an unavailable node.
func TestFallbackSkipsUnavailable(t *testing.T) {
	for _, name := range pickerNames {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := allPickersWith(t, []string{"a", "b", "c"}, Config{EjectAfter: 1, MaxEjectedPercent: 100, EjectFor: time.Hour})[name]
				seed(p.cfg, 9)
				l := pickNode(t, p, "a")
				l.Done(&guardError{name: "a", until: time.Now().Add(time.Minute)})
				for _, n := range []string{"b", "c"} {
					l := pickNode(t, p, n)
					l.Done(errBoom)
				}
				require.Equal(t, 2, p.Stats().Ejected)
				got := countPicks(t, p, 50)
				assert.Zero(t, got["a"], "%v", got)
				assert.Equal(t, 50, got["b"]+got["c"])
			})
		})
	}
}

func TestMarkUnavailable(t *testing.T) {
	for _, name := range pickerNames {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := allPickersWith(t, []string{"a", "b", "c"}, Config{})[name]
				seed(p.cfg, 1)
				assert.False(t, p.mark("x", time.Now().Add(time.Second), nil), "unknown node")
				draining := errors.New("b draining")
				require.True(t, p.mark("b", time.Now().Add(time.Hour), draining))
				assert.True(t, p.Stats().Nodes[1].Unavailable)
				got := countPicks(t, p, 200)
				assert.Zero(t, got["b"], "%v", got)
				require.True(t, p.mark("b", time.Time{}, nil), "zero until: available again")
				got = countPicks(t, p, 400)
				assert.Positive(t, got["b"], "%v", got)

				p.mark("a", time.Now().Add(time.Minute), nil)
				p.mark("b", time.Now().Add(time.Minute), draining)
				p.mark("c", time.Now().Add(time.Minute), draining)
				_, err := p.Pick()
				assert.ErrorIs(t, err, draining)
				assert.Contains(t, err.Error(), "b draining")
				assert.Contains(t, err.Error(), "balance: marked unavailable", "nil reason")
				require.True(t, p.mark("c", time.Now().Add(-time.Second), nil), "past until: available again")
				assert.Equal(t, "c", mustPick(t, p).Node)
			})
		})
	}
}

// Update keeps a surviving node's hold and recounts the snapshot.
func TestUnavailableSurvivesUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewRoundRobin([]string{"a", "b"}, Config{})
		require.NoError(t, err)
		l := pickNode(t, p, "a")
		l.Done(&guardError{name: "a", until: time.Now().Add(time.Second)})
		require.NoError(t, p.Update([]string{"c", "a"}))
		st := p.Stats()
		assert.True(t, st.Nodes[1].Unavailable)
		assert.Equal(t, 1, st.Unavailable)
		assert.Equal(t, int64(1), p.snap.Load().counts.unavailable.Load())
		assert.Equal(t, []string{"c", "c", "c"}, pickN(t, p, 3))
	})
}

// A caller that gave up while a guard refused is not the node's doing:
// context.Canceled wins over the rejection.
func TestCanceledRejectionHoldsNothing(t *testing.T) {
	p, err := NewRoundRobin([]string{"a"}, Config{})
	require.NoError(t, err)
	l := mustPick(t, p)
	l.Done(errors.Join(errCanceled(), &guardError{name: "a", until: time.Now().Add(time.Minute)}))
	assert.False(t, p.Stats().Nodes[0].Unavailable)
}

// Unavailability off the fast path still allocates nothing in Pick+Done.
func TestZeroAllocsWithUnavailableNode(t *testing.T) {
	for _, name := range pickerNames {
		p := allPickersWith(t, hosts(10), Config{})[name]
		require.True(t, p.mark(hosts(10)[3], time.Now().Add(time.Hour), nil))
		allocs := testing.AllocsPerRun(200, func() {
			l, _ := p.Pick()
			l.Done(nil)
		})
		assert.Zerof(t, allocs, "%s Pick+Done", name)
	}
}

// With three of five nodes unavailable, a two-choice picker still compares
// the two usable ones: the loaded one gets no picks. Taking the usable node
// of a pair whose other node is unusable, without comparing, would give it
// about three picks in seven.
func TestTwoChoicesAmongUsableOnly(t *testing.T) {
	for _, name := range []string{"P2C", "PeakEWMA"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := allPickersWith(t, []string{"busy", "d1", "d2", "d3", "idle"}, Config{})[name]
				seed(p.cfg, 3)
				for _, n := range []string{"d1", "d2", "d3"} {
					require.True(t, p.mark(n, time.Now().Add(time.Hour), nil))
				}
				// busy has a request out (P2C) or a slow sample (PeakEWMA).
				busy := pickNode(t, p, "busy")
				time.Sleep(50 * time.Millisecond)
				if name == "P2C" {
					defer busy.Done(nil)
				} else {
					busy.Done(nil)
					idle := pickNode(t, p, "idle")
					time.Sleep(time.Millisecond)
					idle.Done(nil)
				}

				got := countPicks(t, p, 500)
				assert.Equal(t, map[string]int{"idle": 500}, got)
			})
		})
	}
}

// A hold of UnavailableFor (the guard named no moment) ends at the node's
// next success, as when a half-open breaker's probe, in flight while
// another request was refused, comes back fine; a hold whose guard named
// its end does not.
func TestSuccessEndsAGuessedHold(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(map[bool]string{false: "guessed", true: "named"}[named], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, err := NewRoundRobin([]string{"a", "b"}, Config{UnavailableFor: time.Second})
				require.NoError(t, err)
				probe := pickNode(t, p, "a")
				refused := pickNode(t, p, "a")
				if named {
					refused.Done(&guardError{name: "a", until: time.Now().Add(time.Second)})
				} else {
					refused.Done(&guardError{name: "a"}) // half-open: no moment named
				}
				require.True(t, p.Stats().Nodes[0].Unavailable)
				probe.Done(nil)
				assert.Equal(t, named, p.Stats().Nodes[0].Unavailable)
				assert.Equal(t, !named, countPicks(t, p, 10)["a"] > 0)
				assert.Equal(t, map[bool]int{false: 0, true: 1}[named], p.Stats().Unavailable, "the count follows")
			})
		})
	}
}
