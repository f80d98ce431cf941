package ratelimit_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/bulwark-go/bulwark/redis/internal/redistest"
	"github.com/bulwark-go/bulwark/redis/ratelimit"
	"github.com/bulwark-go/bulwark/redis/script"
)

// hammer runs clients × goroutines calling allow (one per client) until
// stop closes, and returns the admitted count and the window over which
// Redis decided them, measured by Redis's own clock.
func hammer(t *testing.T, admin rueidis.Client, allows []func() bool, goroutines int, d time.Duration) (admitted int64, window time.Duration) {
	t.Helper()
	var n atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	start := redistest.Time(t, admin)
	for _, allow := range allows {
		for range goroutines {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if allow() {
						n.Add(1)
					}
				}
			})
		}
	}
	time.Sleep(d) // how long the load runs; the bound is checked on Redis's clock
	close(stop)
	wg.Wait()
	return n.Load(), redistest.Time(t, admin).Sub(start)
}

// 8 clients × 50 goroutines against one limit, every decision in Redis:
// over the window (Redis TIME), admitted ≤ rate·W + burst, exactly, and the
// limit is not starved either (at least half of it is used).
func TestFleetLimit(t *testing.T) {
	for _, tt := range []struct {
		name  string
		batch int
	}{{"exact", 0}, {"pre-admission", 20}} {
		t.Run(tt.name, func(t *testing.T) {
			addr := redistest.Addr(t)
			pfx := redistest.Prefix(t)
			const rate, burst, clients = 400, 40, 8
			var allows []func() bool
			var limiters []*ratelimit.Limiter
			for range clients {
				l := mustNew(t, script.Rueidis(redistest.Client(t, addr)),
					ratelimit.Config{Prefix: pfx, Rate: rate, Burst: burst, Batch: tt.batch, Timeout: 10 * time.Second})
				b, err := l.Bucket("global")
				if err != nil {
					t.Fatal(err)
				}
				allows = append(allows, b.Allow)
				limiters = append(limiters, l)
			}
			admitted, w := hammer(t, redistest.Client(t, addr), allows, 50, time.Second)
			// The package doc's bound: rate·W + burst, plus what each
			// instance may hold unserved with pre-admission.
			bound := int64(rate*w.Seconds()) + burst + clients*int64(tt.batch+tt.batch/4)
			t.Logf("admitted %d over %v (Redis TIME): bound %d", admitted, w, bound)
			if admitted > bound {
				t.Fatalf("admitted %d over %v, above the bound %d", admitted, w, bound)
			}
			if floor := int64(rate * w.Seconds() / 2); admitted < floor {
				t.Fatalf("admitted %d over %v, below half the limit (%d)", admitted, w, floor)
			}
			for _, l := range limiters {
				if s := l.Stats(); s.Unavailable != 0 {
					t.Fatalf("stats %+v: no decision should have been taken without Redis", s)
				}
			}
		})
	}
}

// At a high rate, pre-admission cuts round trips per admitted event by at
// least 10× (about Batch×).
func TestPreAdmissionRoundTrips(t *testing.T) {
	addr := redistest.Addr(t)
	pfx := redistest.Prefix(t)
	const n = 5000
	for _, batch := range []int{0, 100} {
		l := mustNew(t, script.Rueidis(redistest.Client(t, addr)),
			ratelimit.Config{Prefix: pfx, Rate: 1_000_000, Burst: 10_000, Batch: batch, Timeout: 10 * time.Second})
		b, err := l.Bucket("hot" + strconv.Itoa(batch))
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if !b.Allow() {
				t.Fatalf("batch %d: Allow %d refused under a limit of 10000 at once", batch, i)
			}
		}
		l.Close() // waits for a background lease in flight
		s := l.Stats()
		per := float64(s.RoundTrips) / n
		t.Logf("batch %d: %d round trips for %d admitted (%.3f each)", batch, s.RoundTrips, n, per)
		switch {
		case batch == 0 && s.RoundTrips != n:
			t.Errorf("without pre-admission: %d round trips for %d events, want one each", s.RoundTrips, n)
		case batch > 0 && s.RoundTrips*10 > n:
			t.Errorf("batch %d: %d round trips for %d events, want at most a tenth", batch, s.RoundTrips, n)
		}
	}
}

// A Bucket is a bulkhead's RateLimiter: the bulkhead refuses at the fleet's
// rate and says when the next token comes.
func TestBulkheadAdmission(t *testing.T) {
	addr := redistest.Addr(t)
	l := mustNew(t, script.Rueidis(redistest.Client(t, addr)),
		ratelimit.Config{Prefix: redistest.Prefix(t), Rate: 2, Period: time.Minute, Burst: 2})
	b, err := l.Bucket("calls")
	if err != nil {
		t.Fatal(err)
	}
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 10, RateLimiter: b})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 2 {
		p, err := bh.Acquire(ctx)
		if err != nil {
			t.Fatalf("Acquire %d: %v", i, err)
		}
		p.Done(nil)
	}
	before := time.Now()
	_, err = bh.Acquire(ctx)
	if !errors.Is(err, bulkhead.ErrRateLimited) || !errors.Is(err, bulwark.ErrNotAttempted) {
		t.Fatalf("third Acquire = %v, want ErrRateLimited (and ErrNotAttempted)", err)
	}
	at, ok := bulwark.RetryAt(err)
	// One token every 30 s; the first of the two was taken just now.
	if !ok || at.Before(before.Add(25*time.Second)) || at.After(time.Now().Add(31*time.Second)) {
		t.Fatalf("RetryAt = %v, %v; want about 30s from now", at, ok)
	}
}
