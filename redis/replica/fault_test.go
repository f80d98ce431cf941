package replica_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/redis/replica"
)

// The probes against real servers: after a write acknowledged by the
// replica (WAIT), the replica's offset has reached the primary's.
func TestProbesAgainstServers(t *testing.T) {
	primary, replicas := pair(t, 1)
	pc, rc := client(t, primary.addr), client(t, replicas[0].addr)
	ctx := t.Context()
	if err := pc.Do(ctx, pc.B().Set().Key("probe").Value("1").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	p, err := replica.Primary(replica.Rueidis(pc))(ctx)
	if err != nil || p == 0 {
		t.Fatalf("Primary probe = %d, %v", p, err)
	}
	if err := pc.Do(ctx, pc.B().Wait().Numreplicas(1).Timeout(5000).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	r, err := replica.Replica(replica.Rueidis(rc))(ctx)
	if err != nil || r < p {
		t.Fatalf("Replica probe = %d, %v; want ≥ %d", r, err, p)
	}
	if _, err := replica.Replica(replica.Rueidis(pc))(ctx); !errors.Is(err, replica.ErrRole) {
		t.Fatalf("Replica probe of the primary: %v, want ErrRole", err)
	}
	if _, err := replica.Primary(replica.Rueidis(rc))(ctx); !errors.Is(err, replica.ErrRole) {
		t.Fatalf("Primary probe of the replica: %v, want ErrRole", err)
	}
}

// fleet is a router over a primary and replicas, each with its client.
type fleet struct {
	router  *balance.ReplicaRouter[string]
	clients map[string]rueidis.Client
}

func newFleet(t *testing.T, primary *server, replicas []*server, cfg balance.ReplicaConfig) *fleet {
	t.Helper()
	f := &fleet{clients: map[string]rueidis.Client{}}
	member := func(s *server, probe func(replica.Infoer) func(context.Context) (balance.Position, error)) balance.Member[string] {
		c := client(t, s.addr)
		f.clients[s.addr] = c
		return balance.Member[string]{Node: s.addr, Position: probe(replica.Rueidis(c))}
	}
	topo := balance.Topology[string]{Primary: member(primary, replica.Primary)}
	var addrs []string
	for _, r := range replicas {
		topo.Replicas = append(topo.Replicas, member(r, replica.Replica))
		addrs = append(addrs, r.addr)
	}
	picker, err := balance.NewRoundRobin(addrs, balance.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f.router, err = balance.NewReplicaRouter(topo, picker, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.router.Close)
	return f
}

func (f *fleet) set(ctx context.Context, key, value string) (balance.Token, error) {
	return f.router.Write(ctx, func(ctx context.Context, node string) error {
		c := f.clients[node]
		return c.Do(ctx, c.B().Set().Key(key).Value(value).Build()).Error()
	})
}

func (f *fleet) get(ctx context.Context, tok balance.Token, key string) (node, value string, err error) {
	err = f.router.Read(ctx, tok, func(ctx context.Context, n string) error {
		node = n
		c := f.clients[n]
		value, err = c.Do(ctx, c.B().Get().Key(key).Build()).ToString()
		if rueidis.IsRedisNil(err) {
			return nil // not written yet
		}
		return err
	})
	return node, value, err
}

// A read that needs a fresh write goes to the primary while the replica is
// stopped, and returns to the replica once it runs again and catches up;
// every read sees its session's write.
func TestReadYourWritesWithStoppedReplica(t *testing.T) {
	primary, replicas := pair(t, 1)
	r1 := replicas[0]
	f := newFleet(t, primary, replicas, balance.ReplicaConfig{
		ProbeInterval: 50 * time.Millisecond, ProbeTimeout: 300 * time.Millisecond, MaxWait: 500 * time.Millisecond,
	})
	ctx := t.Context()

	tok, err := f.set(ctx, "ryw", "v1")
	if err != nil {
		t.Fatal(err)
	}
	// A running replica catches up quickly, but how quickly depends on the
	// machine: a read that times out waiting goes to the primary, which is
	// correct too. Every read must see the write; one of them, the replica.
	served := false
	for range 50 {
		node, v, err := f.get(ctx, tok, "ryw")
		if err != nil || v != "v1" {
			t.Fatalf("read with a running replica: %s %q %v, want \"v1\"", node, v, err)
		}
		if node == r1.addr {
			served = true
			break
		}
	}
	if !served {
		t.Fatalf("50 reads after a write with a running replica, none served by the replica %s", r1.addr)
	}

	r1.pause(t)
	tok, err = f.set(ctx, "ryw", "v2")
	if err != nil {
		t.Fatal(err)
	}
	node, v, err := f.get(ctx, tok, "ryw")
	if err != nil || v != "v2" || node != primary.addr {
		t.Fatalf("read with the replica stopped: %s %q %v, want the primary %s \"v2\"", node, v, err, primary.addr)
	}
	if st := f.router.Stats(); st.BehindReads == 0 {
		t.Fatalf("Stats.BehindReads = 0 after a read the replica could not serve")
	}

	r1.resume(t)
	waitFor(t, 10*time.Second, "token reads back on the replica", func() bool {
		p, err := f.router.PickRead(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		p.Done(nil)
		return p.Node == r1.addr
	})
	node, v, err = f.get(ctx, tok, "ryw")
	if err != nil || v != "v2" || node != r1.addr {
		t.Fatalf("read after kill -CONT: %s %q %v, want %s \"v2\"", node, v, err, r1.addr)
	}
}

// A replica stopped for longer than MaxLag while the primary takes writes
// is ejected — reads without a Token go to the other replica — and comes
// back once it runs again and catches up.
func TestStoppedReplicaEjectedAndBack(t *testing.T) {
	primary, replicas := pair(t, 2)
	r1, r2 := replicas[0], replicas[1]
	const maxLag = time.Second
	f := newFleet(t, primary, replicas, balance.ReplicaConfig{
		ProbeInterval: 50 * time.Millisecond, ProbeTimeout: 300 * time.Millisecond, MaxLag: maxLag,
	})
	ctx := t.Context()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // the primary's write traffic
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := f.set(ctx, "counter", strconv.Itoa(i)); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	state := func(addr string) balance.MemberStats[string] {
		for _, m := range f.router.Stats().Replicas {
			if m.Node == addr {
				return m
			}
		}
		t.Fatalf("no replica %s", addr)
		return balance.MemberStats[string]{}
	}
	readsOn := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			node, _, err := f.get(ctx, balance.Token{}, "counter")
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			got[node]++
		}
		return got
	}
	waitFor(t, 5*time.Second, "both replicas serving", func() bool { return f.router.Stats().Serving == 2 })

	r1.pause(t)
	paused := time.Now()
	waitFor(t, 10*time.Second, "the stopped replica ejected", func() bool { return state(r1.addr).Ejected })
	if d := time.Since(paused); d < maxLag {
		t.Fatalf("ejected %v after the stop, before MaxLag %v", d, maxLag)
	}
	if got := readsOn(20); got[r2.addr] != 20 {
		t.Fatalf("reads while r1 is ejected: %v, want all 20 on %s", got, r2.addr)
	}

	r1.resume(t)
	waitFor(t, 10*time.Second, "the replica back after catching up", func() bool { return !state(r1.addr).Ejected })
	if got := readsOn(20); got[r1.addr] == 0 || got[primary.addr] != 0 {
		t.Fatalf("reads after r1 caught up: %v, want some on %s and none on the primary", got, r1.addr)
	}
}
