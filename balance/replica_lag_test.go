package balance_test

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/balance"
)

// writer writes on s every 10ms until stop is closed, and after each write
// lets every replica apply the writes that are older than its delay
// (replicas missing from delays apply nothing). It returns when stop is
// closed and done is closed.
func writer(s *replStore, delays map[string]time.Duration, stop <-chan struct{}) (done chan struct{}) {
	done = make(chan struct{})
	type sample struct {
		at  time.Time
		pos balance.Position
	}
	var hist []sample
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			now := time.Now()
			hist = append(hist, sample{now, s.write()})
			s.set(func(s *replStore) {
				for node, d := range delays {
					// the latest write at least d old
					i := sort.Search(len(hist), func(i int) bool { return hist[i].at.After(now.Add(-d)) })
					if i > 0 && hist[i-1].pos > s.applied[node] {
						s.applied[node] = hist[i-1].pos
					}
				}
			})
		}
	}()
	return done
}

func replicaState(r *balance.ReplicaRouter[string], node string) balance.MemberStats[string] {
	for _, m := range r.Stats().Replicas {
		if m.Node == node {
			return m
		}
	}
	panic("no replica " + node)
}

// A replica lagging beyond MaxLag is held out of the picker until it
// catches up.
func TestReplicaLagEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newReplStore("p", "a", "b", "c")
		rr, err := balance.NewRoundRobin([]string{"a", "b", "c"}, balance.Config{})
		require.NoError(t, err)
		r := newRouter(t, s.topology("a", "b", "c"), rr, balance.ReplicaConfig{MaxLag: time.Second})
		stop := make(chan struct{})
		delays := map[string]time.Duration{"a": 0, "b": 50 * time.Millisecond} // c applies nothing
		done := writer(s, delays, stop)
		defer func() { close(stop); <-done }()

		time.Sleep(900 * time.Millisecond)
		c := replicaState(r, "c")
		assert.False(t, c.Ejected, "lag %v is within MaxLag", c.Lag)
		// The estimate runs short by up to two rounds: the round that saw
		// the first write and the latest round.
		assert.GreaterOrEqual(t, c.Lag, 900*time.Millisecond-2*100*time.Millisecond)
		assert.LessOrEqual(t, c.Lag, 900*time.Millisecond)
		assert.Less(t, replicaState(r, "b").Lag, 200*time.Millisecond)

		time.Sleep(450 * time.Millisecond)
		c = replicaState(r, "c")
		assert.True(t, c.Ejected, "lag %v beyond MaxLag", c.Lag)
		assert.True(t, c.LagKnown)
		for range 30 {
			p, err := r.PickRead(t.Context(), balance.Token{})
			require.NoError(t, err)
			assert.NotEqual(t, "c", p.Node)
			assert.NotEqual(t, "p", p.Node)
			p.Done(nil)
		}
		var unavailable bool
		for _, n := range rr.Stats().Nodes {
			if n.Node == "c" {
				unavailable = n.Unavailable
			}
		}
		assert.True(t, unavailable, "held through the picker's availability")

		s.set(func(s *replStore) { delays["c"] = 0; s.applied["c"] = s.pos }) // the writer reads delays under s.mu
		time.Sleep(150 * time.Millisecond)
		assert.False(t, replicaState(r, "c").Ejected, "caught up: back")
		got := map[string]bool{}
		for range 30 {
			p, err := r.PickRead(t.Context(), balance.Token{})
			require.NoError(t, err)
			got[p.Node] = true
			p.Done(nil)
		}
		assert.True(t, got["c"])
	})
}

// With every replica lagging beyond MaxLag, the floor's share of them —
// the least lagging — keep taking the reads, and the primary takes none.
func TestReplicaFloorWhenEveryReplicaLags(t *testing.T) {
	cases := []struct {
		name string
		cfg  balance.ReplicaConfig
		want int
	}{
		{"default 50 percent", balance.ReplicaConfig{}, 5},
		{"30 percent", balance.ReplicaConfig{MinServingPercent: 30}, 3},
		{"25 percent rounds up", balance.ReplicaConfig{MinServingPercent: 25}, 3},
		{"count above percent", balance.ReplicaConfig{MinServingPercent: 10, MinServing: 7}, 7},
		{"100 percent never ejects", balance.ReplicaConfig{MinServingPercent: 100}, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nodes := names("r", 10)
				s := newReplStore("p", nodes...)
				picker, err := balance.NewP2C(nodes, balance.Config{})
				require.NoError(t, err)
				cfg := tc.cfg
				cfg.MaxLag = time.Second
				r := newRouter(t, s.topology(nodes...), picker, cfg)
				delays := map[string]time.Duration{}
				for i, n := range nodes {
					delays[n] = 2*time.Second + time.Duration(i)*200*time.Millisecond
				}
				stop := make(chan struct{})
				done := writer(s, delays, stop)
				defer func() { close(stop); <-done }()

				time.Sleep(10 * time.Second)
				st := r.Stats()
				assert.Equal(t, tc.want, st.Floor)
				assert.Equal(t, tc.want, st.Serving)
				for i, m := range st.Replicas {
					assert.True(t, m.Lagging, "%s lag %v", m.Node, m.Lag)
					assert.Equal(t, i >= tc.want, m.Ejected, "%s: the least lagging are kept", m.Node)
					assert.Equal(t, i < tc.want, m.FloorKept, m.Node)
				}
				got := map[string]int{}
				const reads = 2000
				for range reads {
					p, err := r.PickRead(t.Context(), balance.Token{})
					require.NoError(t, err)
					got[p.Node]++
					p.Done(nil)
				}
				assert.Zero(t, got["p"], "no read on the primary")
				assert.Len(t, got, tc.want, "reads spread over the floor: %v", got)
				for _, n := range nodes[:tc.want] {
					assert.Greater(t, got[n], reads/tc.want/2, "%s's share: %v", n, got)
				}
				assert.Zero(t, st.FallbackReads+st.BehindReads)
			})
		})
	}
}

// How a replica whose lag is unknown counts, for each UnknownLag.
func TestReplicaUnknownLag(t *testing.T) {
	type step struct {
		at      time.Duration
		ejected bool
	}
	cases := []struct {
		name   string
		policy balance.UnknownLag
		fault  func(s *replStore) // applied to replica a after its first good read
		steps  []step
	}{
		{"from last position: probe error", balance.LagFromLastPosition,
			func(s *replStore) { s.fail["a"] = errors.New("refused") },
			[]step{{500 * time.Millisecond, false}, {1100 * time.Millisecond, false}, {1400 * time.Millisecond, true}}},
		{"from last position: stopped server", balance.LagFromLastPosition,
			func(s *replStore) { s.block["a"] = true },
			[]step{{500 * time.Millisecond, false}, {1100 * time.Millisecond, false}, {1400 * time.Millisecond, true}}},
		{"serves", balance.LagUnknownServes,
			func(s *replStore) { s.fail["a"] = errors.New("refused") },
			[]step{{500 * time.Millisecond, false}, {3 * time.Second, false}}},
		{"ejects", balance.LagUnknownEjects,
			func(s *replStore) { s.fail["a"] = errors.New("refused") },
			[]step{{300 * time.Millisecond, true}, {3 * time.Second, true}}},
		{"ejects: stopped server", balance.LagUnknownEjects,
			func(s *replStore) { s.block["a"] = true },
			[]step{{300 * time.Millisecond, true}, {3 * time.Second, true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newReplStore("p", "a", "b", "c")
				r := newRouter(t, s.topology("a", "b", "c"), nil, balance.ReplicaConfig{MaxLag: time.Second, UnknownLag: tc.policy})
				time.Sleep(150 * time.Millisecond)
				require.True(t, replicaState(r, "a").Known)
				s.set(tc.fault)
				stop := make(chan struct{})
				done := writer(s, map[string]time.Duration{"a": 0, "b": 0, "c": 0}, stop)
				start := time.Now()
				for _, st := range tc.steps {
					time.Sleep(time.Until(start.Add(st.at)))
					a := replicaState(r, "a")
					assert.Equal(t, st.ejected, a.Ejected, "at %v: lag %v known %v", st.at, a.Lag, a.LagKnown)
					assert.False(t, a.LagKnown, "at %v", st.at)
				}
				// The fault ends: a reports again, has caught up, and serves.
				s.set(func(s *replStore) { delete(s.fail, "a"); s.block["a"] = false })
				time.Sleep(1200 * time.Millisecond) // a blocked read ends at ProbeTimeout
				a := replicaState(r, "a")
				assert.False(t, a.Ejected, "recovered: lag %v", a.Lag)
				assert.True(t, a.LagKnown)
				close(stop)
				<-done
			})
		})
	}
}

// Replicas added by Update start unknown and are measured from when they
// joined; removed replicas leave the picker.
func TestReplicaUpdateReplicas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newReplStore("p", "a", "b")
		picker, err := balance.NewRoundRobin([]string{"a", "b"}, balance.Config{})
		require.NoError(t, err)
		r := newRouter(t, s.topology("a", "b"), picker, balance.ReplicaConfig{})
		s.set(func(s *replStore) { s.applied["c"] = 0 })
		require.NoError(t, r.Update(s.topology("b", "c")))
		assert.Equal(t, []string{"b", "c"}, picker.Nodes())
		time.Sleep(150 * time.Millisecond)
		c := replicaState(r, "c")
		assert.True(t, c.Known)
		assert.Zero(t, c.Lag)
		st := r.Stats()
		assert.Len(t, st.Replicas, 2)
		assert.Equal(t, fmt.Sprint([]string{"b", "c"}), fmt.Sprint([]string{st.Replicas[0].Node, st.Replicas[1].Node}))
	})
}
