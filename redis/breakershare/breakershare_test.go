package breakershare_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/redis"
	"github.com/bulwark-go/bulwark/redis/breakershare"
	"github.com/bulwark-go/bulwark/redis/internal/redistest"
	"github.com/bulwark-go/bulwark/redis/script"
)

type nopClient struct{}

func (nopClient) Eval(context.Context, *script.Script, []string, ...string) ([]string, error) {
	return nil, errors.New("no server")
}
func (nopClient) Subscribe(context.Context, string, func(string)) (redis.Watch, error) {
	return nil, errors.New("no server")
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  breakershare.Config
		want string
	}{
		{"no name", breakershare.Config{}, "breakershare: Config.Name empty"},
		{"bad instance", breakershare.Config{Name: "n", Instance: "a|b"}, `breakershare: Config.Instance "a|b" contains '|'`},
		{"negative quorum", breakershare.Config{Name: "n", Quorum: -1}, "breakershare: Config.Quorum -1 negative"},
		{"fraction above 1", breakershare.Config{Name: "n", QuorumFraction: 1.5}, "breakershare: Config.QuorumFraction 1.5 outside (0, 1]"},
		{"negative fraction", breakershare.Config{Name: "n", QuorumFraction: -0.5}, "breakershare: Config.QuorumFraction -0.5 outside (0, 1]"},
		{"both quorums", breakershare.Config{Name: "n", Quorum: 2, QuorumFraction: 0.5}, "breakershare: Config.Quorum 2 set together with Config.QuorumFraction 0.5 (use one)"},
		{"negative heartbeat", breakershare.Config{Name: "n", Heartbeat: -time.Second}, "breakershare: Config.Heartbeat -1s negative"},
		{"negative ttl", breakershare.Config{Name: "n", TTL: -time.Second}, "breakershare: Config.TTL -1s negative"},
		{"ttl not above heartbeat", breakershare.Config{Name: "n", Heartbeat: time.Second, TTL: time.Second}, "breakershare: Config.TTL 1s not above Config.Heartbeat 1s"},
		{"negative lease", breakershare.Config{Name: "n", ProbeLease: -1}, "breakershare: Config.ProbeLease -1ns negative"},
		{"tiny lease", breakershare.Config{Name: "n", ProbeLease: time.Microsecond}, "breakershare: Config.ProbeLease 1µs and Config.TTL 3s must be at least 1ms"},
		{"negative timeout", breakershare.Config{Name: "n", Timeout: -time.Millisecond}, "breakershare: Config.Timeout -1ms negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := breakershare.New(nopClient{}, tt.cfg)
			if err == nil {
				b.Close()
			}
			if !errors.Is(err, breakershare.ErrInvalidConfig) || err.Error() != tt.want {
				t.Fatalf("New(%+v) = %v, want %q matching ErrInvalidConfig", tt.cfg, err, tt.want)
			}
		})
	}
	_, err := breakershare.New(nopClient{}, breakershare.Config{Name: "n", Breaker: breaker.Config{FailureRate: 2}})
	if !errors.Is(err, breaker.ErrInvalidConfig) {
		t.Fatalf("New with a bad Breaker config = %v, want breaker.ErrInvalidConfig", err)
	}
	if _, err := breakershare.New(nil, breakershare.Config{Name: "n"}); !errors.Is(err, breakershare.ErrInvalidConfig) {
		t.Fatalf("New(nil client) = %v, want ErrInvalidConfig", err)
	}
}

type instance struct {
	*breakershare.Breaker
	events chan breakershare.Event
}

func newFleet(t *testing.T, addrs []string, n int, cfg breakershare.Config) []*instance {
	t.Helper()
	cfg.Prefix = redistest.Prefix(t)
	if cfg.Name == "" {
		cfg.Name = "dep"
	}
	out := make([]*instance, n)
	for i := range out {
		in := &instance{events: make(chan breakershare.Event, 1<<12)}
		c := cfg
		c.Instance = string(rune('A' + i))
		c.OnEvent = func(e breakershare.Event) {
			select {
			case in.events <- e:
			default:
			}
		}
		b, err := breakershare.New(script.Rueidis(redistest.Client(t, addrs...)), c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		in.Breaker = b
		out[i] = in
	}
	return out
}

// waitFor polls cond until it holds, failing the test after 10 s: a bound
// that passing runs never approach (they take milliseconds).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func seesOpen(in *instance, id string) func() bool {
	return func() bool {
		for _, p := range in.Peers() {
			if p.Instance == id && p.State != breaker.Closed && p.Own {
				return true
			}
		}
		return false
	}
}

var errDown = errors.New("dependency down")

func fail(t *testing.T, in *instance, n int) {
	t.Helper()
	for range n {
		p, err := in.Allow()
		if err != nil {
			t.Fatalf("%s: Allow = %v", in.Instance(), err)
		}
		p.Done(errDown)
	}
}

// Three instances, quorum 2: one instance's failures open only its own
// breaker; a second instance's open all three.
func TestQuorum(t *testing.T) {
	for _, deployment := range []string{"standalone", "cluster"} {
		t.Run(deployment, func(t *testing.T) {
			addrs := []string{}
			if deployment == "standalone" {
				addrs = append(addrs, redistest.Addr(t))
			} else {
				addrs = redistest.ClusterAddrs(t)
			}
			ins := newFleet(t, addrs, 3, breakershare.Config{Quorum: 2,
				Breaker: breaker.Config{ConsecutiveFailures: 3, OpenFor: time.Hour}})
			a, b, c := ins[0], ins[1], ins[2]
			fail(t, a, 3)
			if a.State() != breaker.Open {
				t.Fatalf("A: %v after 3 failures, want Open", a.State())
			}
			waitFor(t, "B and C to see A open", func() bool { return seesOpen(b, "A")() && seesOpen(c, "A")() })
			// Another report round: nothing changes with one open reporter.
			for _, in := range []*instance{b, c} {
				if in.State() != breaker.Closed {
					t.Fatalf("%s: %v with one peer open, want Closed under a quorum of 2", in.Instance(), in.State())
				}
			}
			fail(t, b, 3)
			waitFor(t, "C to open by quorum", func() bool { return c.State() == breaker.Open })
			if s := c.Stats(); s.QuorumTrips != 1 {
				t.Fatalf("C stats %+v: want one quorum trip", s)
			}
			// C follows: it does not count toward anyone's quorum.
			waitFor(t, "A to see C following", func() bool {
				for _, p := range a.Peers() {
					if p.Instance == "C" && p.State == breaker.Open && !p.Own {
						return true
					}
				}
				return false
			})
			for _, in := range ins {
				if s := in.Stats(); s.RedisErrors != 0 {
					t.Fatalf("%s stats %+v: want no Redis errors (CROSSSLOT would be one)", in.Instance(), s)
				}
			}
		})
	}
}

// All three open on their own; when their open periods end, exactly one
// instance of the fleet gets a probe; its success closes everyone.
func TestOneProbeForTheFleet(t *testing.T) {
	addr := redistest.Addr(t)
	ins := newFleet(t, []string{addr}, 3, breakershare.Config{Quorum: 2, ProbeLease: time.Minute,
		Breaker: breaker.Config{ConsecutiveFailures: 1, OpenFor: 50 * time.Millisecond, HalfOpenCalls: 1}})
	for _, in := range ins {
		// Open by its own failure, or already by the quorum of the others.
		if p, err := in.Allow(); err == nil {
			p.Done(errDown)
		}
	}
	for _, in := range ins {
		waitFor(t, in.Instance()+" HalfOpen", func() bool { return in.State() == breaker.HalfOpen })
	}
	var tripsBefore [3]int64
	for i, in := range ins {
		tripsBefore[i] = in.Stats().QuorumTrips
	}
	var probes atomic.Int64
	var prober atomic.Pointer[instance]
	var permit breaker.Permit
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, in := range ins {
		for range 10 {
			wg.Go(func() {
				p, err := in.Allow()
				if err != nil {
					if !errors.Is(err, breaker.ErrOpen) || !errors.Is(err, bulwark.ErrNotAttempted) {
						t.Errorf("%s: refusal %v, want ErrOpen", in.Instance(), err)
					}
					return
				}
				probes.Add(1)
				prober.Store(in)
				mu.Lock()
				permit = p
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	if n := probes.Load(); n != 1 {
		t.Fatalf("%d probes admitted across the fleet, want exactly 1", n)
	}
	p := prober.Load()
	for _, in := range ins {
		if in == p {
			continue
		}
		_, err := in.Allow()
		at, ok := bulwark.RetryAt(err)
		if !errors.Is(err, breaker.ErrOpen) || !ok || at.Before(time.Now().Add(50*time.Second)) {
			t.Fatalf("%s: Allow while %s probes = %v (RetryAt %v %v), want a refusal until the lease ends", in.Instance(), p.Instance(), err, at, ok)
		}
	}
	permit.Done(nil)
	if p.State() != breaker.Closed {
		t.Fatalf("prober %s: %v after its probe succeeded, want Closed", p.Instance(), p.State())
	}
	for _, in := range ins {
		waitFor(t, in.Instance()+" closed by the fleet probe", func() bool { return in.State() == breaker.Closed })
	}
	// Closed everywhere, and the open reports of before the probe reopen
	// no one: heartbeats have gone round meanwhile.
	for _, in := range ins {
		in.Refresh()
	}
	for i, in := range ins {
		if s := in.Stats(); s.QuorumTrips != tripsBefore[i] || in.State() != breaker.Closed {
			t.Errorf("%s: %v, stats %+v: no quorum trip expected after the probe", in.Instance(), in.State(), s)
		}
	}
}

// The instance holding the probe lease dies (never finishes its probe,
// never releases): another instance probes once the lease's TTL is over.
func TestDeadProber(t *testing.T) {
	addr := redistest.Addr(t)
	const lease = 300 * time.Millisecond
	ins := newFleet(t, []string{addr}, 2, breakershare.Config{Quorum: 2, ProbeLease: lease,
		Breaker: breaker.Config{ConsecutiveFailures: 1, OpenFor: 20 * time.Millisecond}})
	a, b := ins[0], ins[1]
	fail(t, a, 1)
	fail(t, b, 1)
	waitFor(t, "A HalfOpen", func() bool { return a.State() == breaker.HalfOpen })
	if _, err := a.Allow(); err != nil { // A's probe hangs for ever
		t.Fatalf("A: first probe refused: %v", err)
	}
	waitFor(t, "B HalfOpen", func() bool { return b.State() == breaker.HalfOpen })
	refused := 0
	var got breaker.Permit
	waitFor(t, "B to probe after the lease", func() bool {
		p, err := b.Allow()
		if err != nil {
			refused++
			return false
		}
		got = p
		return true
	})
	if refused == 0 {
		t.Fatal("B was never refused while A held the lease")
	}
	if sa, sb := a.Stats(), b.Stats(); sa.Leases != 1 || sb.Leases != 1 || sb.LeaseDenied == 0 {
		t.Fatalf("stats A %+v, B %+v: want one lease each, B denied before its own", sa, sb)
	}
	got.Done(nil)
	if b.State() != breaker.Closed {
		t.Fatalf("B: %v after its probe, want Closed", b.State())
	}
	waitFor(t, "A closed by B's probe", func() bool { return a.State() == breaker.Closed })
}
