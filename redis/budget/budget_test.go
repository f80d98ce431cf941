package budget_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/redis/budget"
	"github.com/bulwark-go/bulwark/redis/internal/redistest"
	"github.com/bulwark-go/bulwark/redis/script"
	"github.com/bulwark-go/bulwark/retry"
)

type nopStore struct{}

func (nopStore) Eval(context.Context, *script.Script, []string, ...string) ([]string, error) {
	return nil, errors.New("no server")
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  budget.Config
		want string
	}{
		{"no name", budget.Config{}, "budget: Config.Name empty"},
		{"ratio above 1", budget.Config{Name: "n", Ratio: 1.5}, "budget: Config.Ratio 1.5 outside (0, 1]"},
		{"negative ratio", budget.Config{Name: "n", Ratio: -0.1}, "budget: Config.Ratio -0.1 outside (0, 1]"},
		{"floor below -1", budget.Config{Name: "n", MinPerSecond: -2}, "budget: Config.MinPerSecond -2 negative (-1 means none)"},
		{"window fraction", budget.Config{Name: "n", Window: 1500 * time.Millisecond}, "budget: Config.Window 1.5s not whole seconds in [1s, 1h]"},
		{"negative window", budget.Config{Name: "n", Window: -time.Second}, "budget: Config.Window -1s not whole seconds in [1s, 1h]"},
		{"window too long", budget.Config{Name: "n", Window: 2 * time.Hour}, "budget: Config.Window 2h0m0s not whole seconds in [1s, 1h]"},
		{"negative batch", budget.Config{Name: "n", Batch: -1}, "budget: Config.Batch -1 negative"},
		{"negative timeout", budget.Config{Name: "n", Timeout: -1}, "budget: Config.Timeout -1ns negative"},
		{"negative flush", budget.Config{Name: "n", Flush: -time.Second}, "budget: Config.Flush -1s negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := budget.New(nopStore{}, tt.cfg)
			if err == nil {
				b.Close()
			}
			if !errors.Is(err, budget.ErrInvalidConfig) || err.Error() != tt.want {
				t.Fatalf("New(%+v) = %v, want %q matching ErrInvalidConfig", tt.cfg, err, tt.want)
			}
		})
	}
	if _, err := budget.New(nil, budget.Config{Name: "n"}); !errors.Is(err, budget.ErrInvalidConfig) {
		t.Fatalf("New(nil store) = %v, want ErrInvalidConfig", err)
	}
}

func mustNew(t testing.TB, store script.Evaler, cfg budget.Config) *budget.Budget {
	t.Helper()
	b, err := budget.New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// Three instances share a budget of 10% of 1200 requests: together they
// get exactly the 120 retries, however their goroutines race for them.
func TestFleetRatio(t *testing.T) {
	addr := redistest.Addr(t)
	pfx := redistest.Prefix(t)
	const instances, perInstance = 3, 400
	var bs []*budget.Budget
	for range instances {
		bs = append(bs, mustNew(t, script.Rueidis(redistest.Client(t, addr)),
			budget.Config{Prefix: pfx, Name: "dep", Ratio: 0.1, MinPerSecond: -1, Window: time.Minute, Batch: 5, Timeout: 10 * time.Second}))
	}
	for _, b := range bs {
		for range perInstance {
			b.Success()
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for _, b := range bs {
		for range 10 {
			wg.Go(func() {
				for b.AllowRetry() {
					allowed.Add(1)
					b.Failure() // the retry's attempt, as a Retrier reports it
				}
			})
		}
	}
	wg.Wait()
	// Leases are spent before a denial, so every granted retry is used;
	// a lease that outlived its second was given back and granted again.
	if got := allowed.Load(); got > 120 || got < 120-instances*5 {
		t.Fatalf("fleet allowed %d retries, want 120 (10%% of %d requests)", got, instances*perInstance)
	}
	var leased, trips int64
	for _, b := range bs {
		s := b.Stats()
		leased += s.Leased
		trips += s.RoundTrips
		if s.Local != 0 {
			t.Fatalf("stats %+v: no decision should be local", s)
		}
	}
	t.Logf("allowed %d, leased %d, in %d round trips", allowed.Load(), leased, trips)
}

// With no requests at all, the floor alone allows MinPerSecond·Window.
// On a Redis Cluster too: the budget is one hash-tagged key.
func TestFloor(t *testing.T) {
	for _, deployment := range []string{"standalone", "cluster"} {
		t.Run(deployment, func(t *testing.T) {
			addrs := []string{}
			if deployment == "standalone" {
				addrs = append(addrs, redistest.Addr(t))
			} else {
				addrs = redistest.ClusterAddrs(t)
			}
			b := mustNew(t, script.Rueidis(redistest.Client(t, addrs...)),
				budget.Config{Prefix: redistest.Prefix(t), Name: "quiet", MinPerSecond: 2, Window: 5 * time.Second, Batch: 3})
			n := 0
			for b.AllowRetry() {
				b.Failure() // the retry's attempt
				n++
				if n > 100 {
					break
				}
			}
			if n != 10 {
				t.Fatalf("allowed %d retries with no requests, want the floor 2/s × 5s = 10", n)
			}
			if s := b.Stats(); s.Local != 0 {
				t.Fatalf("stats %+v: want every decision from Redis", s)
			}
		})
	}
}

// A Budget is a retry.Budget: a Retrier stops with ErrBudget when the fleet
// has no retry left.
func TestRetrierUsesBudget(t *testing.T) {
	addr := redistest.Addr(t)
	b := mustNew(t, script.Rueidis(redistest.Client(t, addr)),
		budget.Config{Prefix: redistest.Prefix(t), Name: "dep", MinPerSecond: 1, Window: 2 * time.Second, Batch: 1})
	r, err := retry.New(retry.Config{MaxAttempts: 100, Budget: b, Backoff: retry.Constant(0)})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	attempts := 0
	err = r.Do(context.Background(), func(context.Context) error { attempts++; return boom })
	if !errors.Is(err, retry.ErrBudget) || !errors.Is(err, boom) {
		t.Fatalf("Do = %v, want ErrBudget and the last error", err)
	}
	// The floor (1/s × 2s = 2 retries) plus 20% of the requests: the
	// first attempt is the one request.
	if attempts != 3 {
		t.Fatalf("%d attempts, want 3 (the first and the floor's 2 retries)", attempts)
	}
}
