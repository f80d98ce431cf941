package balance_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/balance"
)

// replStore is a scripted replicated store: the primary's position grows
// with every write, each replica's applied position is set by the test.
type replStore struct {
	mu      sync.Mutex
	primary string
	pos     balance.Position
	applied map[string]balance.Position
	fail    map[string]error
	block   map[string]bool // probe blocks until ctx ends (a stopped server)
	probes  int
}

func newReplStore(primary string, replicas ...string) *replStore {
	s := &replStore{primary: primary, applied: map[string]balance.Position{}, fail: map[string]error{}, block: map[string]bool{}}
	for _, r := range replicas {
		s.applied[r] = 0
	}
	return s
}

func (s *replStore) probe(node string) func(context.Context) (balance.Position, error) {
	return func(ctx context.Context) (balance.Position, error) {
		s.mu.Lock()
		s.probes++
		if s.block[node] {
			s.mu.Unlock()
			<-ctx.Done()
			return 0, ctx.Err()
		}
		defer s.mu.Unlock()
		if err := s.fail[node]; err != nil {
			return 0, err
		}
		return s.at(node), nil
	}
}

// at is node's position; call with s.mu held.
func (s *replStore) at(node string) balance.Position {
	if node == s.primary {
		return s.pos
	}
	return s.applied[node]
}

func (s *replStore) position(node string) balance.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.at(node)
}

// write makes one write on the primary and returns its position.
func (s *replStore) write() balance.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pos++
	return s.pos
}

func (s *replStore) catchUp(nodes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range nodes {
		s.applied[n] = s.pos
	}
}

func (s *replStore) set(f func(s *replStore)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *replStore) topology(replicas ...string) balance.Topology[string] {
	t := balance.Topology[string]{Primary: balance.Member[string]{Node: s.primary, Position: s.probe(s.primary)}}
	for _, r := range replicas {
		t.Replicas = append(t.Replicas, balance.Member[string]{Node: r, Position: s.probe(r)})
	}
	return t
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func newRouter(t *testing.T, topo balance.Topology[string], picker balance.ReplicaPicker[string], cfg balance.ReplicaConfig) *balance.ReplicaRouter[string] {
	t.Helper()
	r, err := balance.NewReplicaRouter(topo, picker, cfg)
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

func TestReplicaConfigErrors(t *testing.T) {
	probe := func(context.Context) (balance.Position, error) { return 0, nil }
	m := func(n string) balance.Member[string] { return balance.Member[string]{Node: n, Position: probe} }
	ok := balance.Topology[string]{Primary: m("p"), Replicas: []balance.Member[string]{m("a"), m("b")}}
	cases := []struct {
		name string
		topo balance.Topology[string]
		cfg  balance.ReplicaConfig
		want string
	}{
		{"no primary", balance.Topology[string]{Replicas: []balance.Member[string]{m("a")}}, balance.ReplicaConfig{}, "Topology.Primary.Node"},
		{"duplicate replica", balance.Topology[string]{Primary: m("p"), Replicas: []balance.Member[string]{m("a"), m("b"), m("a")}}, balance.ReplicaConfig{}, "duplicate node a at Topology.Replicas[0] and [2]"},
		{"replica is primary", balance.Topology[string]{Primary: m("p"), Replicas: []balance.Member[string]{m("p")}}, balance.ReplicaConfig{}, "Topology.Replicas[0] p is also the primary"},
		{"zero replica", balance.Topology[string]{Primary: m("p"), Replicas: []balance.Member[string]{m("")}}, balance.ReplicaConfig{}, "Topology.Replicas[0].Node"},
		{"replica without probe", balance.Topology[string]{Primary: m("p"), Replicas: []balance.Member[string]{{Node: "a"}}}, balance.ReplicaConfig{}, "Topology.Replicas[0].Position is nil"},
		{"primary without probe", balance.Topology[string]{Primary: balance.Member[string]{Node: "p"}, Replicas: []balance.Member[string]{m("a")}}, balance.ReplicaConfig{}, "Topology.Replicas[0].Position is set"},
		{"negative interval", ok, balance.ReplicaConfig{ProbeInterval: -time.Second}, "ReplicaConfig.ProbeInterval -1s is negative"},
		{"negative timeout", ok, balance.ReplicaConfig{ProbeTimeout: -1}, "ReplicaConfig.ProbeTimeout -1ns is negative"},
		{"negative wait", ok, balance.ReplicaConfig{MaxWait: -time.Millisecond}, "ReplicaConfig.MaxWait -1ms is negative"},
		{"negative lag", ok, balance.ReplicaConfig{MaxLag: -time.Second}, "ReplicaConfig.MaxLag -1s is negative"},
		{"negative window", ok, balance.ReplicaConfig{SessionWindow: -time.Second}, "ReplicaConfig.SessionWindow -1s is negative"},
		{"percent above 100", ok, balance.ReplicaConfig{MinServingPercent: 101}, "ReplicaConfig.MinServingPercent 101 outside [0,100]"},
		{"negative percent", ok, balance.ReplicaConfig{MinServingPercent: -1}, "ReplicaConfig.MinServingPercent -1 outside [0,100]"},
		{"negative floor", ok, balance.ReplicaConfig{MinServing: -2}, "ReplicaConfig.MinServing -2 is negative"},
		{"unknown lag policy", ok, balance.ReplicaConfig{UnknownLag: 7}, "ReplicaConfig.UnknownLag 7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := balance.NewReplicaRouter(tc.topo, nil, tc.cfg)
			require.Error(t, err)
			assert.Nil(t, r)
			assert.ErrorIs(t, err, balance.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "balance: "), err.Error())
		})
	}
}

func TestReplicaUpdateErrorsChangeNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newReplStore("p", "a", "b")
		r := newRouter(t, s.topology("a", "b"), nil, balance.ReplicaConfig{})
		bad := s.topology("a", "a")
		err := r.Update(bad)
		require.ErrorIs(t, err, balance.ErrInvalidConfig)
		assert.Contains(t, err.Error(), "duplicate node a")
		noProbes := balance.Topology[string]{Primary: balance.Member[string]{Node: "p"}}
		err = r.Update(noProbes)
		require.ErrorIs(t, err, balance.ErrInvalidConfig)
		assert.Contains(t, err.Error(), "Topology.Primary.Position is nil")
		assert.Len(t, r.Topology().Replicas, 2)
	})
}

// Writes go to the primary, reads without a Token to the replicas only.
func TestReplicaRoutesByRole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newReplStore("p", "a", "b", "c")
		rr, err := balance.NewRoundRobin([]string{"a", "b", "c"}, balance.Config{})
		require.NoError(t, err)
		r := newRouter(t, s.topology("a", "b", "c"), rr, balance.ReplicaConfig{})
		for range 10 {
			w, err := r.PickWrite()
			require.NoError(t, err)
			assert.Equal(t, "p", w.Node)
			w.Done(nil)
		}
		got := map[string]int{}
		for range 30 {
			p, err := r.PickRead(t.Context(), balance.Token{})
			require.NoError(t, err)
			got[p.Node]++
			p.Done(nil)
		}
		assert.Equal(t, map[string]int{"a": 10, "b": 10, "c": 10}, got)
	})
}

// A read carrying a Token goes to a replica only once the replica has
// reached it; before that, after MaxWait, to the primary.
func TestReplicaReadYourWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newReplStore("p", "a", "b")
		r := newRouter(t, s.topology("a", "b"), nil, balance.ReplicaConfig{MaxWait: 30 * time.Millisecond})
		ctx := t.Context()
		var written balance.Position
		tok, err := r.Write(ctx, func(ctx context.Context, node string) error {
			require.Equal(t, "p", node)
			written = s.write()
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, written, tok.Position)

		start := time.Now()
		p, err := r.PickRead(ctx, tok)
		require.NoError(t, err)
		assert.Equal(t, "p", p.Node, "no replica has the write: the primary")
		assert.Equal(t, 30*time.Millisecond, time.Since(start), "waited MaxWait")
		p.Done(nil)

		s.catchUp("b")
		start = time.Now()
		p, err = r.PickRead(ctx, tok)
		require.NoError(t, err)
		assert.Equal(t, "b", p.Node)
		assert.Less(t, time.Since(start), 30*time.Millisecond, "a kicked round found b")
		p.Done(nil)

		st := r.Stats()
		assert.Equal(t, int64(1), st.BehindReads)
		assert.Equal(t, int64(2), st.Waits)
	})
}

// A replica that catches up during the wait takes the read.
func TestReplicaWaitEndsWhenReplicaCatchesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newReplStore("p", "a")
		r := newRouter(t, s.topology("a"), nil, balance.ReplicaConfig{MaxWait: time.Second})
		tok := balance.Token{Position: s.write()}
		go func() {
			time.Sleep(300 * time.Millisecond)
			s.catchUp("a")
		}()
		start := time.Now()
		p, err := r.PickRead(t.Context(), tok)
		require.NoError(t, err)
		assert.Equal(t, "a", p.Node)
		waited := time.Since(start)
		assert.GreaterOrEqual(t, waited, 300*time.Millisecond)
		assert.Less(t, waited, 300*time.Millisecond+balance.ReplicaConfig{}.ProbeInterval+110*time.Millisecond)
		p.Done(nil)
	})
}

func TestReplicaWaitHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newReplStore("p", "a")
		r := newRouter(t, s.topology("a"), nil, balance.ReplicaConfig{MaxWait: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := r.PickRead(ctx, balance.Token{Position: s.write()})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// A replica the picker offers that has not reached the Token is handed
// back without a hold: it is no failure and other reads still get it.
func TestReplicaPassedOverStaysAvailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newReplStore("p", "a", "b", "c")
		rr, err := balance.NewRoundRobin([]string{"a", "b", "c"}, balance.Config{})
		require.NoError(t, err)
		r := newRouter(t, s.topology("a", "b", "c"), rr, balance.ReplicaConfig{})
		tok := balance.Token{Position: s.write()}
		s.catchUp("c")
		time.Sleep(150 * time.Millisecond) // a round sees c
		p, err := r.PickRead(t.Context(), tok)
		require.NoError(t, err)
		assert.Equal(t, "c", p.Node)
		p.Done(nil)
		st := rr.Stats()
		for _, n := range st.Nodes {
			assert.False(t, n.Unavailable, n.Node)
			assert.Zero(t, n.Failures, n.Node)
			assert.Zero(t, n.InFlight, n.Node)
		}
		assert.Equal(t, int64(2), r.Stats().PassedOver)
		// The next plain reads still reach a and b.
		got := map[string]bool{}
		for range 3 {
			p, err := r.PickRead(t.Context(), balance.Token{})
			require.NoError(t, err)
			got[p.Node] = true
			p.Done(nil)
		}
		assert.Len(t, got, 3)
	})
}

// Session-window mode, for a store without positions: reads carrying the
// Token go to the primary for the window, then to the replicas.
func TestReplicaSessionWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		topo := balance.Topology[string]{
			Primary:  balance.Member[string]{Node: "p"},
			Replicas: []balance.Member[string]{{Node: "a"}, {Node: "b"}},
		}
		r := newRouter(t, topo, nil, balance.ReplicaConfig{SessionWindow: time.Second})
		tok, err := r.Write(t.Context(), func(context.Context, string) error { return nil })
		require.NoError(t, err)
		assert.Equal(t, time.Now().Add(time.Second), tok.PrimaryUntil)
		steps := []struct {
			after time.Duration
			want  string // "p" or "replica"
		}{
			{0, "p"},
			{999 * time.Millisecond, "p"},
			{time.Second, "replica"},
			{2 * time.Second, "replica"},
		}
		start := time.Now()
		for _, step := range steps {
			time.Sleep(time.Until(start.Add(step.after)))
			p, err := r.PickRead(t.Context(), tok)
			require.NoError(t, err)
			got := p.Node
			if got != "p" {
				got = "replica"
			}
			assert.Equal(t, step.want, got, "at %v", step.after)
			p.Done(nil)
		}
		assert.Equal(t, int64(2), r.Stats().WindowReads)
		// A session without writes is never pinned.
		p, err := r.PickRead(t.Context(), balance.Token{})
		require.NoError(t, err)
		assert.NotEqual(t, "p", p.Node)
		p.Done(nil)
	})
}

func TestReplicaTokenMerge(t *testing.T) {
	now := time.Unix(1000, 0)
	cases := []struct {
		name    string
		a, b    balance.Token
		wantPos balance.Position
		wantEnd time.Time
	}{
		{"zero", balance.Token{}, balance.Token{}, 0, time.Time{}},
		{"later position wins", balance.Token{Position: 5}, balance.Token{Position: 9}, 9, time.Time{}},
		{"earlier position loses", balance.Token{Position: 9}, balance.Token{Position: 5}, 9, time.Time{}},
		{"later window wins", balance.Token{PrimaryUntil: now}, balance.Token{PrimaryUntil: now.Add(time.Second)}, 0, now.Add(time.Second)},
		{"both fields", balance.Token{Position: 3, PrimaryUntil: now.Add(time.Second)}, balance.Token{Position: 7, PrimaryUntil: now}, 7, now.Add(time.Second)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.a.Merge(tc.b)
			assert.Equal(t, tc.wantPos, got.Position)
			assert.True(t, tc.wantEnd.Equal(got.PrimaryUntil), "PrimaryUntil %v, want %v", got.PrimaryUntil, tc.wantEnd)
		})
	}
}

// A write whose position cannot be read says so with ErrNoPosition.
func TestReplicaWriteWithoutPosition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newReplStore("p", "a")
		r := newRouter(t, s.topology("a"), nil, balance.ReplicaConfig{})
		boom := errors.New("connection reset")
		s.set(func(s *replStore) { s.fail["p"] = boom })
		wrote := false
		_, err := r.Write(t.Context(), func(context.Context, string) error { wrote = true; return nil })
		assert.True(t, wrote)
		assert.ErrorIs(t, err, balance.ErrNoPosition)
		assert.ErrorIs(t, err, boom)

		failed := errors.New("write refused")
		tok, err := r.Write(t.Context(), func(context.Context, string) error { return failed })
		assert.ErrorIs(t, err, failed)
		assert.Equal(t, balance.Token{}, tok)
	})
}

// Update to a new primary (a failover): writes follow it, the old primary
// serves reads as a replica, and Tokens keep working.
func TestReplicaUpdateFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newReplStore("p", "a", "b")
		r := newRouter(t, s.topology("a", "b"), nil, balance.ReplicaConfig{})
		tok := balance.Token{Position: s.write()}
		s.catchUp("a", "b")

		// a is promoted; p becomes a replica of a.
		s.set(func(s *replStore) {
			s.primary = "a"
			s.applied["p"] = s.pos
			delete(s.applied, "a")
		})
		require.NoError(t, r.Update(s.topology("p", "b")))
		w, err := r.PickWrite()
		require.NoError(t, err)
		assert.Equal(t, "a", w.Node)
		w.Done(nil)
		assert.Equal(t, "a", r.Topology().Primary.Node)

		time.Sleep(150 * time.Millisecond)
		got := map[string]bool{}
		for range 20 {
			p, err := r.PickRead(t.Context(), tok)
			require.NoError(t, err)
			got[p.Node] = true
			p.Done(nil)
		}
		assert.Equal(t, map[string]bool{"p": true, "b": true}, got, "both replicas have the token's write")
	})
}

// Close stops the probe loop: no probe runs afterwards, no goroutine is
// left (synctest.Test fails on a goroutine left blocked in the bubble), and
// reads go on.
func TestReplicaCloseStopsProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newReplStore("p", "a")
		s.set(func(s *replStore) { s.block["a"] = true }) // a read in flight at Close
		r, err := balance.NewReplicaRouter(s.topology("a"), nil, balance.ReplicaConfig{})
		require.NoError(t, err)
		time.Sleep(time.Second)
		require.NotZero(t, r.Stats().Rounds)
		r.Close()
		r.Close()
		s.mu.Lock()
		before := s.probes
		s.mu.Unlock()
		time.Sleep(time.Second)
		s.mu.Lock()
		assert.Equal(t, before, s.probes)
		s.mu.Unlock()
		start := time.Now()
		p, err := r.PickRead(t.Context(), balance.Token{Position: s.write()})
		require.NoError(t, err)
		assert.Equal(t, "p", p.Node)
		assert.Zero(t, time.Since(start), "no wait after Close")
		p.Done(nil)
	})
}

// The common reads allocate nothing.
func TestReplicaPickReadAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newReplStore("p", "a", "b")
		r := newRouter(t, s.topology("a", "b"), nil, balance.ReplicaConfig{})
		tok := balance.Token{Position: s.write()}
		s.catchUp("a", "b")
		time.Sleep(150 * time.Millisecond)
		ctx := t.Context()
		for _, tc := range []struct {
			name string
			tok  balance.Token
		}{{"no token", balance.Token{}}, {"token reached", tok}} {
			allocs := testing.AllocsPerRun(100, func() {
				p, err := r.PickRead(ctx, tc.tok)
				if err != nil || p.Node == "p" {
					t.Fatalf("PickRead: %v %v", p.Node, err)
				}
				p.Done(nil)
			})
			assert.Zero(t, allocs, tc.name)
		}
	})
}
